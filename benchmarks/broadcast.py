"""The search data on every worker: zygarde's LocalCluster (Dask's active memory manager not started) against
Dask's default (the manager's ReduceReplicas drops the copies `scatter(broadcast=True)` made within 2 s).

The same search, side by side, alternating, ROUNDS times: LINEAR trials (elastic net, solved exactly: fitting is
quick, so preparing the folds and fetching the data weigh) of 3-fold CV on the generated table, through
`DaskEngine` on 2 one-thread workers. Printed per round: each cluster's search wall clock and the copies of
the data the workers held at the end; then the median wall clock of each and their ratio.

Run: .venv/bin/python benchmarks/broadcast.py [--rows 60000] [--trials 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import dask
from _generated import generated
from _quick import parse
from distributed import Client, LocalCluster

from zygarde.orchestration import local_cluster
from zygarde.search.engine import DaskEngine
from zygarde.search.samplers.fixed import FixedSampler
from zygarde.tabular.catalog import plan_trials
from zygarde.tabular.objective import CrossValidationObjective, TrialData


def search(cluster: LocalCluster, data: TrialData, trials: int) -> tuple[float, int]:
    """Wall seconds of the search, and how many workers held the data at its end."""
    with Client(cluster) as client:
        engine = DaskEngine(client)
        specs = plan_trials(["linear"], "random", trials, seed=0)
        started = time.perf_counter()
        engine.run(CrossValidationObjective("classification", 2, 3, 0), FixedSampler(specs), data)
        wall = time.perf_counter() - started
        held = client.run_on_scheduler(
            lambda dask_scheduler: max((len(t.who_has or ()) for t in dask_scheduler.tasks.values()
                                        if "TrialData" in str(t.key)), default=0))  # fmt: skip
    return wall, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parse(parser, rows=2_000, trials=2, rounds=1)
    data = generated(args.rows)
    options = {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": None}
    walls: dict[str, list[float]] = {"zygarde": [], "dask default": []}
    for round_ in range(args.rounds):
        for name in walls:
            if name == "zygarde":
                cluster = local_cluster(**options)
            else:
                with dask.config.set({"distributed.scheduler.active-memory-manager.start": True}):
                    cluster = LocalCluster(host="127.0.0.1", **options)
            with cluster:
                wall, held = search(cluster, data, args.trials)
            walls[name].append(wall)
            print(f"round {round_}: {name}: {args.trials} trials in {wall:.1f} s, data on {held} of 2 workers at the "
                  "end", flush=True)  # fmt: skip
    ours, default = (statistics.median(walls[name]) for name in walls)
    print(f"median search wall: zygarde {ours:.1f} s, Dask's default {default:.1f} s: {default / ours:.2f}x")


if __name__ == "__main__":
    main()
