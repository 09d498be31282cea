import numpy as np
import pandas as pd
import pytest

from zygarde.errors import ZygardeError
from zygarde.tabular.columns import plan_columns
from zygarde.tabular.config import parse_config
from zygarde.tabular.family import TabularFamily
from zygarde.tabular.objective import TrialData
from zygarde.tabular.sizing import HOLDOUT_ROWS, CostEstimate, affordable, estimate_costs


@pytest.fixture(scope="module")
def large() -> TrialData:
    rows = HOLDOUT_ROWS + 5_000
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(rows, 6)), columns=[f"x{i}" for i in range(6)])
    y = (X["x0"] + rng.normal(size=rows) > 0).to_numpy().astype(int)
    return TrialData(X, y, classes=["0", "1"], columns=plan_columns(X, ""))


def test_a_large_table_is_scored_on_one_hold_out_part_unless_cv_is_given(large: TrialData) -> None:
    objective = TabularFamily(parse_config())._objective(large)
    assert objective.holdout and objective.n_folds == 1 and objective.validation.startswith("hold-out")
    (_, test), *rest = objective.folds().split(large.X, large.y)
    assert not rest and len(test) == pytest.approx(0.2 * len(large.y), abs=1)
    assert not TabularFamily(parse_config(cv=5))._objective(large).holdout
    small = TrialData(large.X.head(1000), large.y[:1000], classes=["0", "1"])
    assert not TabularFamily(parse_config())._objective(small).holdout


def test_the_cost_of_a_trial_is_estimated_from_two_timed_samples(large: TrialData) -> None:
    objective = TabularFamily(parse_config())._objective(large)
    estimate = estimate_costs(objective, large, ["linear", "rf"])
    assert set(estimate.per_trial) == {"linear", "rf"} and all(s > 0 for s in estimate.per_trial.values())
    assert estimate.search_seconds({"linear": 4, "rf": 4}, 2) == pytest.approx(2 * sum(estimate.per_trial.values()))


def test_algorithms_that_cannot_finish_are_left_out_with_a_note() -> None:
    estimate = CostEstimate({"gbt": 7200.0, "lightgbm": 30.0})
    kept, notes = affordable(estimate, ["gbt", "lightgbm"], 2_000_000, None)
    assert kept == ["lightgbm"] and "gbt left out" in notes[0] and "2.0 h" in notes[0]
    with pytest.raises(ZygardeError, match="No algorithm asked for can finish a trial"):
        affordable(estimate, ["gbt"], 2_000_000, time_budget=60)
