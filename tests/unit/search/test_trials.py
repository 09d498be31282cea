import pytest

from zygarde.errors import ZygardeError
from zygarde.tabular.algorithms import ALGORITHMS
from zygarde.tabular.catalog import plan_trials
from zygarde.tabular.config import parse_config


def test_grid_expands_every_combination_and_ids_are_unique() -> None:
    specs = plan_trials(["rf", "xgboost"], "grid", 1, 0)
    sizes = {name: len([s for s in specs if s.algorithm == name]) for name in ("rf", "xgboost")}
    assert sizes == {"rf": 24, "xgboost": 24}
    assert len({s.trial_id for s in specs}) == len(specs)


def test_random_search_draws_n_per_algorithm_reproducibly() -> None:
    first = plan_trials(["gbt", "xgboost"], "random", 5, 3)
    assert len(first) == 10 and first == plan_trials(["gbt", "xgboost"], "random", 5, 3)
    assert first != plan_trials(["gbt", "xgboost"], "random", 5, 4)


def test_user_space_replaces_the_declared_one() -> None:
    specs = plan_trials(["xgboost"], "grid", 1, 0, {"xgboost": {"max_depth": [2, 3], "learning_rate": [0.1]}})
    assert [s.params for s in specs] == [{"learning_rate": 0.1, "max_depth": 2}, {"learning_rate": 0.1, "max_depth": 3}]
    assert len(plan_trials(["xgboost"], "random", 50, 0, {"xgboost": {"max_depth": [2, 3]}})) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algorithms": ["svm"]}, "algorithms: Input should be"),
        ({"search": "bayes"}, "search: Input should be"),
        ({"trials": 0}, "trials: Input should be greater than or equal to 1"),
        ({"cv": 1}, "cv: Input should be"),
        ({"space": {"xgboost": {"depth": [1]}}}, "has no parameter 'depth'"),
        ({"space": {"xgboost": {"max_depth": 3}}}, "space: "),
    ],
)
def test_impossible_parameters_name_the_parameter(kwargs: dict, message: str) -> None:
    with pytest.raises(ZygardeError, match=message):
        parse_config(**kwargs)


def test_every_algorithm_builds_with_its_declared_grid() -> None:
    for algorithm in ALGORITHMS.values():
        for task in ("classification", "regression"):
            estimator = algorithm.build(task, 0)
            assert set(algorithm.grid) <= set(estimator.get_params())
            assert set(algorithm.distributions) <= set(estimator.get_params())


def test_messages_name_options_as_the_command_line_spells_them_only_there() -> None:
    from zygarde import errors

    assert errors.option("test_size") == "test_size"  # a form or a job spec: the field's own name
    errors.speak_cli()
    try:
        assert errors.option("test_size") == "--test-size"
    finally:
        errors._SURFACE["name"] = "form"


def test_a_fixed_plan_restores_the_trials_an_earlier_attempt_finished() -> None:
    from zygarde.search.samplers.fixed import FixedSampler
    from zygarde.search.trials import TrialResult, TrialSpec

    specs = [TrialSpec(i, "rf", {"n": i}) for i in range(4)]
    done = TrialResult(1, "rf", {"n": 1}, scores={"roc_auc": 0.8})
    stale = TrialResult(2, "rf", {"n": 99}, scores={"roc_auc": 0.9})  # same number, other parameters: not it
    sampler = FixedSampler(specs)
    assert sampler.restore({done.key: done, stale.key: stale}) == [done]
    assert [s.trial_id for s in iter(sampler.ask, None)] == [0, 2, 3]


def test_the_leaderboards_first_row_is_the_trial_selection_picks_in_a_rung_search() -> None:
    """The vision leaderboard ranked every rung while selection ranked the top rung only: its first row could be
    a trial stopped on a lower rung, which could not win."""
    from zygarde.search.trials import TrialResult, best_result, leaderboard, on_top_rung

    stopped = TrialResult(0, "cnn", {"width": 8}, rung=0, budget=2, scores={"val_accuracy": 0.95})
    finished = TrialResult(1, "cnn", {"width": 16}, rung=1, budget=6, scores={"val_accuracy": 0.90})
    results = [stopped, finished]
    board = leaderboard(results, "val_accuracy", True)
    chosen = best_result(results, "val_accuracy", True, on_top_rung(results))
    assert chosen is finished and board.iloc[0]["trial"] == chosen.trial_id and len(board) == 1
