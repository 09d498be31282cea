"""Asynchronous successive halving: when to stop a configuration, apart from what to try next.

``ASHA`` races configurations on growing budgets (trees, boosting rounds, epochs, rows), promoting the best
1/``eta`` of each rung (ranked by ``trials.rank``, the rule every family selects by) as soon as it can. It
speaks the ``Sampler`` protocol, so the engine runs its rungs like any other trials.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterator

from zygarde.errors import ZygardeError
from zygarde.search.journal import Journal
from zygarde.search.samplers.base import Sampler
from zygarde.search.trials import TrialResult, TrialSpec, rank, trial_key


class ASHA(Sampler):
    """Asynchronous successive halving (Li et al., 2020) over growing budgets: every configuration starts on
    its bracket's first rung, and whenever a worker is free the best not-yet-promoted trial in the top
    1/``eta`` of a rung (highest rung first) goes on to the next; otherwise a new configuration starts. No rung
    waits for its last result, so a slow trial holds up nobody.

    ``budgets``: each algorithm's rungs (trees, rounds, epochs, percent of rows), compared rung by rung. A
    promoted trial keeps its id and continues: the engine hands it the state its last rung left (the grown
    forests, boosters or network), so survivors are not trained again from scratch.

    ``brackets`` > 1 hedges as Hyperband does against a first rung that misjudges slow learners (boosting with
    a small learning rate is behind after a ninth of its rounds and ahead at the end): configurations are dealt
    to brackets in Hyperband's proportions (eta^(S-b) / (S-b+1) for bracket b of S+1 rungs: 9:4.5:3 for three),
    bracket b starting on rung b, so the last bracket runs its configurations on the full budget. Trials race
    within their bracket.
    """

    def __init__(self, specs: list[TrialSpec], budgets: dict[str, list[int]], metric: str, greater_is_better: bool,
                 eta: int = 3, brackets: int = 1) -> None:  # fmt: skip
        for algorithm, steps in budgets.items():
            if not steps or steps[0] < 1 or sorted(set(steps)) != steps:
                raise ZygardeError(f"Successive halving needs increasing budgets of at least 1, got {steps} "
                                   f"for {algorithm}.")  # fmt: skip
        if eta < 2:
            raise ZygardeError(f"Successive halving keeps 1/eta of each rung: eta must be at least 2, got {eta}.")
        rungs = max(len(steps) for steps in budgets.values())
        if not 1 <= brackets <= rungs:
            raise ZygardeError(f"Successive halving over {rungs} rungs has 1 to {rungs} brackets, got {brackets}.")
        self.budgets, self.metric, self.greater_is_better, self.eta = budgets, metric, greater_is_better, eta
        weights = [eta ** (rungs - 1 - b) / (rungs - b) for b in range(brackets)]  # Hyperband's n per bracket
        dealt = [0] * brackets
        self._bracket: dict[int, int] = {}
        new = []
        for spec in specs:  # smooth weighted round robin: each bracket gets its share, interleaved
            bracket = min(range(brackets), key=lambda b: ((dealt[b] + 1) / weights[b], b))
            dealt[bracket] += 1
            self._bracket[spec.trial_id] = bracket
            start = min(bracket, len(budgets[spec.algorithm]) - 1)
            new.append(TrialSpec(spec.trial_id, spec.algorithm, spec.params, start, budgets[spec.algorithm][start]))
        self._configurations = new
        starters = Counter((self._bracket[s.trial_id], s.rung) for s in new)
        self._room: dict[tuple[int, int], int] = {}  # (bracket, rung) -> the most results that rung can ever hold
        for bracket in range(brackets):
            for rung in range(rungs):
                below = self._room.get((bracket, rung - 1), 0)
                self._room[(bracket, rung)] = starters[(bracket, rung)] + (max(1, below // eta) if below else 0)
        groups = Counter((s.algorithm, s.rung) for s in new)  # each a race of its own size
        self.total = sum(halving_trials(n, len(budgets[name]) - start, eta) for (name, start), n in groups.items())
        self._rungs, self._brackets = rungs, brackets
        self.journal: Journal | None = None
        self._reset()

    def _reset(self) -> None:
        self._new = deque(self._configurations)
        self._told: dict[tuple[int, int], list[TrialResult]] = {}  # (bracket, rung) -> results told
        self._promoted: dict[tuple[int, int], set[int]] = {}  # (bracket, rung) -> trial ids promoted out of it
        self._out = 0
        self._restored: list[TrialResult] = []
        self._released: set[int] = set()

    def _candidates(self, bracket: int, rung: int) -> list[TrialResult]:
        """The top 1/eta of a rung's results so far, those with a rung above; once nothing is left to arrive,
        at least its best (so a small search still ends on the full budget)."""
        told = self._told.get((bracket, rung), [])
        quota = len(told) // self.eta or (1 if not self._new and not self._out else 0)
        top = rank(told, self.metric, self.greater_is_better)[:quota]
        return [r for r in top if rung + 1 < len(self.budgets[r.algorithm])]

    def _waiting(self) -> Iterator[tuple[tuple[int, int], TrialResult]]:
        """Trials that may go on and have not, highest rung first."""
        for rung in reversed(range(self._rungs - 1)):
            for bracket in range(min(rung, self._brackets - 1) + 1):
                promoted = self._promoted.setdefault((bracket, rung), set())
                yield from (((bracket, rung), r) for r in self._candidates(bracket, rung) if r.trial_id not in promoted)

    @property
    def finished(self) -> bool:
        """True when no configuration is left to start, none runs, and no rung has a trial to promote."""
        return not self._new and not self._out and next(self._waiting(), None) is None

    def ask(self) -> TrialSpec | None:
        """A promotion if a rung has one, else a new configuration; None when neither (yet)."""
        waiting = next(self._waiting(), None)
        if waiting is not None:
            (bracket, rung), result = waiting
            self._promoted[(bracket, rung)].add(result.trial_id)
            budget = self.budgets[result.algorithm][rung + 1]
            spec = TrialSpec(result.trial_id, result.algorithm, result.params, rung + 1, budget)
        elif self._new:
            spec = self._new.popleft()
        else:
            return None
        self._out += 1
        return spec

    def tell(self, result: TrialResult) -> None:
        """A rung's result (a failed trial ranks last: it is never promoted); appended to the journal, if kept."""
        self._out -= 1
        self._record(result)
        if self.journal is not None:
            self.journal.append(result.journal_line())

    def _record(self, result: TrialResult) -> None:
        bracket = self._bracket[result.trial_id]
        self._told.setdefault((bracket, result.rung), []).append(result)
        if result.rung > min(bracket, len(self.budgets[result.algorithm]) - 1):  # came by a promotion
            self._promoted.setdefault((bracket, result.rung - 1), set()).add(result.trial_id)
        self._new = deque(s for s in self._new if s.trial_id != result.trial_id)

    def released(self) -> list[int]:
        """Trials (ids) whose last rung's state no rung will ask for again, not named before: those on their
        family's top rung, failed ones, and those ranked too low ever to be promoted (a rung promotes at most
        1/eta of the most results it can ever hold, and a rank only falls as results arrive). The engine drops
        their state, so a worker holds the models of the trials still in the race only."""
        out = []
        for (bracket, rung), told in self._told.items():
            quota = max(1, self._room[(bracket, rung)] // self.eta)
            alive = {r.trial_id for r in rank(told, self.metric, self.greater_is_better)[:quota]}
            gone_on = self._promoted.get((bracket, rung), set())  # their state moved to the next rung
            for result in told:
                last = result.rung == len(self.budgets[result.algorithm]) - 1
                kept = result.trial_id in alive and not last
                if not kept and result.trial_id not in gone_on | self._released:
                    self._released.add(result.trial_id)
                    out.append(result.trial_id)
        return out

    def persist(self, journal: Journal) -> None:
        """Keep every rung's result in ``journal`` (JSON lines), and continue from the results an earlier attempt
        of this search left there: they are neither asked nor run again (``restore`` returns them). A trial the
        crash interrupted is asked again; a promoted one grows again from scratch (its models died with it)."""
        if (self._out or any(self._told.values())) and self.journal != journal:
            raise ZygardeError("A search's journal is chosen before its first ask.")
        self.journal = journal
        self._reset()  # a retried task's sampler: what it held in memory is replaced by the journal's
        for record in journal.records():
            try:
                result = TrialResult.from_record(record)
            except TypeError:  # not a result of this search
                continue
            self._record(result)
            self._restored.append(result)

    def restore(self, done: dict[str, TrialResult]) -> list[TrialResult]:
        """The rung results the journal holds, lowest rung first (``done``: the run's logged trials by trial key,
        for their MLflow run ids)."""
        for result in self._restored:
            logged = done.get(trial_key(result.algorithm, result.trial_id, result.params))
            result.run_id = logged.run_id if logged is not None and logged.rung >= result.rung else None
        return sorted(self._restored, key=lambda r: r.rung)

    def report(self) -> dict[str, float]:
        """Configurations, brackets, and the trials that ran on each rung (search facts, on the parent run)."""
        per_rung = [sum(len(told) for (_, rung), told in self._told.items() if rung == k) for k in range(self._rungs)]
        return {"halving_configurations": float(len(self._bracket) - len(self._new)),
                "halving_brackets": float(self._brackets),
                **{f"halving_rung_{k}_trials": float(n) for k, n in enumerate(per_rung)}}  # fmt: skip

    def outcome(self, trial_id: int) -> str:
        """Where a trial's race ended: stopped after a rung, or on the full budget."""
        last = max((r for told in self._told.values() for r in told if r.trial_id == trial_id), key=lambda r: r.rung)
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
