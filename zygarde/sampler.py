"""What to try next: samplers speak ask/tell, so any engine can run the trials they hand out.

``FixedSampler`` hands out a list planned up front (grid or random search). ``ASHA`` races configurations
on growing budgets (trees, boosting rounds, epochs, rows), promoting the best 1/``eta`` of each rung
(ranked by ``trials.rank``, the rule every family selects by) as soon as it can. ``bayes.TPESampler`` and
``auto.AutoSampler`` are Optuna's TPE and the choice of family under a time budget, behind the same protocol.
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


class ASHA:
    """Asynchronous successive halving (Li et al., 2020) over growing budgets: every configuration starts on
    its first rung, and whenever a worker is free the best not-yet-promoted trial in the top 1/``eta`` of a
    rung (highest rung first) goes on to the next; otherwise a new configuration starts. No rung waits for its
    last result, so a slow trial holds up nobody.

    ``budgets``: each algorithm's rungs (trees, rounds, epochs, percent of rows), compared rung by rung. A
    promoted trial keeps its id and continues: the engine hands it the state its last rung left (the grown
    forests, boosters or network), so survivors are not trained again from scratch.
    """

    def __init__(self, specs: list[TrialSpec], budgets: dict[str, list[int]], metric: str, greater_is_better: bool,
                 eta: int = 3) -> None:  # fmt: skip
        for algorithm, steps in budgets.items():
            if not steps or steps[0] < 1 or sorted(set(steps)) != steps:
                raise ZygardeError(f"Successive halving needs increasing budgets of at least 1, got {steps} "
                                   f"for {algorithm}.")  # fmt: skip
        if eta < 2:
            raise ZygardeError(f"Successive halving keeps 1/eta of each rung: eta must be at least 2, got {eta}.")
        self.budgets, self.metric, self.greater_is_better, self.eta = budgets, metric, greater_is_better, eta
        self.total = sum(halving_trials(sum(s.algorithm == name for s in specs), len(steps), eta)
                         for name, steps in budgets.items() if any(s.algorithm == name for s in specs))  # fmt: skip
        self._new = deque(TrialSpec(s.trial_id, s.algorithm, s.params, 0, budgets[s.algorithm][0]) for s in specs)
        rungs = max(len(steps) for steps in budgets.values())
        self._rungs: list[list[TrialResult]] = [[] for _ in range(rungs)]  # results told, per rung
        self._promoted: list[set[int]] = [set() for _ in range(rungs)]  # trial ids promoted out of each rung
        self._out = 0

    def _candidates(self, rung: int) -> list[TrialResult]:
        """The top 1/eta of a rung's results so far, those with a rung above; once nothing is left to arrive,
        at least its best (so a small search still ends on the full budget)."""
        told = self._rungs[rung]
        quota = len(told) // self.eta or (1 if not self._new and not self._out else 0)
        top = rank(told, self.metric, self.greater_is_better)[:quota]
        return [r for r in top if rung + 1 < len(self.budgets[r.algorithm])]

    def _promotable(self) -> TrialSpec | None:
        for rung in reversed(range(len(self._rungs) - 1)):
            for result in self._candidates(rung):
                if result.trial_id not in self._promoted[rung]:
                    self._promoted[rung].add(result.trial_id)
                    budget = self.budgets[result.algorithm][rung + 1]
                    return TrialSpec(result.trial_id, result.algorithm, result.params, rung + 1, budget)
        return None

    @property
    def finished(self) -> bool:
        """True when no configuration is left to start, none runs, and no rung has a trial to promote."""
        if self._new or self._out:
            return False
        return all(r.trial_id in self._promoted[rung] for rung in range(len(self._rungs) - 1)
                   for r in self._candidates(rung))  # fmt: skip

    def ask(self) -> TrialSpec | None:
        """A promotion if a rung has one, else a new configuration; None when neither (yet)."""
        spec = self._promotable() or (self._new.popleft() if self._new else None)
        if spec is not None:
            self._out += 1
        return spec

    def tell(self, result: TrialResult) -> None:
        """A rung's result (a failed trial ranks last: it is never promoted)."""
        self._out -= 1
        self._rungs[result.rung].append(result)

    def report(self) -> dict[str, float]:
        """Configurations started and how many reached each rung (search facts, logged to the parent run)."""
        reached = {f"halving_rung_{k}_trials": float(len(told)) for k, told in enumerate(self._rungs) if k}
        return {"halving_configurations": float(len(self._rungs[0])), **reached}

    def outcome(self, trial_id: int) -> str:
        """Where a trial's race ended: stopped after a rung, or on the full budget."""
        last = max((r for told in self._rungs for r in told if r.trial_id == trial_id), key=lambda r: r.rung)
        steps = self.budgets[last.algorithm]
        if last.rung == len(steps) - 1:
            return f"ran the full budget ({steps[-1]})"
        return f"stopped after rung {last.rung} (budget {steps[last.rung]} of {steps[-1]})"


def rung_budgets(maximum: int, minimum: int, eta: int = 3, rungs: int = 3) -> list[int]:
    """Budgets of ``rungs`` rungs up to ``maximum``, each 1/``eta`` of the next, none under ``minimum``
    (deduplicated): with eta 3 a configuration is judged first on a ninth of the full budget."""
    return sorted({max(min(minimum, maximum), round(maximum / eta**k)) for k in range(rungs)})


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
