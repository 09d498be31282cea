"""The same diabetes search on the Dask engine and on the Spark engine, side by side, as a user runs it.

Each round runs `zygarde run diabetes --engine dask|spark --algorithms rf --trials N --cv 3 --json` cold, in a
fresh work dir, alternating engines, and samples the RSS of the CLI's whole process tree (Dask workers and
their JVMs included: Dask's memory limit does not see a worker's child JVM) every 0.2 s. Prints per engine:
wall seconds, search seconds, peak tree RSS, CV and test ROC-AUC; and the Spark/Dask wall ratio (medians).

This is the small-scale part of issue 12's engine study only: the 1M-16M-row scaling runs, the 20M-row run
under a memory budget and the out-of-core paths are not built yet.

Run: .venv/bin/python benchmarks/engines.py [--rounds 2] [--trials 4]
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

import psutil


def tree_rss(root: psutil.Process) -> int:
    """Resident bytes of ``root`` and every descendant (processes that vanish mid-count are skipped)."""
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def run(engine: str, trials: int) -> dict:
    """One cold CLI run; its summary plus wall seconds and peak tree RSS."""
    cli = Path(sys.executable).with_name("zygarde")
    with tempfile.TemporaryDirectory(prefix=f"zygarde-{engine}-") as work:
        env = {**os.environ, "ZYGARDE_WORK_DIR": work}
        env.pop("MLFLOW_TRACKING_URI", None)
        command = [str(cli), "run", "diabetes", "--engine", engine, "--algorithms", "rf", "--trials", str(trials),
                   "--cv", "3", "--json"]  # fmt: skip
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak = [0]

        def sample() -> None:
            root = psutil.Process(process.pid)
            while process.poll() is None:
                try:
                    peak[0] = max(peak[0], tree_rss(root))
                except psutil.Error:
                    return
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stdout, stderr = process.communicate()
        wall = time.perf_counter() - started
        sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{engine} run failed:\n{stderr[-2000:]}")
    summary = json.loads(stdout)
    return {"wall": wall, "search": summary["search_wall_seconds"], "peak_gib": peak[0] / 2**30,
            "cv_auc": summary["cv_metrics"]["roc_auc"], "test_auc": summary["test_metrics"]["roc_auc"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--trials", type=int, default=4)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"dask": [], "spark": []}
    for round_ in range(args.rounds):
        for engine in ("dask", "spark") if round_ % 2 == 0 else ("spark", "dask"):
            outcome = run(engine, args.trials)
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


if __name__ == "__main__":
    main()
