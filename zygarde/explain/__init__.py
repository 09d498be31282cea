"""Why the champion predicts what it does: explanations computed after the search on a seeded sample of the
evaluation rows, each step on a deadline (``Steps``), logged under ``explain/`` on the parent run.

Every family returns an ``Explanation``: the features ranked by importance (and the method that ranked them),
figures, JSON payloads, and one note per step saying what it did, on how many rows, or why it fell back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# without a time budget, what explanations may take (a run's time budget gives them what its search left)
DEFAULT_SECONDS = 60.0


class OutOfTimeError(Exception):
    """A step passed its deadline."""


@dataclass
class Deadline:
    """When a step must stop: ``check`` raises ``OutOfTimeError`` past it."""

    at: float

    def left(self) -> float:
        """Seconds left (negative past it)."""
        return self.at - time.monotonic()

    def check(self) -> None:
        """Raise ``OutOfTimeError`` once the deadline has passed."""
        if time.monotonic() > self.at:
            raise OutOfTimeError


@dataclass
class Explanation:
    """What explains a model: ranked features, figures (artifact path -> matplotlib figure), JSON payloads
    (artifact path -> payload) and the steps' notes."""

    method: str = ""  # how ``importance`` was measured
    rows: int = 0  # evaluation rows it was measured on
    importance: list[dict[str, Any]] = field(default_factory=list)  # feature, importance[, std], best first
    figures: dict[str, Any] = field(default_factory=dict)
    json: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def top(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` most important features."""
        return self.importance[:n]

    def summary(self) -> dict[str, Any]:
        """``explain/summary.json``: the method, rows, ranking and notes."""
        return {"method": self.method, "rows": self.rows, "importance": self.importance, "notes": self.notes}


class Steps:
    """Run the steps of one explanation within ``seconds`` in all: each step gets the time left (or its own
    share), a step that runs out or fails is noted and its fallback used, and the others still run."""

    def __init__(self, seconds: float, explanation: Explanation) -> None:
        self.deadline = Deadline(time.monotonic() + seconds)
        self.seconds = seconds
        self.explanation = explanation

    def run(self, name: str, step: Callable[[Deadline], T], share: float = 1.0) -> T | None:
        """``step`` with a deadline of ``share`` of the time left; None (and a note) when it runs out or fails."""
        left = self.deadline.left()
        if left <= 0:
            self.explanation.notes.append(f"{name}: skipped, the explanation budget ({self.seconds:g} s) was spent")
            return None
        started = time.monotonic()
        try:
            return step(Deadline(started + left * share))
        except OutOfTimeError:
            self.explanation.notes.append(
                f"{name}: ran out of its time ({left * share:.1f} s of the {self.seconds:g} s budget)"
            )
        except Exception as exc:  # an explanation never fails the run: it says what went wrong
            log.warning("explanation step %s failed: %s", name, exc, exc_info=True)
            self.explanation.notes.append(f"{name}: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
        return None
