"""Asynchronous successive halving: the right trials are promoted on a deterministic toy objective, a failed
trial is never promoted and stops nothing, and a trial grown rung by rung scores as one fitted from scratch."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zygarde.errors import ZygardeError
from zygarde.search.journal import Journal
from zygarde.search.schedulers.asha import ASHA, rung_budgets
from zygarde.search.trials import TrialResult, TrialSpec
from zygarde.tabular.objective import CrossValidationObjective, TrialData

BUDGETS = {"toy": [1, 3, 9]}


def _quality(spec: TrialSpec) -> float:
    return spec.params["q"] * spec.budget  # a fixed order of the configurations, on every rung


def _told(spec: TrialSpec, failing: set[int] = frozenset()) -> TrialResult:  # type: ignore[assignment]
    result = TrialResult.of(spec)
    if spec.trial_id in failing:
        result.error = "ValueError: a bad configuration"
    else:
        result.scores = {"score": _quality(spec)}
    return result


def _run_one_at_a_time(sampler: ASHA, failing: set[int] = frozenset()) -> list[TrialSpec]:  # type: ignore[assignment]
    asked = []
    while (spec := sampler.ask()) is not None:
        asked.append(spec)
        sampler.tell(_told(spec, failing))
    assert sampler.finished
    return asked


def test_the_best_third_of_each_rung_goes_on_and_keeps_its_id() -> None:
    specs = [TrialSpec(i, "toy", {"q": q}) for i, q in enumerate([5, 1, 9, 3, 7, 2, 8, 4, 6])]
    asked = _run_one_at_a_time(ASHA(specs, BUDGETS, "score", True))
    by_rung = {rung: [s.trial_id for s in asked if s.rung == rung] for rung in range(3)}
    assert sorted(by_rung[0]) == list(range(9))
    assert sorted(by_rung[1]) == [2, 4, 6]  # q 9, 7, 8: the top third of rung 0
    assert by_rung[2] == [2]  # q 9: the top third of rung 1
    assert [s.budget for s in asked if s.trial_id == 2] == [1, 3, 9]


def test_promotion_is_asynchronous_a_rung_does_not_wait_for_its_last_result() -> None:
    specs = [TrialSpec(i, "toy", {"q": q}) for i, q in enumerate([5, 1, 9, 3, 7, 2, 8, 4, 6])]
    sampler = ASHA(specs, BUDGETS, "score", True)
    first = [sampler.ask() for _ in range(3)]
    for spec in first:
        sampler.tell(_told(spec))
    promoted = sampler.ask()  # 3 results on rung 0 while 6 configurations have not started
    assert (promoted.trial_id, promoted.rung, promoted.budget) == (2, 1, 3)


def test_a_failed_trial_is_never_promoted_and_the_race_goes_on() -> None:
    specs = [TrialSpec(i, "toy", {"q": q}) for i, q in enumerate([5, 1, 9, 3, 7, 2, 8, 4, 6])]
    asked = _run_one_at_a_time(ASHA(specs, BUDGETS, "score", True), failing={2})
    rung_1 = {s.trial_id for s in asked if s.rung == 1}
    assert {4, 6, 8} <= rung_1 and 2 not in rung_1  # q 7, 8, 6 in place of 9 (and q 5, the best of the first 3)
    assert [s.trial_id for s in asked if s.rung == 2] == [6]


def test_a_trial_that_can_never_go_on_is_released_and_never_asked_again() -> None:
    """The engine frees a released trial's models: released means no rung will continue it. One at a time: a
    trial goes once it cannot reach its rung's top third, the top rung's as it finishes. In any order, with
    failures and brackets: no released trial is ever promoted afterwards."""
    specs = [TrialSpec(i, "toy", {"q": q}) for i, q in enumerate([5, 1, 9, 3, 7, 2, 8, 4, 6])]
    sampler, released = ASHA(specs, BUDGETS, "score", True), []
    while (spec := sampler.ask()) is not None:
        sampler.tell(_told(spec))
        released.append(set(sampler.released()))
    assert set().union(*released) == set(range(9))  # a whole race: every trial's models freed, once
    assert released[4] == {1}  # q 1, once three better ones are on rung 0 (q 5, 9, then 3 after a promotion)
    assert released[10] == {2}  # the winner, as it finishes the full budget (its 11th result)

    rng = np.random.default_rng(0)
    specs = [TrialSpec(i, "toy", {"q": float(q)}) for i, q in enumerate(rng.permutation(40))]
    sampler = ASHA(specs, BUDGETS, "score", True, brackets=3)
    running, gone = [], set()
    while True:
        while len(running) < 4 and (spec := sampler.ask()) is not None:
            assert spec.trial_id not in gone, f"trial {spec.trial_id} was released, then promoted"
            running.append(spec)
        if not running:
            break
        spec = running.pop(int(rng.integers(len(running))))
        sampler.tell(_told(spec, failing={7, 11}))
        freed = sampler.released()
        assert not gone & set(freed)  # each named once
        gone |= set(freed)
    assert sampler.finished and {7, 11} <= gone and len(gone) >= 30  # most states freed before the end


def test_lower_is_better_and_the_outcome_of_each_trial() -> None:
    specs = [TrialSpec(i, "toy", {"q": q}) for i, q in enumerate([5, 1, 9])]
    sampler = ASHA(specs, BUDGETS, "score", False)
    asked = _run_one_at_a_time(sampler)
    assert [s.trial_id for s in asked if s.rung == 2] == [1]  # 3 configurations: the best goes all the way
    assert sampler.outcome(1) == "ran the full budget (9)"
    assert sampler.outcome(0) == "stopped after rung 0 (budget 1 of 9)"
    assert sampler.report() == {"halving_configurations": 3.0, "halving_brackets": 1.0, "halving_rung_0_trials": 3.0,
                                "halving_rung_1_trials": 1.0, "halving_rung_2_trials": 1.0}  # fmt: skip


def test_brackets_deal_configurations_as_hyperband_and_hedge_against_a_misleading_first_rung() -> None:
    """Every configuration's rank on the first rungs is the reverse of its rank on the full budget (slow learners
    win): one bracket keeps the worst; Hyperband's brackets also run some on the full budget and do better."""
    specs = [TrialSpec(i, "toy", {"q": i}) for i in range(17)]

    def race(brackets: int) -> tuple[list[TrialSpec], float]:
        sampler, asked, full = ASHA(specs, BUDGETS, "score", True, brackets=brackets), [], []
        while (spec := sampler.ask()) is not None:
            asked.append(spec)
            result = TrialResult.of(spec)
            result.scores = {"score": spec.params["q"] if spec.budget == 9 else -spec.params["q"]}
            full += [result.scores["score"]] if spec.budget == 9 else []
            sampler.tell(result)
        assert sampler.finished and len(asked) == sampler.total
        return asked, max(full)

    asked, hedged = race(3)
    starts: dict[int, int] = {}
    for spec in asked:
        starts.setdefault(spec.trial_id, spec.rung)
    assert sorted(Counter(starts.values()).items()) == [(0, 10), (1, 4), (2, 3)]  # Hyperband's 9 : 4.5 : 3
    _, single = race(1)
    assert single == 0 and hedged > 10  # one bracket ends with q 0, the worst; the brackets find a top-6 one
    with pytest.raises(ZygardeError, match="1 to 3 brackets"):
        ASHA(specs, BUDGETS, "score", True, brackets=4)


def test_budgets_are_a_ninth_a_third_and_all_never_under_the_floor() -> None:
    assert rung_budgets(300, 30) == [33, 100, 300]
    assert rung_budgets(200, 30) == [30, 67, 200]  # a ninth would be 22 trees: the floor keeps 30
    assert rung_budgets(100, 10) == [11, 33, 100]
    with pytest.raises(ZygardeError, match="increasing budgets"):
        ASHA([TrialSpec(0, "toy", {})], {"toy": [3, 1]}, "score", True)


@pytest.fixture(scope="module")
def data() -> TrialData:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 6)), columns=[f"x{i}" for i in range(6)])
    y = (X["x0"] + 0.5 * X["x1"] - X["x2"] + rng.normal(scale=0.8, size=400) > 0).astype(int).to_numpy()
    return TrialData(X, y)


@pytest.mark.parametrize(
    ("algorithm", "params"),
    [
        ("rf", {"max_depth": 4}),
        ("gbt", {"max_depth": 2, "learning_rate": 0.1}),
        ("hgb", {"max_leaf_nodes": 7}),
        ("xgboost", {"max_depth": 3, "learning_rate": 0.1}),
    ],
)
def test_a_grown_trial_scores_as_one_fitted_from_scratch(data: TrialData, algorithm: str, params: dict) -> None:
    objective = CrossValidationObjective("classification", 2, 3, 0)
    low, _, state = objective.grow(TrialSpec(0, algorithm, params, 0, 10), data, None)
    first = [_first_tree(model) for model in state]
    grown, _, state = objective.grow(TrialSpec(0, algorithm, params, 1, 30), data, state)
    scratch, _ = objective(TrialSpec(0, algorithm, params, 1, 30), data)
    assert grown["roc_auc"] == pytest.approx(scratch["roc_auc"], abs=1e-9)
    assert grown["roc_auc"] != low["roc_auc"]  # it did grow
    param = "max_iter" if algorithm == "hgb" else "n_estimators"
    assert all(model.get_params()[param] == 30 for model in state)
    if algorithm != "xgboost":  # scikit-learn's warm start kept the first rung's trees: continued, not refitted
        assert [_first_tree(model) for model in state] == first


def _first_tree(model: object) -> object:
    if hasattr(model, "get_booster"):
        return model.get_booster().get_dump()[0]
    trees = getattr(model, "estimators_", None)
    return id(np.ravel(trees)[0]) if trees is not None else id(model._predictors[0][0])


def test_a_model_that_cannot_continue_sees_more_rows_each_rung(data: TrialData) -> None:
    objective = CrossValidationObjective("classification", 2, 3, 0)
    spec = TrialSpec(0, "linear", {"alpha": 1e-3, "l1_ratio": 0.5}, 0, 11)
    small, _, state = objective.grow(spec, data, None)
    full, _, _ = objective.grow(TrialSpec(0, "linear", spec.params, 2, 100), data, state)
    assert state is None and small["roc_auc"] != full["roc_auc"]
    assert full["roc_auc"] == pytest.approx(objective(TrialSpec(0, "linear", spec.params), data)[0]["roc_auc"])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"engine": "spark", "algorithms": ["rf"]}, "--search: asha grows scikit-learn and XGBoost models on the dask"),
        ({"algorithms": ["auto"]}, "use it with --engine dask and named --algorithms"),
        ({"space": {"rf": {"n_estimators": [10, 20]}}}, "--space: rf.n_estimators is what asha grows rung by rung"),
        ({"brackets": 4}, "--brackets: Input should be less than or equal to 3"),
    ],
)
def test_asha_refuses_what_it_cannot_grow_naming_the_parameter(values: dict, message: str) -> None:
    from zygarde.tabular.config import parse_config

    with pytest.raises(ZygardeError) as raised:
        parse_config(search="asha", **values)
    assert message.replace("--", "") in str(raised.value)  # a form's spelling of the fields


def test_the_terminal_shows_each_winners_budget_and_how_the_race_went(capsys: pytest.CaptureFixture[str]) -> None:
    from zygarde.tabular.printer import print_tabular

    row = {"trial": 4, "algorithm": "xgboost", "rung": 2, "budget": 300, "cv_roc_auc": 0.84, "cv_roc_auc_std": 0.02,
           "fit_seconds": 0.2, "predict_us_per_row": 30.0, "params": "max_depth=2"}  # fmt: skip
    facts = {"halving_configurations": 12.0, "halving_brackets": 3.0, "halving_rung_0_trials": 9.0,
             "halving_rung_1_trials": 5.0, "halving_rung_2_trials": 4.0}  # fmt: skip
    summary = {"selection_metric": "roc_auc", "leaderboard": [row], "n_trials": 18, "test_metrics": {"roc_auc": 0.8},
               "best_algorithm": "xgboost", "best_params": {"max_depth": 2, "n_estimators": 300},
               "model": {"name": "m", "version": "1", "became_champion": True, "reason": "first"},
               "search_wall_seconds": 1.0, "trial_fit_seconds": 2.0, "wall_seconds": 3.0, "search_facts": facts,
               "mlflow": {"tracking_uri": "sqlite:///x.db", "experiment_id": "1"}}  # fmt: skip
    print_tabular(summary)
    shown = " ".join(capsys.readouterr().out.split())
    assert "compared on the full budget" in shown and "│ 300 │" in shown
    assert "successive halving: 12 configurations in 3 brackets; 4 ran the full budget" in shown


def test_a_race_killed_mid_way_continues_from_its_journal_without_repeating_a_rung(tmp_path: Path) -> None:
    specs = [TrialSpec(i, "toy", {"q": q}) for i, q in enumerate([5, 1, 9, 3, 7, 2, 8, 4, 6])]
    whole = [(s.trial_id, s.rung) for s in _run_one_at_a_time(ASHA(specs, BUDGETS, "score", True))]

    journal = Journal(tmp_path / "study.journal")
    first = ASHA(specs, BUDGETS, "score", True)
    first.persist(journal)
    for _ in range(8):
        spec = first.ask()
        first.tell(_told(spec))
    interrupted = first.ask()  # running when the driver died: never told
    with open(journal.path, "a", encoding="utf-8") as cut:
        cut.write('{"trial_id": 3, "algor')  # a line the crash cut short

    again = ASHA(specs, BUDGETS, "score", True)
    again.persist(journal)
    restored = again.restore({})
    assert len(restored) == 8 and [r.rung for r in restored] == sorted(r.rung for r in restored)
    resumed = _run_one_at_a_time(again)
    assert (resumed[0].trial_id, resumed[0].rung) == (interrupted.trial_id, interrupted.rung)  # asked again first
    assert sorted([(r.trial_id, r.rung) for r in restored] + [(s.trial_id, s.rung) for s in resumed]) == sorted(whole)

    retried = ASHA(specs, BUDGETS, "score", True)  # a retried task: the same sampler object persists again
    retried.persist(journal)
    retried.ask()
    retried.persist(journal)
    assert len(retried.restore({})) == len(whole) and retried.ask() is None and retried.finished
