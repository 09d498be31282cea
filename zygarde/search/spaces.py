"""Search spaces: an algorithm's declared grid and distributions, expanded into numbered trials (scikit-learn's
``ParameterGrid`` and ``ParameterSampler`` do the expanding)."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from sklearn.model_selection import ParameterGrid, ParameterSampler

from zygarde.errors import ZygardeError, option
from zygarde.search.trials import TrialSpec

SearchKind = Literal["grid", "random"]
SearchSpace = dict[str, Any]


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
    if n_trials < 1:
        raise ZygardeError(f"{option('trials')} must be at least 1, got {n_trials}.")
    if search not in ("grid", "random"):
        raise ZygardeError(f"Unknown search {search!r}; choose grid or random.")
    if search == "grid":
        return [_plain(p) for p in ParameterGrid(user_space or grid)]
    space = user_space or distributions
    with warnings.catch_warnings():
        # a finite space smaller than n_trials is simply enumerated whole; sklearn warns about that
        warnings.simplefilter("ignore", UserWarning)
        return [_plain(p) for p in ParameterSampler(space, n_iter=n_trials, random_state=seed)]


def numbered(drawn: list[tuple[str, dict[str, Any]]]) -> list[TrialSpec]:
    """(algorithm, params) pairs as trials with ids 0..n-1."""
    return [TrialSpec(trial_id=i, algorithm=name, params=params) for i, (name, params) in enumerate(drawn)]


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """numpy scalars -> Python scalars, so params log and serialise cleanly."""
    return {key: value.item() if isinstance(value, np.generic) else value for key, value in params.items()}
