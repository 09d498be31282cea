"""The ``Objective`` seam: what a trial computes, which is what differs between families (cross-validated
pipelines, clustering scores, a CNN's validation accuracy). Its optional hooks are declared here with defaults,
so the engine and the search task call them unconditionally."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Self

from zygarde.search.trials import TrialSpec

if TYPE_CHECKING:
    from distributed import Client


class Objective(ABC):
    """Scores a trial on the search view: (mean, std) of its metrics by name, optionally per-epoch curves."""

    @property
    @abstractmethod
    def metric(self) -> str:
        """The metric that picks the winner."""

    @property
    @abstractmethod
    def greater_is_better(self) -> bool:
        """Whether a larger ``metric`` is better."""

    @abstractmethod
    def __call__(self, spec: TrialSpec, data: Any) -> tuple[Any, ...]:
        """(mean, std[, curves[, out-of-fold predictions]]) of the trial's metrics, trained from scratch on
        ``spec``'s budget."""

    def grow(self, spec: TrialSpec, data: Any, state: Any) -> tuple[Any, ...]:
        """One rung of successive halving: ``__call__``'s values and the state the next rung continues from.
        Default: trained from scratch on the rung's budget, keeping no state."""
        return (*self(spec, data), None)

    def with_checkpoints(self, folder: str) -> Self:
        """This objective, keeping each finished fold's scores under ``folder`` (``search.checkpoints``), so a
        trial a crash interrupted fits only its unfinished folds. Default: itself (nothing to keep)."""
        return self

    def prepare_workers(self, client: Client) -> None:  # noqa: B027 (a hook: most objectives need nothing)
        """Set up what the trials need on ``client``'s workers, before the first one runs. Default: nothing."""
