"""Search overhead, side by side on the same cores, on one 48-configuration x 5-fold XGBoost grid on diabetes.

Part 1, as users run it: ``zygarde run diabetes --search grid --space <that grid>`` cold in a subprocess (the
search stage inside the flow: Prefect API, flow engine and trial logging on the same 2 cores), then sklearn
``GridSearchCV(n_jobs=2)`` on the same training split right after; alternating, ``--rounds`` times.
Part 2, the engine alone from a warmed driver: zygarde (Dask futures + MLflow child runs), the same without
tracking, GridSearchCV(n_jobs=2) and a serial loop, alternating.

Run: .venv/bin/python benchmarks/search_overhead.py [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _quick import parse
from distributed import Client
from sklearn.model_selection import GridSearchCV

from zygarde.orchestration import local_cluster
from zygarde.search.engine import DaskEngine
from zygarde.search.samplers.fixed import FixedSampler
from zygarde.search.trials import TrialSpec
from zygarde.settings import get_settings
from zygarde.tabular.catalog import plan_trials
from zygarde.tabular.datasets import load_dataset
from zygarde.tabular.objective import CrossValidationObjective, TrialData
from zygarde.tabular.preprocess import split_holdout
from zygarde.tracking import TrialLogger, ensure_experiment, start_parent_run

GRID = {
    "xgboost": {
        "n_estimators": [100, 200],
        "max_depth": [2, 3, 4, 6],
        "learning_rate": [0.05, 0.1, 0.3],
        "subsample": [0.8, 1.0],
    }
}
QUICK_GRID = {"xgboost": {"n_estimators": [10], "max_depth": [2, 3]}}
WORKERS = 2


def cli_search(space: Path) -> dict:
    """The summary of ``zygarde run`` on the grid, cold, in a fresh work dir."""
    cli = Path(sys.executable).with_name("zygarde")
    env = {**os.environ, "ZYGARDE_WORK_DIR": tempfile.mkdtemp(prefix="zygarde-bench-")}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = ["run", "diabetes", "--algorithms", "xgboost", "--search", "grid", "--space", str(space), "--json"]
    done = subprocess.run([str(cli), *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"zygarde run failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout)


def as_users_run_it(search: GridSearchCV, X: Any, y: Any, grid: dict[str, Any], rounds: int) -> None:
    """Part 1: the search stage of the CLI's flow against GridSearchCV(n_jobs=2) measured right after it."""
    space = Path(tempfile.mkdtemp()) / "grid.yaml"
    space.write_text(yaml.safe_dump(grid))
    rows = []
    for _ in range(rounds):
        summary = cli_search(space)
        started = time.perf_counter()
        search.fit(X, y)
        rows.append((summary["search_wall_seconds"], summary["trial_fit_seconds"], time.perf_counter() - started,
                     summary["wall_seconds"]))  # fmt: skip
    print("part 1, as users run it (zygarde run ... --search grid --space, cold, inside the flow):")
    print(f"{'round':>7}{'search s':>10}{'trial s':>9}{'efficiency':>12}{'sklearn s':>11}{'ratio':>8}{'run s':>8}")
    for i, (wall, fit, sklearn, whole) in enumerate(rows, 1):
        print(
            f"{i:7}{wall:10.2f}{fit:9.2f}{fit / (WORKERS * wall):12.3f}{sklearn:11.2f}{wall / sklearn:8.3f}{whole:8.1f}"
        )
    wall, fit, sklearn = (statistics.median(r[k] for r in rows) for k in range(3))
    print(f"medians: ratio search/sklearn {wall / sklearn:.3f} (target <= 0.90), "
          f"efficiency {fit / (WORKERS * wall):.3f} (target >= 0.90)\n")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parse(parser, rounds=1)
    grid, rounds = QUICK_GRID if args.quick else GRID, args.rounds
    settings = get_settings()
    dataset = load_dataset("diabetes", data_root=settings.data_root)
    split = split_holdout(dataset, 0.2, 42, 5)
    objective = CrossValidationObjective("classification", 2, 5, 42, dataset.zero_as_missing)
    specs = plan_trials(["xgboost"], "grid", 1, 42, grid)
    data = TrialData(split.X_train, split.y_train)
    print(
        f"grid: {len(specs)} configurations x {objective.cv} folds, {WORKERS} workers, diabetes training split; "
        f"{rounds} rounds alternating (a), (a'), (b), (c), medians reported"
    )

    tracking_uri = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    experiment = ensure_experiment(tracking_uri, "benchmark")
    logger = TrialLogger(tracking_uri, experiment, start_parent_run(tracking_uri, experiment, "bench", {}, {}))
    pipeline = objective.build_pipeline(specs[0], data)
    scoring = {name: scorer for name, (scorer, _) in objective.scorers.items()}
    search = GridSearchCV(
        pipeline,
        {f"model__{k}": v for k, v in grid["xgboost"].items()},
        cv=objective.folds(),
        scoring=scoring,
        refit=False,
        n_jobs=WORKERS,
    )
    search.fit(split.X_train.head(50), split.y_train[:50])  # joblib's worker pool
    as_users_run_it(search, split.X_train, split.y_train, grid, rounds)
    print("part 2, the engine alone from a warmed driver:")
    walls: dict[str, list[float]] = {"zygarde": [], "untracked": [], "sklearn": [], "serial": []}
    fits: dict[str, list[float]] = {key: [] for key in walls}
    with (
        local_cluster(n_workers=WORKERS, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        # warm-ups: worker imports and each worker's MLflow client; joblib's worker pool
        warm = [TrialSpec(-1 - i, "xgboost", {"n_estimators": 5}) for i in range(4)]
        DaskEngine(client).run(objective, FixedSampler(warm), data, logger=logger)
        search.fit(split.X_train.head(50), split.y_train[:50])
        for _ in range(rounds):
            started = time.perf_counter()
            results = DaskEngine(client).run(objective, FixedSampler(specs), data, logger=logger)
            walls["zygarde"].append(time.perf_counter() - started)
            fits["zygarde"].append(sum(r.fit_seconds for r in results))

            started = time.perf_counter()
            untracked = DaskEngine(client).run(objective, FixedSampler(specs), data, logger=None)
            walls["untracked"].append(time.perf_counter() - started)
            fits["untracked"].append(sum(r.fit_seconds for r in untracked))

            started = time.perf_counter()
            search.fit(split.X_train, split.y_train)
            walls["sklearn"].append(time.perf_counter() - started)
            cv = search.cv_results_
            fits["sklearn"].append(float(((cv["mean_fit_time"] + cv["mean_score_time"]) * objective.cv).sum()))

            started = time.perf_counter()
            for spec in specs:
                objective(spec, data)
            walls["serial"].append(time.perf_counter() - started)
            fits["serial"].append(walls["serial"][-1])

    wall = {k: statistics.median(v) for k, v in walls.items()}
    fit = {k: statistics.median(v) for k, v in fits.items()}
    print(f"{'':28}{'wall s':>9}{'trial s':>10}{'efficiency':>12}   walls of each round")
    for key, label in [
        ("zygarde", "(a) zygarde + MLflow"),
        ("untracked", "(a') zygarde, no tracking"),
        ("sklearn", "(b) GridSearchCV(n_jobs=2)"),
        ("serial", "(c) serial loop"),
    ]:
        rounds = " ".join(f"{w:.2f}" for w in walls[key])
        print(f"{label:28}{wall[key]:9.2f}{fit[key]:10.2f}{fit[key] / (WORKERS * wall[key]):12.3f}   {rounds}")
    print(f"ratio of search walls zygarde/sklearn: {wall['zygarde'] / wall['sklearn']:.3f} (target <= 0.90)")
    efficiency = fit["zygarde"] / (WORKERS * wall["zygarde"])
    print(f"parallel efficiency of zygarde: {efficiency:.3f} (target >= 0.90)")
    tracking = (wall["zygarde"] - wall["untracked"]) * WORKERS / len(specs)
    print(f"MLflow child-run logging: ~{1000 * tracking:.0f} ms of worker time per trial (a) - (a')")
    print(f"speed-up over the serial loop: {wall['serial'] / wall['zygarde']:.2f}x")
    by_trial = sorted(results, key=lambda r: r.trial_id)  # both follow ParameterGrid's order
    gap = max(
        abs(r.scores[name] - sign * cv[f"mean_test_{name}"][i])
        for i, r in enumerate(by_trial)
        for name, (_, sign) in objective.scorers.items()
    )
    print(f"largest |CV score difference| zygarde vs GridSearchCV over all configs and metrics: {gap:.2e}")


if __name__ == "__main__":
    main()
