"""What a search is made of: trial specs in, trial results out (plain data, picklable to Dask workers),
and the one rule that ranks results, for every family and for successive halving alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from zygarde.digests import digest
from zygarde.errors import ZygardeError

# why a successful trial may not win (e.g. a degenerate clustering); None when it may
Eligibility = Callable[["TrialResult"], str | None]


@dataclass(frozen=True)
class TrialSpec:
    """One configuration to score: which algorithm, with which estimator parameters, on which budget.

    ``rung`` and ``budget`` belong to the scheduler (successive halving), not to the estimator: ``budget`` is
    the resource a trial may spend (epochs for the CNN), ``None`` when the trial runs to completion.
    """

    trial_id: int
    algorithm: str
    params: dict[str, Any]
    rung: int = 0
    budget: int | None = None


def trial_key(algorithm: str, trial_id: int, params: dict[str, Any], rung: int = 0) -> str:
    """What identifies a trial across a crash and a resume: its number, algorithm, rung and exact parameters."""
    return f"{trial_id}:{algorithm}:{rung}:{digest(params)}"


@dataclass
class TrialResult:
    """A scored trial: its scores by metric name (CV fold means, a clustering's scores on all rows, a CNN's
    validation metrics: what the objective reports), their spread over folds, its resource use, where it ran."""

    trial_id: int
    algorithm: str
    params: dict[str, Any]
    rung: int = 0
    budget: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    score_std: dict[str, float] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)  # per-epoch values, for iterative learners
    worker: str = ""
    run_id: str | None = None
    error: str | None = None
    note: str = ""  # what happened to its tracking, for the terminal (a server that did not answer for a while)
    # out-of-fold predictions (an objective that keeps them, for an ensemble); dropped for all but the best
    # PREDICTIONS_KEPT of each algorithm as results arrive (``keep_best_predictions``)
    predictions: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, spec: TrialSpec, worker: str = "") -> TrialResult:
        """An empty result for ``spec``, to be filled by the objective."""
        return cls(spec.trial_id, spec.algorithm, spec.params, spec.rung, spec.budget, worker=worker)

    @property
    def spec(self) -> TrialSpec:
        """The trial this is the result of."""
        return TrialSpec(self.trial_id, self.algorithm, self.params, self.rung, self.budget)

    @property
    def fit_seconds(self) -> float:
        """Seconds the trial spent fitting and scoring its folds."""
        return self.usage.get("wall_seconds", 0.0)

    @property
    def key(self) -> str:
        """``trial_key`` of this trial."""
        return trial_key(self.algorithm, self.trial_id, self.params, self.rung)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TrialResult:
        """A result from its journal record (``journal_line``), also one written before ``scores`` and
        ``score_std`` had their names (``cv_mean``, ``cv_std``); a TypeError if it is not a result's."""
        renamed = {"cv_mean": "scores", "cv_std": "score_std"}
        return cls(**{renamed.get(key, key): value for key, value in record.items()})

    def journal_line(self) -> str:
        """This result as one line of JSON for a search's journal (``from_record(json.loads(line))`` reads it
        back): no per-epoch curves (logged once, to MLflow), no run id (a resume looks it up by ``key``) and no
        predictions (a resumed trial is no ensemble member)."""
        import json

        kept = {k: v for k, v in self.__dict__.items() if k not in ("curves", "run_id", "predictions")}
        return json.dumps(kept, default=str)


@dataclass
class SearchOutcome:
    """All trial results of a search and the wall seconds the search phase took."""

    results: list[TrialResult]
    wall_seconds: float
    facts: dict[str, float] = field(default_factory=dict)  # worker-seconds, a time budget's overshoot ...

    @property
    def fit_seconds(self) -> float:
        """Trial fit seconds summed over trials (the work done, whatever the parallelism)."""
        return sum(r.fit_seconds for r in self.results)

    @property
    def n_failed(self) -> int:
        """Trials that raised."""
        return sum(r.error is not None for r in self.results)


def rank(
    results: list[TrialResult], metric: str, greater_is_better: bool, eligible: Eligibility | None = None
) -> list[TrialResult]:
    """Successful, eligible trials that report ``metric``, best first; ties go to the earlier trial."""
    pool = [r for r in results if r.error is None and metric in r.scores and (eligible is None or eligible(r) is None)]
    sign = -1.0 if greater_is_better else 1.0
    return sorted(pool, key=lambda r: (sign * r.scores[metric], r.trial_id))


def on_top_rung(results: list[TrialResult]) -> Eligibility:
    """Configurations compare on the same budget: of a successive-halving search, only results of the highest
    rung reached may win (every result, when the search had no rungs)."""
    top = max((r.rung for r in results if r.error is None), default=0)
    return lambda r: None if r.rung == top else "a lower rung"


def best_result(
    results: list[TrialResult], metric: str, greater_is_better: bool, eligible: Eligibility | None = None
) -> TrialResult:
    """The top of ``rank``; when nothing qualifies, an error that says why the trials were turned down."""
    ranked = rank(results, metric, greater_is_better, eligible)
    if ranked:
        return ranked[0]
    failed = sorted({r.error for r in results if r.error})
    refused = sorted({eligible(r) or "" for r in results if r.error is None and eligible} - {""})
    reasons = [f"{len(failed)} distinct errors, first: {failed[0]}" if failed else ""]
    reasons += [f"not eligible: {', '.join(refused)}" if refused else ""]
    detail = "; ".join(filter(None, reasons)) or f"no trial reported {metric}"
    raise ZygardeError(f"No usable trial among {len(results)} tried ({detail}).")


PREDICTIONS_KEPT = 5  # out-of-fold predictions kept per algorithm: an ensemble's candidates


def keep_best_predictions(results: list[TrialResult], algorithm: str, metric: str, greater_is_better: bool) -> None:
    """Drop the out-of-fold predictions of all but the best ``PREDICTIONS_KEPT`` results of ``algorithm`` that
    have them (memory stays bounded whatever the number of trials)."""
    holding = [r for r in results if r.algorithm == algorithm and r.predictions is not None]
    for dropped in rank(holding, metric, greater_is_better)[PREDICTIONS_KEPT:]:
        dropped.predictions = None
    for failed in (r for r in holding if r.error is not None or metric not in r.scores):
        failed.predictions = None


def leaderboard(
    results: list[TrialResult],
    metric: str,
    greater_is_better: bool,
    *,
    prefix: str = "",
    columns: tuple[str, ...] = (),
    eligible: Eligibility | None = None,
    top: int = 10,
) -> pd.DataFrame:
    """The best ``top`` trials by ``rank``: ``{prefix}{metric}`` and its std, extra metric ``columns``, fit time,
    parameters (and the rung, when the search had rungs). ``eligible`` defaults to ``on_top_rung``, the rule
    selection applies, so the first row is the trial that could win."""
    rungs = any(r.rung for r in results)
    eligible = eligible or on_top_rung(results)
    rows = [
        {
            "trial": r.trial_id,
            "algorithm": r.algorithm,
            **({"rung": r.rung, "budget": r.budget} if rungs else {}),
            f"{prefix}{metric}": r.scores[metric],
            f"{prefix}{metric}_std": r.score_std.get(metric, float("nan")),
            **{name: r.scores.get(name, float("nan")) for name in columns},
            "fit_seconds": r.fit_seconds,
            "params": describe_params(r.params),
        }
        for r in rank(results, metric, greater_is_better, eligible)[:top]
    ]
    return pd.DataFrame(rows)


def describe_params(params: dict[str, Any]) -> str:
    """``k=v, ...`` sorted by name, floats to 4 significant digits: for tables and titles (MLflow keeps them
    whole). An ensemble's members read ``algorithm#trial xweight + ...``."""
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={_members(v)}" for k, v in sorted(params.items())
    )


def _members(value: Any) -> Any:
    if isinstance(value, list) and value and all(isinstance(m, dict) and "weight" in m for m in value):
        return " + ".join(f"{m['algorithm']}#{m['trial']} x{m['weight']:.2f}" for m in value)
    return value
