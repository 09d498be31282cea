import json
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_validate

from zygarde.search.trials import TrialSpec
from zygarde.tabular.objective import CrossValidationObjective, TrialData


@pytest.fixture
def data() -> TrialData:
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": np.where(rng.random(n) < 0.2, 0.0, rng.normal(5, 1, size=n)),
            "colour": rng.choice(["red", "green", "blue", None], size=n),
        }
    )
    y = ((frame["a"] + (frame["colour"] == "red")) > 0.3).to_numpy(dtype=int)
    return TrialData(frame, y)


@pytest.mark.parametrize(
    ("algorithm", "params"),
    [
        ("rf", {"n_estimators": 20, "max_depth": 3}),
        ("gbt", {"n_estimators": 20, "max_depth": 3}),
        ("xgboost", {"n_estimators": 20, "max_depth": 3}),
        ("linear", {"alpha": 1e-3, "l1_ratio": 0.5}),
        ("hgb", {"max_iter": 20, "max_leaf_nodes": 7}),
    ],
)
def test_prepared_folds_score_exactly_like_the_whole_pipeline(
    data: TrialData, algorithm: str, params: dict[str, float]
) -> None:
    objective = CrossValidationObjective("classification", 2, 4, 7, zero_as_missing=("b",))
    spec = TrialSpec(0, algorithm, params)
    mean, std = objective(spec, data)
    reference = cross_validate(
        objective.build_pipeline(spec, data),
        data.X,
        data.y,
        cv=objective.folds(),
        scoring={name: scorer for name, (scorer, _) in objective.scorers.items()},
    )
    assert mean["roc_auc"] > 0.7  # the signal is found
    for name in objective.scorers:
        assert mean[name] == pytest.approx(reference[f"test_{name}"].mean(), abs=1e-12)
        assert std[name] == pytest.approx(reference[f"test_{name}"].std(), abs=1e-12)


def test_folds_are_prepared_once_per_plan_and_never_pickled(data: TrialData) -> None:
    objective = CrossValidationObjective("classification", 2, 3, 0)
    first = objective.prepare_folds(data)
    assert objective.prepare_folds(data) is first
    other = CrossValidationObjective("classification", 2, 5, 0).prepare_folds(data)
    assert len(first) == 3 and len(other) == 5 and len(data.prepared) == 2
    assert pickle.loads(pickle.dumps(data)).prepared == {}
    for fold in first:  # each fold's preprocessor saw only its training rows: test rows keep their own scale
        assert fold.X_train.shape[0] + fold.X_test.shape[0] == len(data.X)
        assert abs(fold.X_train[:, 0].mean()) < 1e-9


def test_regression_reports_rmse_as_a_positive_loss() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=80)})
    y = 3 * X["x"].to_numpy() + rng.normal(scale=0.1, size=80)
    objective = CrossValidationObjective("regression", 0, 4, 0)
    mean, _ = objective(TrialSpec(0, "xgboost", {"n_estimators": 50}), TrialData(X, y))
    assert objective.metric == "rmse" and not objective.greater_is_better
    assert 0 < mean["rmse"] < 1.5 and mean["r2"] > 0.8


def test_a_trial_keeps_each_finished_fold_and_fits_only_the_missing_ones_again(data: TrialData, tmp_path) -> None:
    spec = TrialSpec(0, "rf", {"n_estimators": 10, "max_depth": 3})
    plain = CrossValidationObjective("classification", 2, 3, 7)
    kept = plain.with_checkpoints(str(tmp_path / "folds"))
    mean, std = kept(spec, data)
    assert _scores(mean, std) == _scores(*plain(spec, data))  # checkpoints change no score
    files = sorted((tmp_path / "folds").glob("*.json"))
    assert [f.name.rsplit(".", 2)[1] for f in files] == ["0", "1", "2"]  # one per fold, none half-written

    # as after a crash: fold 0 finished (with a score of its own, to see it read back), fold 2 never did
    before = [json.loads(f.read_text())["roc_auc"] for f in files]
    files[0].write_text(json.dumps({**json.loads(files[0].read_text()), "roc_auc": 0.0}))
    files[2].unlink()
    again, _ = kept(spec, data)
    after = [json.loads(f.read_text())["roc_auc"] for f in files]
    assert after == [0.0, before[1], before[2]]  # fold 2 fitted again, to the same score
    assert again["roc_auc"] == pytest.approx((before[1] + before[2]) / 3)  # fold 0 read, not fitted

    # other rows (the table changed on disk before a resume): nothing is reused
    changed = TrialData(data.X.assign(a=data.X["a"] + 1.0), data.y)
    assert _scores(*kept(spec, changed)) == _scores(*plain(spec, changed))


def test_fold_checkpoints_are_best_effort(data: TrialData, tmp_path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # the folder cannot be made: every fold is computed, as without checkpoints
    spec = TrialSpec(0, "linear", {"alpha": 1e-3, "l1_ratio": 0.5})
    plain = CrossValidationObjective("classification", 2, 3, 7)
    assert _scores(*plain.with_checkpoints(str(blocked / "folds"))(spec, data)) == _scores(*plain(spec, data))


def _scores(mean: dict[str, float], std: dict[str, float]) -> list[dict[str, float]]:
    """The scores, without the predict time (a measurement, never the same twice)."""
    return [{k: v for k, v in part.items() if k != "predict_us_per_row"} for part in (mean, std)]
