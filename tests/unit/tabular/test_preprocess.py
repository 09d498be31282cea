import numpy as np
import pandas as pd
import pytest

from tests.helpers import DATA
from zygarde.errors import ZygardeError
from zygarde.tabular.columns import plan_columns
from zygarde.tabular.datasets import load_dataset, prepare_table
from zygarde.tabular.preprocess import ZeroAsMissing, build_preprocessor, split_holdout


def test_zeros_become_missing_only_in_the_named_columns() -> None:
    frame = pd.DataFrame({"Insulin": [0.0, 5.0], "Pregnancies": [0, 2]})
    out = ZeroAsMissing(("Insulin",)).fit(frame).transform(frame)
    assert np.isnan(out.loc[0, "Insulin"]) and out.loc[0, "Pregnancies"] == 0


def test_preprocessor_imputes_scales_and_one_hot_encodes() -> None:
    frame = pd.DataFrame({"num": [1.0, np.nan, 3.0, 5.0, 7.0, 9.0], "cat": ["a", "b", None, "a", "a", "a"]})
    out = build_preprocessor(plan_columns(frame, "")).fit_transform(frame)
    assert not np.isnan(out).any()
    assert out.shape[0] == 6 and abs(out[:, 0].mean()) < 1e-9


def test_imputation_statistics_come_from_the_fitted_rows_only() -> None:
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    test = pd.DataFrame({"x": [np.nan, 1000.0]})
    pipeline = build_preprocessor(plan_columns(train, "")).fit(train)
    imputer = pipeline.named_steps["columns"].named_transformers_["numeric"].named_steps["impute"]
    assert imputer.statistics_[0] == 2.0
    assert pipeline.transform(test)[0, 0] == pytest.approx(0.0)


def test_holdout_is_stratified_and_seeded() -> None:
    dataset = load_dataset("diabetes", data_root=DATA)
    first, second = split_holdout(dataset, 0.2, 7, 5), split_holdout(dataset, 0.2, 7, 5)
    assert first.X_test.equals(second.X_test)
    assert len(first.X_test) == 154 and first.classes == ["0", "1"]
    assert abs(first.y_test.mean() - first.y_train.mean()) < 0.01


def test_fewer_rows_than_folds_and_single_class_are_refused() -> None:
    tiny = prepare_table(
        pd.DataFrame({"x": range(8), "y": [0, 1] * 4}),
        name="tiny",
        source=DATA / "tiny.csv",
        target="y",
        task="classification",
    )
    with pytest.raises(ZygardeError, match="fewer than the 5 cross-validation folds"):
        split_holdout(tiny, 0.25, 0, 5)
    single = prepare_table(
        pd.DataFrame({"x": [i % 3 for i in range(20)], "y": [1] * 20}),
        name="one",
        source=DATA / "one.csv",
        target="y",
        task="classification",
    )
    with pytest.raises(ZygardeError, match="single class"):
        split_holdout(single, 0.2, 0, 5)
