"""Tabular explanations: exact contributions, permutation importance that finds the known signal, partial
dependence, the fallback when time runs out, and the top models compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import DATA
from zygarde.explain import Deadline, Explanation, Steps
from zygarde.explain.tabular import (
    Rows,
    explain_tabular,
    feature_sources,
    ice_curves,
    own_importances,
    permutation_importance,
    raw_contributions,
    tree_contributions,
)
from zygarde.search.trials import TrialSpec
from zygarde.synthetic import known_signal
from zygarde.tabular.datasets import load_dataset, prepare_table
from zygarde.tabular.objective import CrossValidationObjective, TrialData
from zygarde.tabular.preprocess import split_holdout


def _fitted(frame: pd.DataFrame | None, target: str, algorithm: str, params: dict, task: str | None = None):
    dataset = (load_dataset("diabetes", data_root=DATA) if frame is None
               else prepare_table(frame, name="t", source=Path("t.csv"), target=target, task=task))  # fmt: skip
    split = split_holdout(dataset, 0.25, 0, 3)
    data = TrialData(split.X_train, split.y_train, task=dataset.task, classes=split.classes, columns=dataset.columns,
                     zero_as_missing=dataset.zero_as_missing)  # fmt: skip
    objective = CrossValidationObjective(dataset.task, max(2, len(split.classes)), 3, 0, dataset.zero_as_missing)
    model = objective.build_pipeline(TrialSpec(0, algorithm, params), data).fit(data.X, data.y)
    rows = Rows(split.X_test.reset_index(drop=True), split.y_test, dataset.task, objective.metric,
                objective.greater_is_better, 0, split.classes)  # fmt: skip
    return model, rows


def _raw_output(model, X: pd.DataFrame, algorithm: str) -> np.ndarray:
    """What a tree model's TreeSHAP contributions add up to: the margin, or a forest's probability."""
    encoded, estimator = model[:-1].transform(X), model[-1]
    if algorithm == "xgboost":
        return estimator.predict(encoded, output_margin=True)
    if algorithm == "lightgbm":
        return estimator.predict(encoded, raw_score=True)
    if algorithm in ("rf", "extratrees"):
        return estimator.predict_proba(encoded)[:, 1]
    return estimator.decision_function(encoded)


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm", "rf", "extratrees", "gbt", "hgb"])
def test_tree_contributions_add_up_to_the_models_output(algorithm: str) -> None:
    params = {"n_estimators": 30, "max_depth": 3} if algorithm != "hgb" else {"max_iter": 30, "max_depth": 3}
    model, rows = _fitted(None, "Outcome", algorithm, params)
    values, names = raw_contributions(model, rows.X)
    output = _raw_output(model, rows.X, algorithm)
    assert values.shape == (len(rows.y), 1, len(names) + 1)
    np.testing.assert_allclose(values.sum(axis=-1)[:, 0], output, atol=1e-4)
    per_column, base = tree_contributions(model, rows.X)
    assert list(per_column.columns) == list(rows.X.columns)  # the missing indicators folded into their column
    np.testing.assert_allclose(per_column.sum(axis=1) + base, output, atol=1e-4)


def test_shaps_tree_explainer_agrees_with_xgboosts_own_contributions() -> None:
    import shap

    model, rows = _fitted(None, "Outcome", "xgboost", {"n_estimators": 40, "max_depth": 4})
    encoded = model[:-1].transform(rows.X)
    values, _ = raw_contributions(model, rows.X)
    np.testing.assert_allclose(shap.TreeExplainer(model[-1]).shap_values(encoded), values[:, 0, :-1], atol=1e-5)


@pytest.mark.parametrize("algorithm", ["xgboost", "rf"])
def test_multiclass_contributions_add_up_per_class(algorithm: str) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    frame["kind"] = np.select([frame.a > 0.5, frame.b > 0], ["x", "y"], "z")
    model, rows = _fitted(frame, "kind", algorithm, {"n_estimators": 20, "max_depth": 2})
    values, _ = raw_contributions(model, rows.X)
    encoded = model[:-1].transform(rows.X)
    output = (model[-1].predict(encoded, output_margin=True) if algorithm == "xgboost"
              else model[-1].predict_proba(encoded))  # fmt: skip
    assert values.shape[1] == 3
    np.testing.assert_allclose(values.sum(axis=-1), output, atol=1e-4)


def test_permutation_importance_and_contributions_rank_the_known_signal_first() -> None:
    model, rows = _fitted(known_signal(3000), "label", "xgboost", {"n_estimators": 80, "max_depth": 3})
    ranked = permutation_importance(model, rows.sample(), Deadline(float("inf")))
    assert set(ranked["feature"][:5]) == {f"i{k}" for k in range(5)}
    assert ranked["feature"][0] == "i0" and (ranked["std"] >= 0).all()
    contributions, _ = tree_contributions(model, rows.X)
    assert set(contributions.abs().mean().sort_values(ascending=False).index[:5]) == {f"i{k}" for k in range(5)}


def test_an_explanation_out_of_time_falls_back_to_the_models_own_importances_and_says_so() -> None:
    model, rows = _fitted(None, "Outcome", "rf", {"n_estimators": 30, "max_depth": 4})
    explanation = explain_tabular(model, rows, seconds=0.0)
    assert explanation.method.startswith("the model's own importances (impurity or gain")
    assert "permutation importance did not finish" in explanation.method and explanation.rows == 0
    assert any("permutation importance: skipped" in note for note in explanation.notes), explanation.notes
    assert explanation.importance[0]["feature"] == "Glucose"
    assert "explain/importance.png" in explanation.figures


def test_a_step_past_its_deadline_is_noted_and_the_next_one_still_runs() -> None:
    explanation = Explanation()
    steps = Steps(5.0, explanation)

    def slow(deadline: Deadline) -> int:
        deadline.at = 0  # as if the time had passed
        deadline.check()
        return 1

    assert steps.run("slow", slow) is None and steps.run("quick", lambda _: 2) == 2
    assert steps.run("broken", lambda _: 1 / 0) is None
    assert explanation.notes[0].startswith("slow: ran out of its time")
    assert explanation.notes[1].startswith("broken: failed (ZeroDivisionError")


def test_a_full_explanation_of_a_regression_with_categories_and_dates() -> None:
    rng = np.random.default_rng(2)
    built = pd.to_datetime("2000-01-01") + pd.to_timedelta(rng.integers(0, 9000, 800), "D")
    frame = pd.DataFrame({"size": rng.uniform(20, 200, 800), "city": rng.choice(["a", "b", "c"], 800), "built": built})
    frame["price"] = 3 * frame["size"] + 50 * (frame.city == "a") + rng.normal(scale=10, size=800)
    model, rows = _fitted(frame, "price", "xgboost", {"n_estimators": 60, "max_depth": 3}, task="regression")
    explanation = explain_tabular(model, rows, seconds=30, competitors=[("champion", lambda _: model),
                                                                        ("again", lambda _: model)])  # fmt: skip
    assert explanation.importance[0]["feature"] == "size" and explanation.rows == len(rows.y)
    assert set(explanation.json) >= {f"explain/{name}.json" for name in (
        "importance", "shap", "partial_dependence", "models_importance", "predictions_correlation")}  # fmt: skip
    curve = explanation.json["explain/partial_dependence.json"]["features"]["size"]["average"]
    assert curve[-1] > curve[0] + 300  # price grows with size
    grid, curves = ice_curves(model, rows.sample(50), "size")
    assert curves.shape == (50, len(grid))


def test_feature_sources_and_own_importances_fold_encoded_features_into_their_column() -> None:
    assert feature_sources(["glucose", "missingindicator_glucose", "colour_red", "when_month", "a_b_c"],
                           ["glucose", "colour", "when", "a", "a_b"]) == ["glucose", "glucose", "colour", "when",
                                                                          "a_b"]  # fmt: skip
    model, rows = _fitted(None, "Outcome", "linear", {"alpha": 1e-3, "l1_ratio": 0.0})
    ranked, what = own_importances(model, list(rows.X.columns))
    assert what.startswith("|coefficient|") and set(ranked["feature"]) == set(rows.X.columns)


def test_the_single_column_effect_explains_a_model_without_trees() -> None:
    from zygarde.explain.rows import row_contributions, top_columns

    model, rows = _fitted(known_signal(1500), "label", "linear", {"alpha": 1e-3, "l1_ratio": 0.0})
    contributions, method = row_contributions(model, rows.X.head(30), "classification", rows.X.tail(200))
    assert method.startswith("single-column effect") and "not additive" in method
    assert contributions.shape == (30, rows.X.shape[1])
    mean_abs = contributions.abs().mean().sort_values(ascending=False)
    assert mean_abs.index[0] == "i0" and set(mean_abs.index[:5]) == {f"i{k}" for k in range(5)}
    top = top_columns(contributions, 2)
    assert list(top) == ["top_1_column", "top_1_contribution", "top_2_column", "top_2_contribution"]
    assert all(abs(a) >= abs(b) for a, b in zip(top["top_1_contribution"], top["top_2_contribution"], strict=True))
