"""Search strategies side by side, median over seeds, on a generated table where one trial takes seconds:

- TPE against random search on the same budget: trials TPE needs to reach random's best CV ROC-AUC.
- ASHA against full-budget random search: wall clock to reach random's best score.

A generated table of 60,000 rows x 20 features where one XGBoost trial (3-fold CV on one thread, its declared
space) takes about 2 s here, so the search's own overheads do not swamp the comparison: `--table linear`
(`zygarde make-data`'s, a fifth of the features informative: every configuration scores within a few
thousandths, a race on noise) or `--table interacting` (products, a threshold and a sine of seven features:
configurations differ by more than their CV error). Every search runs through `DaskEngine` on one
LocalCluster of 2 one-thread workers (the window and the completion order of a real search: 4 trials in
flight, samplers told each result as it completes).

TPE (`--search tpe`) and GP (`--search gp`) vs random (`--search random`), N trials each: printed per seed,
random's best CV ROC-AUC, the trials each needed to reach it (in the order its results completed) and the
ratio; then the medians. Target (issue 13): at most 0.5.

ASHA (`--search asha`) vs random search at the full budget: the same N configurations of XGBoost's space
without its number of rounds; random fits each with 300 rounds, ASHA races them on 33, 100 and 300 rounds (a
promoted trial continues its boosters), with one bracket and with Hyperband's three. Printed per seed: the
seconds random search took to find its best (the completion of its best trial); for each ASHA, the seconds it
took to report a score at least as good, and within one standard error of it (its CV std / sqrt(folds): any
rung counts, each rung's score being a real K-fold score of a model with that many rounds), the ratio of the
latter to random's, and the whole searches' wall clock. The median ratio is the three-bracket one's. Target
(issue 13): at most 1/3.

Resume after a kill and elastic workers: benchmarks/resume.py and benchmarks/elastic.py.

Run: .venv/bin/python benchmarks/search_strategies.py [--only tpe|gp|asha] [--table linear|interacting]
     [--trials 30] [--seeds 5] [--rows 60000]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _generated import generated, interacting
from _quick import parse
from distributed import Client, LocalCluster

from zygarde.search.engine import DaskEngine
from zygarde.search.samplers.bayesian import GPSampler, TPESampler
from zygarde.search.samplers.fixed import FixedSampler
from zygarde.search.schedulers.asha import ASHA
from zygarde.search.trials import TrialResult, TrialSpec
from zygarde.tabular.algorithms import ALGORITHMS
from zygarde.tabular.catalog import plan_trials
from zygarde.tabular.objective import CrossValidationObjective, TrialData


def best_so_far(results: list[TrialResult]) -> list[float]:
    """Best CV ROC-AUC after each completed trial (failed trials keep the previous best)."""
    best, curve = float("-inf"), []
    for result in results:
        best = max(best, result.scores.get("roc_auc", float("-inf")))
        curve.append(best)
    return curve


def timed(engine: DaskEngine, objective: CrossValidationObjective, sampler: object, data: TrialData
          ) -> tuple[list[TrialResult], list[float], float]:  # fmt: skip
    """Results in completion order, the second each completed at, and the whole wall clock."""
    started, stamps = time.perf_counter(), []
    results = engine.run(objective, sampler, data, on_result=lambda _: stamps.append(time.perf_counter() - started))
    return results, stamps, time.perf_counter() - started


def bayes_against_random(engine: DaskEngine, objective: CrossValidationObjective, data: TrialData, seed: int,
                         trials: int, kinds: list[str]) -> dict[str, float]:  # fmt: skip
    """One seed of random search and then each Bayesian sampler in ``kinds`` (tpe, gp) on the same budget; each
    one's ratio (trials to reach random's best / the budget)."""
    space = {"xgboost": ALGORITHMS["xgboost"].distributions}
    random, _, random_wall = timed(engine, objective, FixedSampler(plan_trials(["xgboost"], "random", trials, seed)),
                                   data)  # fmt: skip
    target = best_so_far(random)[-1]
    seconds = statistics.mean(r.fit_seconds for r in random)
    line, ratios = [f"seed {seed}: random best {target:.4f} ({random_wall:.0f} s, {seconds:.1f} s a trial)"], {}
    for kind in kinds:
        sampler = {"tpe": TPESampler, "gp": GPSampler}[kind](space, trials, "roc_auc", True, seed)
        found, _, wall = timed(engine, objective, sampler, data)
        reached = next((i + 1 for i, value in enumerate(best_so_far(found)) if value >= target), None)
        ratios[kind] = (reached or float("inf")) / trials
        each = statistics.mean(r.fit_seconds for r in found)
        line.append(f"{kind.upper()} best {best_so_far(found)[-1]:.4f} ({wall:.0f} s, {each:.1f} s a trial), reached "
                    "random's best after "
                    f"{reached if reached else 'never in'} {trials if not reached else ''} trials: ratio "
                    f"{ratios[kind]:.2f}")  # fmt: skip
    print("; ".join(line), flush=True)
    return ratios


def asha_against_random(engine: DaskEngine, objective: CrossValidationObjective, data: TrialData, seed: int,
                        trials: int) -> float:  # fmt: skip
    """One seed of ASHA (one bracket, and Hyperband's three) vs full-budget random search on the same
    configurations; the ratio of seconds to reach random's best within one standard error, three brackets."""
    configs = plan_trials(["xgboost"], "random", trials, seed, grown=True)
    full = [TrialSpec(s.trial_id, s.algorithm, s.params, budget=300) for s in configs]
    random, random_at, random_wall = timed(engine, objective, FixedSampler(full), data)
    curve = best_so_far(random)
    target, found = curve[-1], random_at[curve.index(curve[-1])]
    best = max((r for r in random if r.error is None), key=lambda r: r.scores["roc_auc"])
    error = best.score_std["roc_auc"] / objective.cv**0.5  # one standard error of random's best CV score
    line = [f"asha seed {seed}: random best {target:.4f} (SE {error:.4f}) found after {found:.0f} s (all {trials}: "
            f"{random_wall:.0f} s)"]  # fmt: skip
    ratio = float("inf")
    for brackets in (1, 3):
        sampler = ASHA(configs, {"xgboost": [33, 100, 300]}, "roc_auc", True, brackets=brackets)
        asha, asha_at, asha_wall = timed(engine, objective, sampler, data)
        pairs = list(zip(asha_at, best_so_far(asha), strict=True))
        strict = next((at for at, value in pairs if value >= target), None)
        close = next((at for at, value in pairs if value >= target - error), None)
        ratio = (close or float("inf")) / found
        line.append(f"{brackets} bracket{'s' * (brackets > 1)}: best {pairs[-1][1]:.4f}, reached random's best "
                    f"{f'after {strict:.0f} s' if strict else 'never'}, within one SE after "
                    f"{f'{close:.0f} s' if close else 'never'}: ratio {ratio:.2f}; all {len(asha)} rungs "
                    f"{asha_wall:.0f} s ({asha_wall / random_wall:.2f} of random's)")  # fmt: skip
    print("; ".join(line), flush=True)
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["tpe", "gp", "asha"])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--table", choices=["linear", "interacting"], default="linear")
    args = parse(parser, trials=4, seeds=1, rows=3_000)
    data = generated(args.rows) if args.table == "linear" else interacting(args.rows)
    print(f"{args.table} table, {args.rows} rows x 20 features", flush=True)
    objective = CrossValidationObjective("classification", 2, 3, 0)
    kinds = [k for k in ("tpe", "gp", "asha") if args.only in (None, k)]
    ratios: dict[str, list[float]] = {kind: [] for kind in kinds}
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        engine = DaskEngine(client)
        for seed in range(args.seeds):
            bayes = [k for k in kinds if k != "asha"]
            for kind, ratio in (bayes_against_random(engine, objective, data, seed, args.trials, bayes)
                                if bayes else {}).items():  # fmt: skip
                ratios[kind].append(ratio)
            if "asha" in ratios:
                ratios["asha"].append(asha_against_random(engine, objective, data, seed, args.trials))
    for kind in ("tpe", "gp"):
        if kind in ratios:
            print(f"median trials-to-random's-best ratio ({kind.upper()} / random budget) over {args.seeds} seeds: "
                  f"{statistics.median(ratios[kind]):.2f} (target <= 0.5)")  # fmt: skip
    if "asha" in ratios:
        print(f"median seconds-to-random's-best-within-one-SE ratio (ASHA, 3 brackets / full-budget random) over "
              f"{args.seeds} seeds: "
              f"{statistics.median(ratios['asha']):.2f} (target <= 0.33)")  # fmt: skip


if __name__ == "__main__":
    main()
