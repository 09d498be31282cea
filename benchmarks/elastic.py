"""Elastic workers: one random search on an adaptive LocalCluster that starts with one worker and may grow to
four (what `--min-workers 1 --max-workers 4` runs: zygarde's `local_cluster`, Dask's `adapt` with its default
pace), against a fixed single worker and a fixed four (the ceiling). The same Random Forest trials on a
generated table (3-fold CV, one thread a trial), through `DaskEngine`, whose in-flight window is re-read as
workers join. Cluster start-up is outside the timing; workers that `adapt` starts during the search are in it.
Printed per cluster: search wall clock, worker-seconds held, the most workers, and speed-up over one worker.
Target (issue 13): adaptive 1 -> 4 at least 2x faster than one worker, on a machine with 4+ cores.

Run: .venv/bin/python benchmarks/elastic.py [--trials 16] [--rows 10000]  (about 9 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import os
import time

from _generated import generated
from _quick import parse
from distributed import Client

from zygarde.orchestration import local_cluster
from zygarde.search.engine import DaskEngine
from zygarde.search.samplers.fixed import FixedSampler
from zygarde.tabular.catalog import plan_trials
from zygarde.tabular.objective import CrossValidationObjective, TrialData


def search(data: TrialData, trials: int, start: int, most: int) -> dict[str, float]:
    """One random search on a cluster of ``start`` one-thread workers that may grow to ``most``."""
    with local_cluster(n_workers=start, threads_per_worker=1, dashboard_address=None) as cluster:
        if most > start:
            cluster.adapt(minimum=start, maximum=most)
        with Client(cluster) as client:
            engine = DaskEngine(client)
            sampler = FixedSampler(plan_trials(["rf"], "random", trials, seed=0))
            started = time.perf_counter()
            results = engine.run(CrossValidationObjective("classification", 2, 3, 0), sampler, data)
            wall = time.perf_counter() - started
    assert len(results) == trials and not any(r.error for r in results)
    return {"wall": wall, **engine.capacity}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parse(parser, trials=2, rows=600)
    data = generated(args.rows)
    print(f"{os.cpu_count()} cores; {args.trials} Random Forest trials, 3-fold CV on {args.rows} rows", flush=True)
    runs = {}
    for label, start, most in (("fixed 1 worker", 1, 1), ("adaptive 1 -> 4", 1, 4), ("fixed 4 workers", 4, 4)):
        runs[label] = row = search(data, args.trials, start, most)
        print(f"{label}: {row['wall']:.1f} s, {row['search_worker_seconds']:.0f} worker-seconds, at most "
              f"{row['search_workers_max']:.0f} workers; {runs['fixed 1 worker']['wall'] / row['wall']:.2f}x "
              "one worker's speed", flush=True)  # fmt: skip
    print(f"adaptive 1 -> 4 vs one worker: {runs['fixed 1 worker']['wall'] / runs['adaptive 1 -> 4']['wall']:.2f}x "
          f"(target >= 2 on 4+ cores)")  # fmt: skip


if __name__ == "__main__":
    main()
