"""A Parquet table over the memory budget, trained by both of zygarde's paths side by side: `--engine dask` (XGBoost
out of core: Parquet batches into external memory) and `--engine spark` (Spark reads the table itself, caches it
memory-and-disk, MLlib's GBT fits across its executors). Rows per second of the search, whole-run wall, the
process tree's peak RSS and the test part's ROC-AUC, per engine, measured in one run.

Both search the same small grid of boosted trees (depth 5, 20 rounds; Spark: GBT maxIter 20, stepSize 0.1), one
trial each, scored on the hold-out validation part, with `--memory-limit` just above zygarde's floor, so the table
is over the budget for both. Rows per second = training rows / search wall seconds. Each run is a fresh `zygarde
run` process on the local stack (a Dask LocalCluster of 2 workers, `local[1]` Spark in each).

Run: .venv/bin/python benchmarks/spark_table.py [--rows 2000000] [--features 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from _quick import parse
from engines import measured

from zygarde.memory import human, services_floor
from zygarde.synthetic import make_table

SPACES = {
    "dask": "xgboost: {n_estimators: [20], max_depth: [5], learning_rate: [0.1]}\n",
    "spark": "gbt: {maxIter: [20], maxDepth: [5], stepSize: [0.1]}\n",
}
ALGORITHM = {"dask": "xgboost", "spark": "gbt"}


def run_engine(engine: str, table: Path, work: Path) -> dict[str, float]:
    """One `zygarde run` of ``engine`` on ``table``: its figures."""
    space = work / f"{engine}.yml"
    space.write_text(SPACES[engine])
    limit = f"{services_floor(2) // 2**20 + 64}MiB"
    command = [str(Path(sys.executable).with_name("zygarde")), "run", "--data", str(table), "--target", "label",
               "--engine", engine, "--algorithms", ALGORITHM[engine], "--search", "grid", "--space", str(space),
               "--memory-limit", limit, "--json"]  # fmt: skip
    env = {**os.environ, "ZYGARDE_WORK_DIR": str(work / engine)}
    wall, peak, out, err = measured(command, env)
    if not out:
        raise SystemExit(f"{engine} failed:\n{err[-3000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    from mlflow import MlflowClient

    parent = MlflowClient(summary["mlflow"]["tracking_uri"]).get_run(summary["mlflow"]["parent_run_id"])
    rows = parent.data.metrics["rows_train"]
    return {"train rows": rows, "search s": summary["search_wall_seconds"],
            "rows/s": rows / summary["search_wall_seconds"], "run s": wall, "peak RSS": peak,
            "test roc_auc": summary["test_metrics"]["roc_auc"]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=20)
    args = parse(parser, argv, rows=250_000, features=4)  # over the budget still: 4x9 of the data share
    with tempfile.TemporaryDirectory(prefix="zygarde-spark-table-") as folder:
        table = Path(folder) / "table"
        written = make_table(table, args.rows, args.features, seed=5, rows_per_part=500_000)
        print(f"table: {args.rows:,} rows x {args.features} features, {human(written.bytes)} of Parquet, about "
              f"{human(args.rows * (args.features + 1) * 8)} in pandas")  # fmt: skip
        results = {engine: run_engine(engine, table, Path(folder)) for engine in ("dask", "spark")}
    print(f"{'':14}" + "".join(f"{engine:>16}" for engine in results))
    for name in results["dask"]:
        cells = [results[e][name] for e in results]
        shown = [human(int(v)) if name == "peak RSS" else f"{v:,.4f}" if "auc" in name else f"{v:,.1f}" for v in cells]
        print(f"{name:14}" + "".join(f"{v:>16}" for v in shown))
    ratio = results["spark"]["rows/s"] / results["dask"]["rows/s"]
    print(f"spark / dask rows per second of the search: {ratio:.2f}")


if __name__ == "__main__":
    main()
