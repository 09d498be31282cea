"""Greedy ensemble selection (Caruana et al. 2004; AutoGluon's WeightedEnsemble_L2, auto-sklearn's) over the
trials' out-of-fold predictions.

Each round adds, with replacement, the candidate whose addition gives the best mean-of-folds score of the
selection metric (the score every trial is ranked by); the ensemble is the best prefix of the rounds, so it is
never worse in CV than its best member, which is the first pick. Its members are refitted from their
configurations on the whole training split and registered as one model (``learners.WeightedEnsemble*``).
With a time budget, no round starts after a quarter of what is left of it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from zygarde.search.trials import Eligibility, TrialResult, rank
from zygarde.tabular.evaluate import metric_of, prediction_metrics
from zygarde.tabular.learners import ENSEMBLE
from zygarde.tabular.objective import fold_summary

if TYPE_CHECKING:
    from zygarde.tabular.objective import CrossValidationObjective, TrialData

ROUNDS = 25
CANDIDATES = 20  # the best this many trials (that kept their predictions) are the candidates

log = logging.getLogger(__name__)


def select_ensemble(
    results: list[TrialResult],
    data: TrialData,
    objective: CrossValidationObjective,
    eligible: Eligibility,
    refit_seconds: float | None = None,
) -> TrialResult | None:
    """The greedy ensemble of the eligible results that kept their out-of-fold predictions, scored like a
    trial (every metric, mean and std over the same folds); None with fewer than two candidates, or when
    refitting its members would take longer than ``refit_seconds`` (a trial's refit: a fold's fit on all the
    training rows, estimated from its CV fit time)."""
    started = time.perf_counter()

    def refit(result: TrialResult) -> float:
        return result.fit_seconds / max(1, objective.n_folds - 1) if objective.n_folds > 1 else result.fit_seconds

    limit = float("inf") if refit_seconds is None else refit_seconds
    candidates = [r for r in rank(results, objective.metric, objective.greater_is_better, eligible)
                  if r.predictions is not None and refit(r) <= limit / 2][:CANDIDATES]  # fmt: skip
    if len(candidates) < 2:
        return None
    folds = [test for _, test in objective.folds().split(data.X, data.y)]
    sign = 1.0 if objective.greater_is_better else -1.0

    def score(output: np.ndarray) -> float:
        return sign * float(np.mean([metric_of(objective.metric, data.y[t], output[t]) for t in folds]))

    chosen = greedy_selection([r.predictions for r in candidates], score, deadline=time.perf_counter() + limit / 4)
    counts = Counter(chosen)
    if sum(refit(candidates[i]) for i in counts) > limit - (time.perf_counter() - started):
        log.info("no ensemble: refitting its %d members would take longer than the budget left", len(counts))
        return None
    members = [{"trial": candidates[i].trial_id, "algorithm": candidates[i].algorithm,
                "params": candidates[i].params, "budget": candidates[i].budget, "weight": n / len(chosen)}
               for i, n in sorted(counts.items())]  # fmt: skip
    blended = sum(candidates[i].predictions * (n / len(chosen)) for i, n in counts.items())
    per_fold = [prediction_metrics(data.y[t], blended[t], objective.task) for t in folds]
    mean, std = fold_summary(per_fold)
    mean["predict_us_per_row"] = sum(candidates[i].scores.get("predict_us_per_row", 0.0) for i in counts)  # all run
    return TrialResult(
        trial_id=max(r.trial_id for r in results) + 1,
        algorithm=ENSEMBLE,
        params={"members": members},
        scores=mean,
        score_std=std,
        usage={"wall_seconds": time.perf_counter() - started},
    )


def greedy_selection(
    candidates: list[np.ndarray], score: Any, rounds: int = ROUNDS, deadline: float = float("inf")
) -> list[int]:
    """Indices of ``candidates`` (predictions of equal shape), chosen with replacement: each round the one
    whose addition to the running mean scores highest (ties: the earlier); the best-scoring prefix (ties: the
    shortest). ``score(mean predictions)``: higher is better. No round starts after ``deadline``
    (``time.perf_counter()`` seconds)."""
    chosen: list[int] = []
    total: np.ndarray | None = None
    trajectory: list[float] = []
    for _ in range(rounds):
        if chosen and time.perf_counter() > deadline:
            break
        tried = [score(c if total is None else (total + c) / (len(chosen) + 1)) for c in candidates]
        pick = int(np.argmax(tried))
        chosen.append(pick)
        total = candidates[pick].astype(np.float64) if total is None else total + candidates[pick]
        trajectory.append(tried[pick])
    return chosen[: int(np.argmax(trajectory)) + 1]
