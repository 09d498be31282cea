"""Size-aware defaults: how a search scores its trials and which algorithms it can afford, from the table's
size and a short timed fit of each algorithm on samples of it.

- Above ``HOLDOUT_ROWS`` training rows (unless ``cv`` was given), trials are scored on one seeded hold-out
  part instead of K folds: K fits of a large table buy little over one.
- Above ``ESTIMATE_ROWS``, each algorithm is fitted (with its builder's defaults) on two samples of the
  preprocessed training rows; a line through the two times (a fixed part and a part per row, times log n for
  the learners that sort each split's rows: forests and exact gradient boosting) estimates one trial on the
  whole training split. An algorithm whose trial would outlast ``MAX_TRIAL_SECONDS`` (or half a time budget's
  search) is left out, with its estimate and what to use instead; the estimate of the whole search is printed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from zygarde.errors import ZygardeError, option
from zygarde.tabular.catalog import get_algorithm
from zygarde.tabular.objective import HOLDOUT_SHARE, CrossValidationObjective, TrialData

HOLDOUT_ROWS = 100_000
ESTIMATE_ROWS = 20_000
SAMPLES = (1_000, 4_000)
MAX_TRIAL_SECONDS = 1_800.0
SORTING = {"rf", "extratrees", "gbt"}  # their trees sort each split's rows: n log n
FAST = "lightgbm, hgb or xgboost"


@dataclass(frozen=True)
class CostEstimate:
    """Seconds one trial of each algorithm takes on one worker (every fold, on the whole training split)."""

    per_trial: dict[str, float]

    def search_seconds(self, trials: dict[str, int], workers: int) -> float:
        """The search's wall clock with ``trials`` of each algorithm on ``workers`` one-thread workers."""
        return sum(self.per_trial[name] * n for name, n in trials.items() if name in self.per_trial) / max(1, workers)


def holdout_for(rows: int, cv_given: bool) -> bool:
    """Whether trials score on one hold-out part: a large training split, and no ``cv`` given."""
    return rows > HOLDOUT_ROWS and not cv_given


def estimate_costs(objective: CrossValidationObjective, data: TrialData, algorithms: list[str]) -> CostEstimate:
    """Time each algorithm's fit on two seeded samples of the preprocessed training rows and extrapolate to one
    trial on the whole split (``objective.n_folds`` fits, each on its share of the rows)."""
    rng = np.random.default_rng(objective.seed)
    rows = rng.choice(len(data.y), size=min(len(data.y), SAMPLES[-1]), replace=False)
    sample = data.X.iloc[rows]
    X = objective.build_preprocessor(data.plan).fit_transform(sample, data.y[rows])
    y = data.y[rows]
    fitted_rows = len(data.y) * ((1 - HOLDOUT_SHARE) if objective.holdout else (objective.cv - 1) / objective.cv)
    per_trial = {}
    for name in algorithms:
        times = []
        for n in SAMPLES:
            estimator = get_algorithm(name).build(objective.task, objective.seed)
            started = time.perf_counter()
            estimator.fit(X[:n], y[:n])
            times.append(time.perf_counter() - started)
        slope = max(0.0, (times[1] - times[0]) / (SAMPLES[1] - SAMPLES[0]))
        fixed = max(0.0, times[0] - slope * SAMPLES[0])
        growth = math.log(fitted_rows) / math.log(SAMPLES[1]) if name in SORTING else 1.0
        per_trial[name] = objective.n_folds * (fixed + slope * fitted_rows * growth)
    return CostEstimate(per_trial)


def affordable(
    estimate: CostEstimate, algorithms: list[str], rows: int, time_budget: float | None
) -> tuple[list[str], list[str]]:
    """The algorithms whose trial fits the cap (``MAX_TRIAL_SECONDS``, or half the search's time budget), and a
    note for each one left out; a ``ZygardeError`` when none is left."""
    cap = min(MAX_TRIAL_SECONDS, time_budget / 2) if time_budget else MAX_TRIAL_SECONDS
    kept = [a for a in algorithms if estimate.per_trial.get(a, 0.0) <= cap]
    notes = [f"{a} left out: one trial on {rows:,} training rows would take about {_human(estimate.per_trial[a])} "
             f"(over {_human(cap)}); {FAST} train a table this size faster"
             for a in algorithms if a not in kept]  # fmt: skip
    if not kept:
        shown = ", ".join(f"{a} {_human(estimate.per_trial[a])}" for a in algorithms)
        raise ZygardeError(
            f"No algorithm asked for can finish a trial on {rows:,} training rows within {_human(cap)} (estimated: "
            f"{shown}). Choose {FAST} in {option('algorithms')}, or give a larger {option('time_budget')}."
        )
    return kept, notes


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe_estimate(estimate: CostEstimate, trials: dict[str, int], workers: int) -> str:
    """One line: the search's expected wall clock with ``trials`` of each algorithm, and the slowest one's
    trial."""
    slowest = max(trials, key=lambda a: estimate.per_trial.get(a, 0.0))
    return (f"estimated search: about {_human(estimate.search_seconds(trials, workers))} on {workers} workers "
            f"(a {slowest} trial: about {_human(estimate.per_trial.get(slowest, 0.0))})")  # fmt: skip
