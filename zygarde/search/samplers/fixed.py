"""Grid and random search: a list of trials planned up front, handed out in order."""

from __future__ import annotations

from collections import deque

from zygarde.search.samplers.base import Sampler
from zygarde.search.trials import TrialResult, TrialSpec, trial_key


class FixedSampler(Sampler):
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
