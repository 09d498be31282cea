"""TPE behind ask/tell: unique asks while trials run, failures told and survived, and better than random on a
toy objective with the same budget."""

from __future__ import annotations

import pickle
import re
from typing import Any

import numpy as np
import pytest
from scipy import stats

from zygarde.errors import ZygardeError
from zygarde.search.journal import Journal
from zygarde.search.samplers.bayesian import GPSampler, TPESampler
from zygarde.search.samplers.fixed import FixedSampler
from zygarde.search.spaces import expand_space, numbered
from zygarde.search.trials import TrialResult, TrialSpec

SPACES = {
    "a": {"x": stats.uniform(-5, 10), "depth": stats.randint(1, 9), "kind": ["p", "q"]},
    "b": {"x": stats.loguniform(1e-3, 10)},
}


def _score(spec: TrialSpec) -> float:
    """Best at algorithm a, x = 1.5, depth 6, kind q (to maximise)."""
    if spec.algorithm == "b":
        return -4.0 - abs(np.log10(spec.params["x"]))
    p = spec.params
    return -((p["x"] - 1.5) ** 2) - 0.3 * abs(p["depth"] - 6) - (p["kind"] == "p")


def _result(spec: TrialSpec, value: float | None = None, error: str | None = None) -> TrialResult:
    result = TrialResult.of(spec)
    result.scores = {} if value is None else {"score": value}
    result.error = error
    return result


def test_asks_are_unique_across_trials_still_running() -> None:
    sampler = TPESampler({"c": {"n": [1, 2, 3], "m": ["u", "v"]}}, total=10, metric="score", greater_is_better=True,
                         seed=0)  # fmt: skip
    running = []
    while (spec := sampler.ask()) is not None:
        running.append(spec)
    assert len({(s.algorithm, tuple(sorted(s.params.items()))) for s in running}) == len(running) == 6
    assert not sampler.finished  # the whole space is out, none told yet
    for spec in running:
        sampler.tell(_result(spec, 1.0))
    assert sampler.finished


def test_a_failed_trial_is_told_as_a_failure_and_the_search_goes_on() -> None:
    sampler = TPESampler(SPACES, total=8, metric="score", greater_is_better=True, seed=1)
    told = 0
    while (spec := sampler.ask()) is not None:
        sampler.tell(_result(spec, error="ValueError: boom") if spec.trial_id == 2 else _result(spec, _score(spec)))
        told += 1
    assert told == 8 and sampler.finished
    states = [t.state.name for t in sampler.study.trials]
    assert states.count("FAIL") == 1 and states.count("COMPLETE") == 7
    assert pickle.loads(pickle.dumps(sampler)).total == 8  # travels between the flow's tasks


def _best_after(sampler: object, budget: int, in_flight: int = 4, score: Any = _score) -> list[float]:
    """Best-so-far after each result, with ``in_flight`` trials running at a time (as the Dask window does)."""
    best, running = [], []
    while True:
        while len(running) < in_flight and (spec := sampler.ask()) is not None:  # type: ignore[attr-defined]
            running.append(spec)
        if not running:
            return best[:budget]
        spec = running.pop(0)
        value = score(spec)
        sampler.tell(_result(spec, value))  # type: ignore[attr-defined]
        best.append(max(value, best[-1]) if best else value)


def test_tpe_beats_random_search_with_the_same_budget_on_a_toy_objective() -> None:
    wins = 0
    for seed in range(5):
        tpe = _best_after(TPESampler(SPACES, 40, "score", True, seed=seed), 40)
        drawn = [(n, p) for n, space in SPACES.items() for p in expand_space({}, space, None, "random", 20, seed)]
        rng = np.random.default_rng(seed)
        random = _best_after(FixedSampler(numbered([drawn[i] for i in rng.permutation(len(drawn))])), 40)
        wins += tpe[-1] > random[-1]
    assert wins >= 4


def test_a_distribution_tpe_cannot_read_is_named() -> None:
    sampler = TPESampler({"a": {"x": stats.norm(0, 1)}}, 2, "score", True, seed=0)
    with pytest.raises(ZygardeError, match=r"a\.x is drawn from norm, which TPE cannot read"):
        sampler.ask()


def test_a_journal_study_continues_after_a_crash_without_repeating_finished_trials(tmp_path: object) -> None:
    from pathlib import Path

    journal = Journal(Path(str(tmp_path)) / "study.journal")
    first = TPESampler(SPACES, 6, "score", True, seed=3)
    first.persist(journal)
    finished = []
    for _ in range(3):
        spec = first.ask()
        first.tell(_result(spec, _score(spec)))
        finished.append(spec)
    crashed = first.ask()  # running when the driver died: never told
    again = TPESampler(SPACES, 6, "score", True, seed=3)
    again.persist(journal)
    restored = again.restore({})
    assert [r.trial_id for r in restored] == [s.trial_id for s in finished]
    assert [r.scores["score"] for r in restored] == [_score(s) for s in finished]
    requeued = again.ask()  # the crashed trial's parameters come back first, under a new number
    assert (requeued.algorithm, requeued.params) == (crashed.algorithm, crashed.params)
    assert requeued.trial_id not in {s.trial_id for s in finished} | {crashed.trial_id}
    states = {t.number: t.state.name for t in again.study.trials}
    assert states[crashed.trial_id] == "FAIL"
    asked = [requeued] + [s for s in iter(again.ask, None)]
    assert len(asked) == 3  # 6 in all: the 3 finished ones count
    keys = {(s.algorithm, tuple(sorted(s.params.items()))) for s in [*finished, *asked]}
    assert len(keys) == 6


def test_a_small_space_is_covered_when_tpe_keeps_proposing_its_best_point() -> None:
    """Once TPE is sure of a small space's best point it proposes it again and again: a random point is asked
    instead, so the search is not cut short while untried points are left."""
    space = {"rf": {"n_estimators": [5, 10, 20], "max_depth": [2, 3, 4]}}
    sampler = TPESampler(space, 7, "score", True, seed=0)
    asked = []
    while (spec := sampler.ask()) is not None:
        sampler.tell(_result(spec, spec.params["max_depth"] / 10))
        asked.append(tuple(spec.params.items()))
    assert len(asked) == 7 == len(set(asked))


NUMERIC = {"a": {"x": stats.uniform(-5, 10), "depth": stats.randint(1, 9)}}


def test_gp_beats_random_search_on_a_numeric_toy_objective_with_trials_in_flight() -> None:
    """``--search gp``: one algorithm, numbers only; 4 trials in flight, as the window runs them."""

    def best(sampler: object) -> float:
        return _best_after(
            sampler, 20, score=lambda s: -((s.params["x"] - 1.5) ** 2) - 0.3 * abs(s.params["depth"] - 6)
        )[-1]

    wins = 0
    for seed in range(3):
        gp = best(GPSampler(NUMERIC, 20, "score", True, seed=seed))
        drawn = [("a", p) for p in expand_space({}, NUMERIC["a"], None, "random", 20, seed)]
        wins += gp > best(FixedSampler(numbered(drawn)))
    assert wins >= 2


def test_gp_asks_are_unique_while_trials_run() -> None:
    sampler = GPSampler({"c": {"n": [1, 2, 3], "m": [0.5, 1.0]}}, total=10, metric="score", greater_is_better=True,
                        seed=0)  # fmt: skip
    running = list(iter(sampler.ask, None))
    assert len({tuple(sorted(s.params.items())) for s in running}) == len(running) == 6


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"algorithms": ["xgboost", "hgb"]}, "gp models one algorithm's space of numbers; name one in"),
        ({"algorithms": ["rf"]}, "rf.max_depth takes [3, 4, 6, 8, 12, None], which have none: use tpe"),
        ({"algorithms": ["rf"], "space": {"rf": {"max_depth": [3, 6]}}}, None),  # numbers given: modelled
        ({"algorithms": ["xgboost"]}, None),
    ],
)
def test_gp_refuses_a_search_it_cannot_model_naming_why(values: dict, message: str | None) -> None:
    from pydantic import ValidationError

    from zygarde.tabular.config import TabularRunConfig

    if message is None:
        assert TabularRunConfig(search="gp", **values).search == "gp"
        return
    with pytest.raises(ValidationError, match=re.escape(message)):
        TabularRunConfig(search="gp", **values)
