"""XGBoost's external memory over a split's Parquet batches: a ``DataIter`` into an ``ExtMemQuantileDMatrix``
(its quantised pages in a disk cache, once per process), and the boosters trained on it."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zygarde.tabular.outofcore.parquet import ParquetSplit, Part


class _Batches:
    """An ``xgboost.DataIter`` over one part of a split (built lazily: xgboost is imported where trials run)."""

    @staticmethod
    def iterator(split: ParquetSplit, part: Part, cache_prefix: str) -> Any:
        import xgboost as xgb

        class Batches(xgb.DataIter):
            def __init__(self) -> None:
                self._batches: Iterator[tuple[np.ndarray, np.ndarray]] | None = None
                super().__init__(cache_prefix=cache_prefix)

            def next(self, input_data: Any) -> bool:
                if self._batches is None:
                    self._batches = split.batches(part)
                try:
                    X, y = next(self._batches)
                except StopIteration:
                    return False
                input_data(data=X, label=y)
                return True

            def reset(self) -> None:
                self._batches = None

        return Batches()


_MATRICES: dict[tuple[Any, ...], Any] = {}  # per process: (split, part, max_bin) -> ExtMemQuantileDMatrix


def external_matrix(split: ParquetSplit, part: Part, max_bin: int = 256, nthread: int = 1) -> Any:
    """This process's ``ExtMemQuantileDMatrix`` of ``part``: built once (its pages cached on disk under the
    split's scratch folder), reused by every trial that lands here."""
    import xgboost as xgb

    key = (split, part, max_bin)
    if key not in _MATRICES:
        Path(split.scratch).mkdir(parents=True, exist_ok=True)
        cache = tempfile.mkdtemp(prefix="xgb-cache-", dir=split.scratch)
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        iterator = _Batches.iterator(split, part, str(Path(cache) / "pages"))
        _MATRICES[key] = xgb.ExtMemQuantileDMatrix(iterator, max_bin=max_bin, nthread=nthread)
    return _MATRICES[key]


def booster_params(task: str, n_classes: int, seed: int, params: dict[str, Any], nthread: int) -> dict[str, Any]:
    """XGBoost's native parameters from the sklearn-style names the search spaces use."""
    native = {k: v for k, v in params.items() if k != "n_estimators"}
    if task == "regression":
        objective: dict[str, Any] = {"objective": "reg:squarederror"}
    elif n_classes == 2:
        objective = {"objective": "binary:logistic"}
    else:
        objective = {"objective": "multi:softprob", "num_class": n_classes}
    return {**objective, "tree_method": "hist", "seed": seed, "nthread": nthread, "verbosity": 0, **native}


def train_booster(split: ParquetSplit, part: Part, params: dict[str, Any], nthread: int) -> Any:
    """An XGBoost booster trained out of core on ``part`` with sklearn-style ``params``."""
    import xgboost as xgb

    matrix = external_matrix(split, part, int(params.get("max_bin", 256)), nthread)
    native = booster_params(split.task, len(split.class_values), split.seed, params, nthread)
    return xgb.train(native, matrix, num_boost_round=int(params.get("n_estimators", 100)))


def wrap_booster(booster: Any, split: ParquetSplit) -> Any:
    """XGBoost's scikit-learn model around ``booster``: predicts on pandas rows, feature names checked."""
    from xgboost import XGBClassifier, XGBRegressor

    booster.feature_names = list(split.features)
    model = XGBClassifier() if split.task == "classification" else XGBRegressor()
    model.load_model(bytearray(booster.save_raw("json")))
    return model
