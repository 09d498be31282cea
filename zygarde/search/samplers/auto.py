"""``--algorithms auto``: every algorithm suited to the task competes, and a time budget bounds the search.

The next algorithm is chosen by FLAML's rule, the *estimated cost for improvement* (ECI; Wang et al., "FLAML: A
Fast and Lightweight AutoML Library", MLSys 2021), written here from the paper's description:

- for each algorithm, ``K0`` is the fit time it has spent, ``K1`` the time spent when it found its best score,
  ``K2`` when it found the best before that; ``ECI1 = max(K0 - K1, K1 - K2)``: how long it has gone without
  improving, or how long its last improvement took;
- an algorithm behind the leader also needs to close its gap at its own pace: ``gap / rate``, where ``rate`` is
  its last improvement divided by the time that improvement took; its ECI is the larger of the two;
- an algorithm not tried yet has ECI 0 (every algorithm gets a first trial, in the order given); the next algorithm is
  drawn with probability proportional to 1 / ECI (seeded), so a stalled algorithm is still tried now and then.

Within an algorithm, configurations come from its own TPE study (``samplers.bayesian.TPESampler``). The budget is a
cooperative deadline: no trial is asked for after it, nor one of an algorithm whose trials so far took longer on
average than the budget has left (nor the first of an algorithm after half the budget), and trials already
running finish (Dask cannot interrupt a running task), so
the search ends within one trial of the budget; the overshoot is reported.

``persist`` keeps each algorithm's study in a journal file of its own, and the search's clock (the seconds of
budget spent, as of the last result) beside them, so a resumed search continues every algorithm's study, its
cost accounting and the budget where the crash left them (the time between the crash and the resume does not
count).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zygarde.search.journal import Journal
from zygarde.search.samplers.base import Sampler
from zygarde.search.samplers.bayesian import TPESampler
from zygarde.search.spaces import SearchSpace
from zygarde.search.trials import TrialResult, TrialSpec


def names_in_turn(candidates: dict[str, float], asked: dict[str, int]) -> str:
    """The candidate asked least so far (the first in order on a tie)."""
    return min(candidates, key=lambda name: asked[name])


@dataclass
class AlgorithmProgress:
    """What one algorithm has cost and found so far (costs in fit seconds)."""

    spent: float = 0.0  # K0
    best: float | None = None
    at_best: float = 0.0  # K1
    previous: float | None = None  # the best before ``best``
    at_previous: float = 0.0  # K2
    trials: int = 0

    def told(self, value: float | None, seconds: float, better: Any) -> None:
        """Account one result (None: a failed trial, which costs time and finds nothing)."""
        self.spent += seconds
        self.trials += 1
        if value is not None and (self.best is None or better(value, self.best)):
            self.previous, self.at_previous = self.best, self.at_best
            self.best, self.at_best = value, self.spent


@dataclass
class AutoSampler(Sampler):
    """Algorithms x their TPE studies, the next algorithm by ECI, no new trial after ``deadline`` (monotonic s)."""

    spaces: dict[str, SearchSpace]
    total: int
    metric: str
    greater_is_better: bool
    seed: int
    budget_seconds: float | None = None
    progress: dict[str, AlgorithmProgress] = field(init=False)  # by algorithm, from the first ask (or the journals)
    started: float | None = field(init=False)  # monotonic seconds of the first ask

    def __post_init__(self) -> None:
        self._clock: Journal | None = None  # the budget spent so far, kept beside the algorithms' journals
        self._reset()

    def _reset(self) -> None:
        self.started = None
        self._studies = {
            name: TPESampler({name: space}, self.total, self.metric, self.greater_is_better, self.seed + i)
            for i, (name, space) in enumerate(self.spaces.items())
        }
        self.progress = {name: AlgorithmProgress() for name in self.spaces}
        self._rng = np.random.default_rng(self.seed)
        self._owner: dict[int, tuple[str, int]] = {}  # our trial id -> (algorithm, its study's trial id)
        self._asked = 0
        self._next_id = 0
        self._asked_of = dict.fromkeys(self.spaces, 0)  # trials handed out per algorithm, told or not
        self._exhausted: set[str] = set()

    @property
    def finished(self) -> bool:
        """Out of budget or trials, with every result told."""
        return not self._owner and (self._asked >= self.total or self._past_deadline() or self._all_exhausted())

    def _past_deadline(self) -> bool:
        return self.budget_seconds is not None and self.elapsed() >= self.budget_seconds

    def _all_exhausted(self) -> bool:
        return self._exhausted >= set(self.spaces)

    def elapsed(self) -> float:
        """Seconds since the first ask."""
        return 0.0 if self.started is None else time.monotonic() - self.started

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.greater_is_better else a < b

    def eci(self) -> dict[str, float]:
        """Each algorithm's estimated cost for improvement (0: not tried yet)."""
        scores = [p.best for p in self.progress.values() if p.best is not None]
        leader = (max if self.greater_is_better else min)(scores) if scores else None
        out = {}
        for name, p in self.progress.items():
            if p.trials == 0 or p.best is None or leader is None:
                out[name] = 0.0 if p.trials == 0 else p.spent  # tried, never scored: its cost so far
                continue
            eci = max(p.spent - p.at_best, p.at_best - p.at_previous)
            gap = abs(leader - p.best)
            if gap > 0 and p.previous is not None and p.at_best > p.at_previous:
                rate = abs(p.best - p.previous) / (p.at_best - p.at_previous)
                eci = max(eci, gap / rate)
            elif gap > 0:
                eci = max(eci, 2 * p.spent)  # one result only: assume it needs as much again, twice
            out[name] = max(eci, 1e-9)
        return out

    def _would_overrun(self, name: str) -> bool:
        """Whether a trial of ``name``, as long as its trials so far on average, would end past the budget; an
        algorithm not timed yet starts its first trial in the budget's first half only."""
        progress = self.progress[name]
        if self.budget_seconds is None:
            return False
        if progress.trials == 0:
            return self.elapsed() > self.budget_seconds / 2
        return self.elapsed() + progress.spent / progress.trials > self.budget_seconds

    def choose(self) -> str | None:
        """The next algorithm: an untried one first, else drawn with probability proportional to 1 / ECI; never
        one whose trials take longer than the budget has left (FLAML's rule too: no trial that cannot finish)."""
        eci = {k: v for k, v in self.eci().items() if k not in self._exhausted and not self._would_overrun(k)}
        if not eci:
            return None
        untried = [name for name in eci if self._asked_of[name] == 0]
        if untried:
            return untried[0]
        if all(self.progress[name].trials == 0 for name in eci):  # first trials still running: no ECI yet
            return names_in_turn(eci, self._asked_of)
        known = [v for v in eci.values() if v > 0]
        eci = {k: v if v > 0 else max(known) for k, v in eci.items()}  # first result pending: no favour yet
        names = list(eci)
        weights = np.array([1.0 / eci[n] for n in names])
        return names[int(self._rng.choice(len(names), p=weights / weights.sum()))]

    def persist(self, journal: Journal) -> None:
        """Keep each algorithm's study in ``<journal>.<algorithm>`` and the budget spent in ``<journal>.clock``
        (continuing them, if an earlier attempt of the search left them: also when this sampler ran that
        attempt, as a retried task does; what it held in memory is replaced by the journals')."""
        self._reset()
        for name, study in self._studies.items():
            study.persist(journal.beside(name))
        self._clock = journal.beside("clock")

    def restore(self, done: dict[str, TrialResult]) -> list[TrialResult]:
        """The trials an earlier attempt finished, from the algorithms' journals (``done``: the run's logged
        trials, by key); each algorithm's cost and progress are accounted again, in the order it found them, and
        the budget goes on from what that attempt had spent."""
        restored = []
        for name, study in self._studies.items():
            for result in study.restore(done):
                self.progress[name].told(self._value(result), result.fit_seconds, self._better)
                self._asked_of[name] += 1
                restored.append(result)
        self._asked = len(restored)
        self._next_id = 1 + max((r.trial_id for r in restored), default=-1)
        kept = self._clock.read() if self._clock else None
        if kept is not None:
            self.started = time.monotonic() - float(kept["spent_seconds"])
        return sorted(restored, key=lambda r: r.trial_id)

    def _value(self, result: TrialResult) -> float | None:
        return None if result.error else result.scores.get(self.metric)

    def ask(self) -> TrialSpec | None:
        """The chosen algorithm's next configuration; None after the deadline or the trial budget."""
        if self.started is None:
            self.started = time.monotonic()
        while self._asked < self.total and not self._past_deadline():
            algorithm = self.choose()
            if algorithm is None:
                return None
            spec = self._studies[algorithm].ask()
            if spec is None:
                self._exhausted.add(algorithm)
                continue
            trial_id, self._next_id = self._next_id, self._next_id + 1
            self._owner[trial_id] = (algorithm, spec.trial_id)
            self._asked_of[algorithm] += 1
            self._asked += 1
            return TrialSpec(trial_id, algorithm, spec.params)
        return None

    def tell(self, result: TrialResult) -> None:
        """Tell the algorithm's study (the result under our number: a restored one keeps it) and account the
        algorithm's cost and progress; with a journal, the budget spent so far is kept too."""
        algorithm, inner = self._owner.pop(result.trial_id)
        self._studies[algorithm].tell(result, asked_as=inner)
        self.progress[algorithm].told(self._value(result), result.fit_seconds, self._better)
        if self._clock:
            self._clock.write({"spent_seconds": self.elapsed()})

    def report(self) -> dict[str, float]:
        """Budget facts to log: the budget, the wall the search took, how far past the budget it ran."""
        if self.budget_seconds is None:
            return {}
        wall = self.elapsed()
        return {"time_budget_seconds": self.budget_seconds, "budget_overshoot_seconds": max(0.0, wall -
                self.budget_seconds)}  # fmt: skip
