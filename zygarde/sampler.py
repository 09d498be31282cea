"""What to try next: samplers speak ask/tell, so any engine can run the trials they hand out.

``FixedSampler`` hands out a list planned up front (grid or random search). ``SuccessiveHalving`` races
configurations on growing budgets: it hands out a rung, waits for its results, and promotes the best
1/``eta`` (ranked by ``trials.rank``, the rule every family selects by) to the next budget. The search issue
adds Optuna's ask/tell behind the same protocol.
"""

from __future__ import annotations

import warnings
from collections import deque
from typing import Any, Literal, Protocol

from sklearn.model_selection import ParameterGrid, ParameterSampler

from zygarde.errors import ZygardeError, option
from zygarde.trials import TrialResult, TrialSpec, rank, trial_key

SearchKind = Literal["grid", "random"]
SearchSpace = dict[str, Any]


class Sampler(Protocol):
    """Hands out trials (``ask``) and learns from their results (``tell``)."""

    @property
    def total(self) -> int:
        """How many trials the search expects to run (for progress)."""
        ...

    @property
    def finished(self) -> bool:
        """True when no trial will be asked for any more, whatever is told."""
        ...

    def ask(self) -> TrialSpec | None:
        """The next trial to run, or None when nothing can run until results are told (or all is done)."""
        ...

    def tell(self, result: TrialResult) -> None:
        """A result of a trial this sampler handed out."""
        ...


class FixedSampler:
    """A list of trials planned up front (the whole grid, or random draws)."""

    def __init__(self, specs: list[TrialSpec]) -> None:
        self._pending = deque(specs)
        self.total = len(specs)

    @property
    def finished(self) -> bool:
        """True once every trial was handed out."""
        return not self._pending

    def ask(self) -> TrialSpec | None:
        """The next planned trial."""
        return self._pending.popleft() if self._pending else None

    def tell(self, result: TrialResult) -> None:
        """A fixed plan does not adapt."""

    def restore(self, done: dict[str, TrialResult]) -> list[TrialResult]:
        """Drop the planned trials a crashed attempt finished (by trial key); their results."""
        finished = [done[key] for key in (trial_key(s.algorithm, s.trial_id, s.params) for s in self._pending)
                    if key in done]  # fmt: skip
        keys = {r.key for r in finished}
        self._pending = deque(s for s in self._pending if trial_key(s.algorithm, s.trial_id, s.params) not in keys)
        return finished


class SuccessiveHalving:
    """Race ``specs`` on ``budgets``: all at the first, the best 1/``eta`` of each rung at the next.

    A promoted configuration is trained again from scratch on its larger budget (as sklearn's successive
    halving does), so rungs share no state; its trial id is new, its parameters the same.
    """

    def __init__(
        self, specs: list[TrialSpec], budgets: list[int], metric: str, greater_is_better: bool, eta: int = 3
    ) -> None:
        if not budgets or any(b < 1 for b in budgets):
            raise ZygardeError(f"Successive halving needs budgets of at least 1, got {budgets}.")
        self.budgets, self.metric, self.greater_is_better, self.eta = budgets, metric, greater_is_better, eta
        self.total = halving_trials(len(specs), len(budgets), eta)
        self._rung, self._next_id, self._out = 0, 0, 0
        self._queue: deque[TrialSpec] = deque()
        self._told: list[TrialResult] = []
        self._enqueue(specs)

    def _enqueue(self, specs: list[TrialSpec]) -> None:
        for spec in specs:
            budget = self.budgets[self._rung]
            self._queue.append(TrialSpec(self._next_id, spec.algorithm, spec.params, self._rung, budget))
            self._next_id += 1

    @property
    def finished(self) -> bool:
        """True after the last rung, or when a rung left no survivor."""
        return not self._queue and self._out == 0 and not self._told

    def ask(self) -> TrialSpec | None:
        """The next trial of the current rung; None while the rung's last results are outstanding."""
        if not self._queue:
            return None
        self._out += 1
        return self._queue.popleft()

    def tell(self, result: TrialResult) -> None:
        """Record a result; when the rung is complete, promote its best to the next budget."""
        self._out -= 1
        self._told.append(result)
        if self._queue or self._out:
            return
        ranked = rank(self._told, self.metric, self.greater_is_better)
        survivors = ranked[: max(1, len(ranked) // self.eta)]
        self._told = []
        self._rung += 1
        if self._rung < len(self.budgets):
            self._enqueue([TrialSpec(r.trial_id, r.algorithm, r.params) for r in survivors])


def halving_trials(n_configs: int, rungs: int, eta: int = 3) -> int:
    """How many trials successive halving runs for ``n_configs`` over ``rungs`` budgets (all succeeding)."""
    total, alive = 0, n_configs
    for _ in range(rungs):
        total += alive
        alive = max(1, alive // eta)
    return total


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
    return {key: value.item() if hasattr(value, "item") else value for key, value in params.items()}
