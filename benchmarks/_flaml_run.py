"""FLAML's side of benchmarks/automl.py, run by the FLAML venv's Python (no zygarde import): fit
``AutoML(time_budget=B)`` on the training rows, write the test rows' predictions, print one JSON line.

Usage: _flaml_run.py TRAIN TEST TARGET TASK BUDGET SEED OUT.npy
"""

import json
import sys
import time

import numpy as np
import pandas as pd
from flaml import AutoML

train_path, test_path, target, task, budget, seed, out = sys.argv[1:8]
train, test = pd.read_parquet(train_path), pd.read_parquet(test_path)
y = train.pop(target)
test = test.drop(columns=[target])
automl = AutoML()
metric = "r2" if task == "regression" else ("roc_auc" if y.nunique() == 2 else "roc_auc_ovr")
started = time.perf_counter()
automl.fit(train, y, task=task, metric=metric, time_budget=float(budget), seed=int(seed), verbose=0)
fitted = time.perf_counter() - started
output = automl.predict(test) if task == "regression" else automl.predict_proba(test)
np.save(out, np.asarray(output, dtype=float))
print(json.dumps({"wall_seconds": time.perf_counter() - started, "fit_seconds": fitted, "best": automl.best_estimator}))
