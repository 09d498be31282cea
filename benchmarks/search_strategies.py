"""Search strategies side by side: TPE against random search on the same budget, median over seeds.

A generated table (`zygarde make-data`: 60,000 rows x 20 features, a fifth informative) where one XGBoost
trial (3-fold CV on one thread, its declared space) takes about 2 s here, so the search's own overheads do
not swamp the comparison. Per seed, random search (`--search random --trials N`) and TPE (`--search tpe`)
each run N trials through `DaskEngine` on a LocalCluster of 2 one-thread workers (the window and the
completion order of a real search: TPE is told each result as it completes, 4 trials in flight). Printed per
seed: random's best CV ROC-AUC, the trials TPE needed to reach it (in the order TPE's results completed),
and the ratio; then the median ratio over the seeds. Target (issue 13): at most 0.5.

Not measured here yet (issue 13 builds them next): ASHA against full-budget random search, resume after a
kill, elastic 1 -> 4 workers.

Run: .venv/bin/python benchmarks/search_strategies.py [--trials 30] [--seeds 5] [--rows 60000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster

from zygarde.bayes import TPESampler
from zygarde.engine import DaskEngine
from zygarde.sampler import FixedSampler
from zygarde.synthetic import make_table
from zygarde.tables import read_table
from zygarde.tabular.algorithms import ALGORITHMS, plan_trials
from zygarde.tabular.objective import CrossValidationObjective, TrialData
from zygarde.trials import TrialResult


def best_so_far(results: list[TrialResult]) -> list[float]:
    """Best CV ROC-AUC after each completed trial (failed trials keep the previous best)."""
    best, curve = float("-inf"), []
    for result in results:
        best = max(best, result.cv_mean.get("roc_auc", float("-inf")))
        curve.append(best)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=60_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zygarde-strategies-") as scratch:
        table = read_table(Path(make_table(Path(scratch) / "t", args.rows, 20, seed=7).path))
    data = TrialData(table.drop(columns="label"), table["label"].to_numpy())
    objective = CrossValidationObjective("classification", 2, 3, 0)
    space = {"xgboost": ALGORITHMS["xgboost"].distributions}
    ratios = []
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        engine = DaskEngine(client)
        for seed in range(args.seeds):
            started = time.perf_counter()
            random = engine.run(objective, FixedSampler(plan_trials(["xgboost"], "random", args.trials, seed)), data)
            random_wall = time.perf_counter() - started
            started = time.perf_counter()
            tpe = engine.run(objective, TPESampler(space, args.trials, "roc_auc", True, seed), data)
            tpe_wall = time.perf_counter() - started
            target = best_so_far(random)[-1]
            reached = next((i + 1 for i, value in enumerate(best_so_far(tpe)) if value >= target), None)
            ratio = (reached or float("inf")) / args.trials
            ratios.append(ratio)
            seconds = statistics.mean(r.fit_seconds for r in random)
            print(f"seed {seed}: random best {target:.4f} ({random_wall:.0f} s, {seconds:.1f} s a trial); "
                  f"TPE best {best_so_far(tpe)[-1]:.4f} ({tpe_wall:.0f} s), reached random's best after "
                  f"{reached if reached else 'never in'} {args.trials if not reached else ''} trials: "
                  f"ratio {ratio:.2f}", flush=True)  # fmt: skip
    print(f"median trials-to-random's-best ratio (TPE / random budget) over {args.seeds} seeds: "
          f"{statistics.median(ratios):.2f} (target <= 0.5)")  # fmt: skip


if __name__ == "__main__":
    main()
