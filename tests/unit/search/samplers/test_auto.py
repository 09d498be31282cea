"""``--algorithms auto``: every algorithm gets a first trial, then the one with the lowest estimated cost for
improvement (FLAML's ECI) is tried most; no trial starts after the time budget."""

from __future__ import annotations

import pytest
from scipy import stats

from zygarde.search.journal import Journal
from zygarde.search.samplers.auto import AlgorithmProgress, AutoSampler
from zygarde.search.trials import TrialResult, TrialSpec

SPACES = {"fast": {"x": stats.uniform(0, 1)}, "stuck": {"x": stats.uniform(0, 1)}, "slow": {"x": [1, 2]}}


def _result(spec: TrialSpec, value: float, seconds: float) -> TrialResult:
    result = TrialResult.of(spec)
    result.scores = {"score": value}
    result.usage = {"wall_seconds": seconds}
    return result


def test_every_family_is_tried_first_then_the_improving_one_most() -> None:
    sampler = AutoSampler(SPACES, total=60, metric="score", greater_is_better=True, seed=0)
    first = [sampler.ask() for _ in range(3)]
    assert [s.algorithm for s in first if s] == ["fast", "stuck", "slow"]
    for spec in first:
        sampler.tell(_result(spec, {"fast": 0.5, "stuck": 0.4, "slow": 0.3}[spec.algorithm], 1.0))
    counts = {name: 0 for name in SPACES}
    step = 0.5
    while (spec := sampler.ask()) is not None:
        counts[spec.algorithm] += 1
        step += 0.01
        value = {"fast": min(0.99, step), "stuck": 0.4, "slow": 0.3}[spec.algorithm]  # fast keeps improving
        sampler.tell(_result(spec, value, {"slow": 20.0}.get(spec.algorithm, 1.0)))
    assert sum(counts.values()) == 57 and sampler.finished
    assert counts["fast"] > 3 * max(counts["stuck"], counts["slow"]), counts


def test_eci_follows_the_papers_rule() -> None:
    progress = AlgorithmProgress()
    progress.told(0.5, 2.0, lambda a, b: a > b)
    progress.told(0.6, 3.0, lambda a, b: a > b)  # improved after 3 s
    progress.told(0.55, 4.0, lambda a, b: a > b)  # then 4 s without improving
    assert (progress.spent, progress.at_best, progress.at_previous) == (9.0, 5.0, 2.0)
    sampler = AutoSampler({"a": {"x": [1]}, "b": {"x": [2]}}, 10, "score", True, seed=0)
    sampler.progress["a"] = progress
    sampler.progress["b"].told(0.7, 1.0, lambda a, b: a > b)
    eci = sampler.eci()
    assert eci["a"] == max(9.0 - 5.0, 5.0 - 2.0, (0.7 - 0.6) / ((0.6 - 0.5) / 3.0))  # gap / rate wins: 3 s
    assert eci["b"] == max(1.0 - 1.0, 1.0 - 0.0)  # the leader: its own ECI1 only


def test_no_trial_starts_after_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clock of its own (the machine's would make the last ask's timing a race): asks before the
    deadline get a trial, the first ask at or after it gets none, and the search is finished."""
    clock = [1000.0]
    monkeypatch.setattr("zygarde.search.samplers.auto.time.monotonic", lambda: clock[0])
    sampler = AutoSampler(SPACES, total=1000, metric="score", greater_is_better=True, seed=1, budget_seconds=3.0)
    asked = []
    while (spec := sampler.ask()) is not None:
        asked.append(clock[0])
        clock[0] += 0.25  # each trial takes a quarter of a second (exact in binary: no rounding at the deadline)
        sampler.tell(_result(spec, 0.5, 0.25))
    assert len(asked) == 12 and asked[-1] < sampler.started + 3.0 == clock[0] and sampler.finished
    assert sampler.report() == {"time_budget_seconds": 3.0, "budget_overshoot_seconds": 0.0}


def test_a_resumed_auto_search_continues_its_algorithms_costs_and_budget(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Killed after four results with a fifth trial running, 30 s into a 100 s budget; resumed much later: the
    four come back under their numbers with every algorithm's accounting, the fifth's configuration is asked
    again under a new number, and the budget goes on from 30 s."""
    from pathlib import Path

    clock = [1000.0]
    monkeypatch.setattr("zygarde.search.samplers.auto.time.monotonic", lambda: clock[0])
    journal = Journal(Path(str(tmp_path)) / "study.journal")
    first = AutoSampler(SPACES, total=10, metric="score", greater_is_better=True, seed=2, budget_seconds=100.0)
    first.persist(journal)
    for value in (0.5, 0.4, 0.3, 0.6):
        spec = first.ask()
        clock[0] += 7.5
        first.tell(_result(spec, value, 2.0))
    crashed = first.ask()
    clock[0] += 5000.0  # the crash, and the time before the resume

    again = AutoSampler(SPACES, total=10, metric="score", greater_is_better=True, seed=2, budget_seconds=100.0)
    again.persist(journal)
    restored = again.restore({})
    assert [r.trial_id for r in restored] == [0, 1, 2, 3]
    assert [r.scores["score"] for r in restored] == [0.5, 0.4, 0.3, 0.6]
    assert {name: (p.trials, p.spent, p.best) for name, p in again.progress.items()} == {
        name: (p.trials, p.spent, p.best) for name, p in first.progress.items()
    }
    assert again.elapsed() == pytest.approx(30.0)
    requeued = again.ask()
    assert (requeued.algorithm, requeued.params) == (crashed.algorithm, crashed.params)
    assert requeued.trial_id not in {r.trial_id for r in restored}  # a finished trial's number is not given again
    asked = [requeued, *iter(again.ask, None)]
    assert len(asked) == 6  # 10 in all: the 4 finished count

    retried = AutoSampler(SPACES, total=10, metric="score", greater_is_better=True, seed=2, budget_seconds=100.0)
    retried.persist(journal)
    retried.restore({})
    retried.persist(journal)  # a retried task persists the same sampler again: nothing is counted twice
    assert len(retried.restore({})) == 4 and retried.progress["fast"].trials == first.progress["fast"].trials


def test_progress_and_state_are_not_constructor_fields() -> None:
    """``progress`` and ``started`` were constructor fields that ``__post_init__`` silently overwrote."""
    import inspect

    parameters = inspect.signature(AutoSampler).parameters
    assert "progress" not in parameters and "started" not in parameters
    with pytest.raises(TypeError):
        AutoSampler(SPACES, 10, "score", True, 0, progress={"fast": AlgorithmProgress(trials=3)})  # type: ignore[call-arg]


def test_a_budgeted_search_is_named_by_its_budget_not_a_trial_count() -> None:
    """The search task and the progress bar said "over 10000 trials" for a time-budgeted search."""
    from zygarde.search.factory import make_sampler
    from zygarde.tasks.search import search

    budgeted = make_sampler("auto", spaces=SPACES, draw=list, n_trials=10, metric="score", greater_is_better=True,
                            seed=0, time_budget=45)  # fmt: skip
    counted = make_sampler("auto", spaces=SPACES, draw=list, n_trials=10, metric="score", greater_is_better=True,
                           seed=0)  # fmt: skip

    class Plan:  # the two attributes the task's run name reads
        def __init__(self, sampler: object) -> None:
            self.sampler, self.objective = sampler, type("Objective", (), {"metric": "score"})

    assert search.task_run_name.format(plan=Plan(budgeted)) == "search score for 45 s"
    assert search.task_run_name.format(plan=Plan(counted)) == "search score over 30 trials"


@pytest.mark.parametrize(("seconds", "starts"), [(50.0, False), (1.0, True)])
def test_no_trial_starts_that_its_algorithms_trials_say_cannot_finish_in_the_budget(
    seconds: float, starts: bool
) -> None:
    from zygarde.search.samplers.auto import AutoSampler
    from zygarde.search.trials import TrialResult

    sampler = AutoSampler({"only": {"x": [1, 2, 3]}}, total=100, metric="m", greater_is_better=True, seed=0,
                          budget_seconds=60.0)  # fmt: skip
    spec = sampler.ask()
    assert spec is not None
    sampler.tell(TrialResult(spec.trial_id, spec.algorithm, spec.params, scores={"m": 0.5},
                             usage={"wall_seconds": seconds}))  # fmt: skip
    assert sampler.started is not None
    sampler.started -= 20  # 20 s of the 60 spent: a 50 s trial would end past the budget, a 1 s one would not
    assert (sampler.ask() is not None) is starts
