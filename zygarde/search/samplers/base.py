"""The ``Sampler`` seam: what to try next, asked and told (Optuna's ``ask``/``tell``, Ray Tune's ``Searcher``).

Every hook the engine and the search task call is declared here with a no-op default (as Optuna's
``BaseSampler.after_trial`` and Tune's ``Searcher.save/restore`` are), so a capability is a method a sampler
overrides, never an attribute somebody probes for.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from zygarde.search.journal import Journal
from zygarde.search.trials import TrialResult, TrialSpec


class Sampler(ABC):
    """Hands out trials (``ask``) and learns from their results (``tell``).

    ``total`` is how many trials the search expects to run (for progress); ``budget_seconds`` a time budget
    that ends the search instead of ``total`` (None: none).
    """

    total: int
    budget_seconds: float | None = None

    @property
    @abstractmethod
    def finished(self) -> bool:
        """True when no trial will be asked for any more, whatever is told."""

    @abstractmethod
    def ask(self) -> TrialSpec | None:
        """The next trial to run, or None when nothing can run until results are told (or all is done)."""

    @abstractmethod
    def tell(self, result: TrialResult) -> None:
        """A result of a trial this sampler handed out."""

    @property
    def extent(self) -> str:
        """How far the search goes, in words: its time budget, or its trials."""
        if self.budget_seconds is not None:
            return f"for {self.budget_seconds:g} s"
        return f"over {self.total} trials"

    def persist(self, journal: Journal) -> None:  # noqa: B027 (a hook: most samplers keep nothing)
        """Keep what the sampler learns in ``journal`` and continue from what an earlier attempt left there
        (called before the first ask). Default: nothing is kept; a resumed search re-plans."""

    def restore(self, done: dict[str, TrialResult]) -> list[TrialResult]:
        """Results an earlier attempt of this search finished (``done``: the run's logged trials by trial key),
        which this sampler will not hand out again. Default: none."""
        return []

    def released(self) -> list[int]:
        """Trials (ids) whose state no later trial continues, not named before: the engine frees it. Default:
        none (trials of a sampler without rungs keep no state)."""
        return []

    def report(self) -> dict[str, float]:
        """Facts about the search to log on the parent run (a budget, rungs). Default: none."""
        return {}

    def outcome(self, trial_id: int) -> str | None:
        """In words, where a trial's search ended (a rung it stopped after). Default: None, nothing to say."""
        return None
