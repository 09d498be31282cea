"""What a search is made of: trial specs in, trial results out (plain data, picklable to Dask workers)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

from sklearn.model_selection import ParameterGrid, ParameterSampler

from zygarde.algorithms import SearchSpace, get_algorithm, validate_space
from zygarde.errors import ZygardeError

SearchKind = Literal["grid", "random"]


@dataclass(frozen=True)
class TrialSpec:
    """One configuration to score: which algorithm, with which estimator parameters."""

    trial_id: int
    algorithm: str
    params: dict[str, Any]


@dataclass
class TrialResult:
    """A scored trial: CV means/stds by metric name, its resource use, and where it ran."""

    trial_id: int
    algorithm: str
    params: dict[str, Any]
    cv_mean: dict[str, float] = field(default_factory=dict)
    cv_std: dict[str, float] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)  # per-epoch values, for iterative learners
    worker: str = ""
    run_id: str | None = None
    error: str | None = None

    @property
    def fit_seconds(self) -> float:
        """Seconds the trial spent fitting and scoring its folds."""
        return self.usage.get("wall_seconds", 0.0)


def plan_trials(
    algorithms: list[str],
    search: SearchKind,
    n_trials: int,
    seed: int,
    spaces: dict[str, SearchSpace] | None = None,
) -> list[TrialSpec]:
    """Expand each algorithm's space into trials: the whole grid, or ``n_trials`` random draws per algorithm."""
    if n_trials < 1:
        raise ZygardeError(f"--trials must be at least 1, got {n_trials}.")
    if search not in ("grid", "random"):
        raise ZygardeError(f"Unknown search {search!r}; choose grid or random.")
    spaces = spaces or {}
    specs: list[TrialSpec] = []
    for name in algorithms:
        algorithm = get_algorithm(name)
        user_space = validate_space(name, spaces[name]) if name in spaces else None
        for params in expand_space(algorithm.grid, algorithm.distributions, user_space, search, n_trials, seed):
            specs.append(TrialSpec(trial_id=len(specs), algorithm=name, params=params))
    return specs


def expand_space(
    grid: SearchSpace | list[SearchSpace],
    distributions: SearchSpace | list[SearchSpace],
    user_space: SearchSpace | None,
    search: SearchKind,
    n_trials: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Parameter sets of one algorithm: its whole grid, or ``n_trials`` seeded draws from its distributions.

    A space may be a list of sub-spaces (parameters valid only together, as sklearn's search takes them).
    """
    if search == "grid":
        return [_plain(p) for p in ParameterGrid(user_space or grid)]
    space = user_space or distributions
    with warnings.catch_warnings():
        # a finite space smaller than n_trials is simply enumerated whole; sklearn warns about that
        warnings.simplefilter("ignore", UserWarning)
        return [_plain(p) for p in ParameterSampler(space, n_iter=n_trials, random_state=seed)]


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars -> Python scalars, so params log and serialise cleanly."""
    return {key: value.item() if hasattr(value, "item") else value for key, value in params.items()}


@dataclass
class SearchOutcome:
    """All trial results of a search and the wall seconds the search phase took."""

    results: list[TrialResult]
    wall_seconds: float

    @property
    def fit_seconds(self) -> float:
        """Trial fit seconds summed over trials (the work done, whatever the parallelism)."""
        return sum(r.fit_seconds for r in self.results)
