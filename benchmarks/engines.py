"""Engine study: one workload on pandas, Dask, Spark and zygarde's out-of-core path, by table size; and the
diabetes search on the Dask and Spark engines.

`scale` (the default) generates one synthetic table (`zygarde make-data`, 1M-row parts) and runs the same
workload on its first 1M, 4M and 16M rows with each engine: read the Parquet files, hold out 20% of rows,
impute missing values with statistics of the training rows, fit XGBoost (hist, 50 rounds, depth 6, 2 threads),
score ROC-AUC on the held-out rows.

- pandas: the whole table in one process (pyarrow -> pandas, scikit-learn's median imputer, XGBClassifier);
- dask: `dask.dataframe` + `xgboost.dask` on a LocalCluster of 2 one-thread workers (mean imputation);
- spark: Spark ML's median Imputer + `xgboost.spark` (2 barrier tasks) in a `local[2]` session;
- outofcore: zygarde's path: a `DataIter` over Parquet batches into an `ExtMemQuantileDMatrix`; XGBoost routes
  missing values itself (no imputation pass: it would be one more read of the table).

`xgboost.dask` and `xgboost.spark` hold every partition in worker memory: they scale out, not out of core.
Then a 20M-row run under a memory budget (default 4 GiB) with the out-of-core path and with pandas. Every run is
a fresh subprocess; its peak RSS is that of its whole process tree (Dask workers, JVMs and Python UDF workers
included), sampled every 0.1 s, and a run whose tree passes the budget is stopped and reported as not fitting.
Prints wall seconds, peak RSS, AUC, and per engine the slope of log(wall) against log(rows); writes a PNG.

`diabetes` runs `zygarde run diabetes --engine dask|spark --algorithms rf --json` cold, alternating engines,
and prints the Spark/Dask wall ratio at this small scale.

Run: .venv/bin/python benchmarks/engines.py scale [--sizes 1,4,16] [--budget-rows 20] [--budget 4GiB] [--quick]
     .venv/bin/python benchmarks/engines.py diabetes [--rounds 2] [--trials 4] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from _quick import HELP as QUICK

ROUNDS, DEPTH, TEST_SHARE, SEED, THREADS = 50, 6, 0.2, 42, 2
ENGINES = ("pandas", "dask", "spark", "outofcore")


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of ``root`` and every descendant (processes that vanish mid-count are skipped)."""
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def measured(command: list[str], env: dict[str, str], budget: int | None = None) -> tuple[float, int, str, str]:
    """Run ``command``; (wall seconds, peak tree RSS, stdout, stderr). Over ``budget``: the tree is killed and
    stdout is empty."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, over = [0], [False]

    def sample() -> None:
        root = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], tree_rss(root))
                if budget and peak[0] > budget:
                    over[0] = True
                    for child in [*root.children(recursive=True), root]:
                        child.kill()
                    return
            except psutil.Error:
                return
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    return wall, peak[0], "" if over[0] else stdout, stderr


# --- the workload, once per engine (runs in a child process: `engines.py work ENGINE ROWS_IN_MILLIONS DIR`) ---


def _held_out(files: list[str]) -> np.ndarray:
    """The out-of-core path's own row assignment (a hash of file and row number), for pandas too."""
    import pyarrow.parquet as pq

    from zygarde.tabular.outofcore.parquet import _uniform

    return np.concatenate(
        [_uniform(SEED, i, 0, pq.ParquetFile(f).metadata.num_rows) < TEST_SHARE for i, f in enumerate(files)]
    )


def work_pandas(files: list[str]) -> float:
    import pyarrow.parquet as pq
    from sklearn.impute import SimpleImputer
    from sklearn.metrics import roc_auc_score
    from xgboost import XGBClassifier

    frame = pq.read_table(files).to_pandas()
    test = _held_out(files)
    y = frame.pop("label").to_numpy()
    imputer = SimpleImputer(strategy="median").fit(frame[~test])
    model = XGBClassifier(n_estimators=ROUNDS, max_depth=DEPTH, tree_method="hist", n_jobs=THREADS)
    model.fit(imputer.transform(frame[~test]), y[~test])
    return float(roc_auc_score(y[test], model.predict_proba(imputer.transform(frame[test]))[:, 1]))


def work_dask(files: list[str]) -> float:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster
    from sklearn.metrics import roc_auc_score
    from xgboost import dask as dxgb

    with LocalCluster(n_workers=THREADS, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster):
        frame = dd.read_parquet(files)
        train, test = frame.random_split([1 - TEST_SHARE, TEST_SHARE], random_state=SEED)
        X, y = train.drop(columns="label"), train["label"]
        means = X.mean().compute()
        model = dxgb.DaskXGBClassifier(n_estimators=ROUNDS, max_depth=DEPTH, tree_method="hist")
        model.fit(X.fillna(means), y)
        proba = model.predict_proba(test.drop(columns="label").fillna(means))
        return float(roc_auc_score(test["label"].compute(), proba.compute()[:, 1]))


def work_spark(files: list[str]) -> float:
    os.environ["ZYGARDE_SPARK_MASTER"] = f"local[{THREADS}]"
    os.environ["ZYGARDE_SPARK_DRIVER_MEMORY"] = "2g"
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Imputer, VectorAssembler
    from xgboost.spark import SparkXGBClassifier

    from zygarde.tabular.spark.metrics import binary_auc
    from zygarde.tabular.spark.session import spark_session

    frame = spark_session().read.parquet(*files)
    train, test = frame.randomSplit([1 - TEST_SHARE, TEST_SHARE], seed=SEED)
    features = [c for c in frame.columns if c != "label"]
    pipeline = Pipeline(stages=[
        Imputer(inputCols=features, outputCols=features, strategy="median"),
        VectorAssembler(inputCols=features, outputCol="features", handleInvalid="keep"),
        SparkXGBClassifier(features_col="features", label_col="label", num_workers=THREADS, n_estimators=ROUNDS,
                           max_depth=DEPTH, tree_method="hist", verbose=False),
    ])  # fmt: skip
    return binary_auc(pipeline.fit(train).transform(test))


def work_outofcore(files: list[str], budget: int | None) -> float:
    import pyarrow.parquet as pq
    from sklearn.metrics import roc_auc_score

    from zygarde.memory import MemoryBudget
    from zygarde.tabular.outofcore.boosting import train_booster
    from zygarde.tabular.outofcore.parquet import ParquetSplit

    features = tuple(c for c in pq.read_schema(files[0]).names if c != "label")
    rows = MemoryBudget(budget or psutil.virtual_memory().available, 1).batch_rows(len(features) + 1)
    with tempfile.TemporaryDirectory(prefix="zygarde-ooc-") as scratch:
        split = ParquetSplit(tuple(files), features, "label", "classification", (0, 1), SEED, TEST_SHARE, 0.0,
                             rows, scratch)  # fmt: skip
        booster = train_booster(split, "fit", {"n_estimators": ROUNDS, "max_depth": DEPTH}, THREADS)
        y, proba = split.predict(booster, "test")
    return float(roc_auc_score(y, proba[:, 1]))


def work(engine: str, files: list[str], budget: int | None) -> None:
    started = time.perf_counter()
    if engine == "outofcore":
        auc = work_outofcore(files, budget)
    else:
        auc = {"pandas": work_pandas, "dask": work_dask, "spark": work_spark}[engine](files)
    print(json.dumps({"auc": auc, "inner_seconds": time.perf_counter() - started}))


# --- the study ---


def slope(rows: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) against log(rows)."""
    return float(np.polyfit(np.log(rows), np.log(seconds), 1)[0])


def scale(args: argparse.Namespace) -> None:
    from zygarde.memory import human, parse_size
    from zygarde.synthetic import make_table

    budget = parse_size(args.budget)
    sizes = [int(s) for s in args.sizes.split(",")]
    biggest, unit = max(*sizes, args.budget_rows), args.unit
    table = Path(args.data) / f"engines-{biggest}x{unit}"
    if not table.exists():
        print(f"writing {biggest * unit:,} rows x 20 features to {table} ...", flush=True)
        make_table(table, biggest * unit, 20, seed=SEED, rows_per_part=unit)
    parts = sorted(str(p) for p in table.glob("part-*.parquet"))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    results: dict[str, list[dict]] = {e: [] for e in args.engines.split(",")}
    runs = [(m, e, None) for m in sizes for e in results] + [(args.budget_rows, e, budget)
                                                          for e in ("outofcore", "pandas")]  # fmt: skip
    for steps, engine, limit in runs:
        files = parts[:steps]
        command = [sys.executable, __file__, "work", engine, str(limit or 0), *files]
        wall, peak, stdout, stderr = measured(command, env, limit)
        outcome = {"rows": steps * unit, "wall": wall, "peak": peak, "budget": limit,
                   "fits": bool(stdout), "auc": json.loads(stdout)["auc"] if stdout else None}  # fmt: skip
        if not stdout and not limit:
            raise SystemExit(f"{engine} at {steps * unit:,} rows failed:\n{stderr[-3000:]}")
        if limit is None:
            results[engine].append(outcome)
        label = f"budget {human(limit)}" if limit else "no budget"
        shown = f"auc {outcome['auc']:.4f}" if outcome["fits"] else f"stopped: over {human(limit or 0)}"
        print(f"{engine:>9} {steps * unit:>11,} rows ({label}): wall {wall:7.1f} s  peak tree RSS {human(peak):>10}  "
              f"{shown}", flush=True)  # fmt: skip
        if limit:
            results.setdefault(f"{engine} @ budget", []).append(outcome)
    print("\nslope of log(wall) vs log(rows), 1M..16M:")
    for engine, outcomes in results.items():
        if "@" not in engine and len(outcomes) > 1:
            print(f"  {engine:>9}: {slope([o['rows'] for o in outcomes], [o['wall'] for o in outcomes]):.2f}")
    if args.plot:
        plot(results, budget, Path(args.plot))
        print(f"plot: {args.plot}")


def plot(results: dict[str, list[dict]], budget: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for engine, outcomes in results.items():
        fits = [o for o in outcomes if o["fits"]]  # a run stopped at the budget has no time to show
        marker = "s" if "@" in engine else "o"
        if fits:
            left.plot([o["rows"] for o in fits], [o["wall"] for o in fits], marker=marker, label=engine)
        right.plot([o["rows"] for o in outcomes], [o["peak"] / 2**30 for o in outcomes],
                   marker=marker if fits else "x", label=engine if fits else f"{engine} (stopped)")  # fmt: skip
    right.axhline(budget / 2**30, color="grey", linestyle="--", label="budget")
    left.set(xscale="log", yscale="log", xlabel="rows", ylabel="wall seconds", title="Time (log-log)")
    right.set(xscale="log", xlabel="rows", ylabel="peak RSS of the process tree (GiB)", title="Memory")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def diabetes_run(engine: str, trials: int) -> dict:
    """One cold CLI run of the diabetes search; its summary plus wall seconds and peak tree RSS."""
    cli = Path(sys.executable).with_name("zygarde")
    with tempfile.TemporaryDirectory(prefix=f"zygarde-{engine}-") as work_dir:
        env = {**os.environ, "ZYGARDE_WORK_DIR": work_dir}
        env.pop("MLFLOW_TRACKING_URI", None)
        command = [str(cli), "run", "diabetes", "--engine", engine, "--algorithms", "rf", "--trials", str(trials),
                   "--cv", "3", "--json"]  # fmt: skip
        wall, peak, stdout, stderr = measured(command, env)
    if not stdout:
        raise SystemExit(f"{engine} run failed:\n{stderr[-2000:]}")
    summary = json.loads(stdout)
    return {"wall": wall, "search": summary["search_wall_seconds"], "peak_gib": peak / 2**30,
            "cv_auc": summary["cv_metrics"]["roc_auc"], "test_auc": summary["test_metrics"]["roc_auc"]}  # fmt: skip


def diabetes(args: argparse.Namespace) -> None:
    results: dict[str, list[dict]] = {"dask": [], "spark": []}
    for round_ in range(args.rounds):
        for engine in ("dask", "spark") if round_ % 2 == 0 else ("spark", "dask"):
            outcome = diabetes_run(engine, args.trials)
            results[engine].append(outcome)
            print(f"round {round_ + 1} {engine:>5}: wall {outcome['wall']:6.1f} s  search {outcome['search']:6.1f} s  "
                  f"peak tree RSS {outcome['peak_gib']:.2f} GiB  cv roc_auc {outcome['cv_auc']:.4f}  "
                  f"test roc_auc {outcome['test_auc']:.4f}", flush=True)  # fmt: skip
    median = {e: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for e, rs in results.items()}
    for engine, values in median.items():
        print(f"median {engine:>5}: wall {values['wall']:.1f} s, search {values['search']:.1f} s, "
              f"peak tree RSS {values['peak_gib']:.2f} GiB")  # fmt: skip
    print(
        f"spark / dask: wall {median['spark']['wall'] / median['dask']['wall']:.2f}x, "
        f"search {median['spark']['search'] / median['dask']['search']:.2f}x, "
        f"peak tree RSS {median['spark']['peak_gib'] / median['dask']['peak_gib']:.2f}x"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "work":  # one measured workload, in its own process
        engine, limit, *files = sys.argv[2:]
        work(engine, files, int(limit) or None)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    study = commands.add_parser("scale", help="the workload by engine and table size")
    study.add_argument("--sizes", default="1,4,16", help="millions of rows")
    study.add_argument("--budget-rows", type=int, default=20, help="millions of rows of the budgeted run")
    study.add_argument("--budget", default="4GiB")
    study.add_argument("--engines", default=",".join(ENGINES))
    study.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "zygarde-bench"))
    study.add_argument("--plot", default="benchmarks/results/engines.png")
    study.add_argument("--unit", type=int, default=1_000_000, help="rows per size step (one Parquet part)")
    small = commands.add_parser("diabetes", help="the diabetes search, Dask vs Spark engine")
    small.add_argument("--rounds", type=int, default=2)
    small.add_argument("--trials", type=int, default=4)
    for command in (study, small):
        command.add_argument("--quick", action="store_true", help=QUICK)
    args = parser.parse_args(sys.argv[1:] or ["scale"])
    if args.quick:
        vars(args).update({"sizes": "1,2", "budget_rows": 2, "budget": "2GiB", "unit": 20_000, "plot": "",
                           "data": tempfile.mkdtemp(prefix="zygarde-bench-")} if args.command == "scale"
                          else {"rounds": 1, "trials": 1})  # fmt: skip
    (diabetes if args.command == "diabetes" else scale)(args)


if __name__ == "__main__":
    main()
