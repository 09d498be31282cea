"""Search overhead, side by side on the same cores: zygarde (Dask futures + MLflow child runs) vs sklearn
GridSearchCV(n_jobs=2) vs a serial loop, on one 48-configuration x 5-fold XGBoost grid on diabetes.

Run: .venv/bin/python benchmarks/search_overhead.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV

from zygarde.datasets import load_dataset
from zygarde.objectives import CrossValidationObjective, TrialData
from zygarde.preprocess import split_holdout
from zygarde.search import run_trials
from zygarde.settings import get_settings
from zygarde.tracking import TrialLogger, ensure_experiment, start_parent_run
from zygarde.trials import TrialSpec, plan_trials

GRID = {
    "xgboost": {
        "n_estimators": [100, 200],
        "max_depth": [2, 3, 4, 6],
        "learning_rate": [0.05, 0.1, 0.3],
        "subsample": [0.8, 1.0],
    }
}
WORKERS = 2


def main() -> None:
    settings = get_settings()
    dataset = load_dataset("diabetes", data_root=settings.data_root)
    split = split_holdout(dataset, 0.2, 42, 5)
    objective = CrossValidationObjective("classification", 2, 5, 42, dataset.zero_as_missing)
    specs = plan_trials(["xgboost"], "grid", 1, 42, GRID)
    data = TrialData(split.X_train, split.y_train)
    print(f"grid: {len(specs)} configurations x {objective.cv} folds, {WORKERS} workers, diabetes training split")

    tracking_uri = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    experiment = ensure_experiment(tracking_uri, "benchmark")
    logger = TrialLogger(tracking_uri, experiment, start_parent_run(tracking_uri, experiment, "bench", {}, {}))
    with (
        LocalCluster(n_workers=WORKERS, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        # warm-up: worker imports and each worker's MLflow client, paid once per cluster, not per search
        run_trials(
            client,
            objective,
            [TrialSpec(-1 - i, "xgboost", {"n_estimators": 5}) for i in range(4)],
            data,
            logger=logger,
        )
        started = time.perf_counter()
        results = run_trials(client, objective, specs, data, logger=logger)
        zygarde_wall = time.perf_counter() - started
    zygarde_fit = sum(r.fit_seconds for r in results)

    pipeline = objective.build_pipeline(specs[0], split.X_train)
    grid = {f"model__{k}": v for k, v in GRID["xgboost"].items()}
    scoring = {name: scorer for name, (scorer, _) in objective.scorers.items()}
    search = GridSearchCV(pipeline, grid, cv=objective.folds(), scoring=scoring, refit=False, n_jobs=WORKERS)
    search.fit(split.X_train.head(50), split.y_train[:50])  # warm-up of the joblib workers
    started = time.perf_counter()
    search.fit(split.X_train, split.y_train)
    sklearn_wall = time.perf_counter() - started
    cv = search.cv_results_
    sklearn_fit = float(((cv["mean_fit_time"] + cv["mean_score_time"]) * objective.cv).sum())

    started = time.perf_counter()
    for spec in specs:
        objective(spec, data)
    serial_wall = time.perf_counter() - started

    print(f"{'':28}{'wall s':>9}{'trial s':>10}{'efficiency':>12}")
    for label, wall, fit in [
        ("(a) zygarde + MLflow", zygarde_wall, zygarde_fit),
        ("(b) GridSearchCV(n_jobs=2)", sklearn_wall, sklearn_fit),
        ("(c) serial loop", serial_wall, serial_wall),
    ]:
        print(f"{label:28}{wall:9.2f}{fit:10.2f}{fit / (WORKERS * wall):12.3f}")
    print(f"ratio of search walls zygarde/sklearn: {zygarde_wall / sklearn_wall:.3f} (target <= 0.90)")
    print(f"parallel efficiency of zygarde: {zygarde_fit / (WORKERS * zygarde_wall):.3f} (target >= 0.90)")
    print(f"speed-up over the serial loop: {serial_wall / zygarde_wall:.2f}x")


if __name__ == "__main__":
    main()
