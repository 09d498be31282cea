import numpy as np
import pytest

from tests.helpers import DATA
from zygarde.search.trials import TrialResult, TrialSpec, keep_best_predictions, on_top_rung
from zygarde.serialization import skops_io
from zygarde.tabular.datasets import load_dataset
from zygarde.tabular.ensemble import greedy_selection, select_ensemble
from zygarde.tabular.objective import CrossValidationObjective, TrialData
from zygarde.tabular.preprocess import split_holdout

SPECS = [
    ("linear", {"alpha": 1e-3, "l1_ratio": 0.0}),
    ("rf", {"n_estimators": 40, "max_depth": 4}),
    ("xgboost", {"n_estimators": 40, "max_depth": 2}),
    ("extratrees", {"n_estimators": 40, "min_samples_leaf": 3}),
    ("lightgbm", {"n_estimators": 40, "num_leaves": 7}),
]


@pytest.fixture(scope="module")
def scored() -> tuple[TrialData, CrossValidationObjective, list[TrialResult]]:
    dataset = load_dataset("diabetes", data_root=DATA)
    split = split_holdout(dataset, 0.2, 0, 3)
    data = TrialData(split.X_train, split.y_train, columns=dataset.columns, zero_as_missing=dataset.zero_as_missing)
    objective = CrossValidationObjective("classification", 2, 3, 0, dataset.zero_as_missing, keep_predictions=True)
    results = []
    for trial_id, (algorithm, params) in enumerate(SPECS):
        mean, std, _, predictions = objective(TrialSpec(trial_id, algorithm, params), data)
        result = TrialResult(trial_id, algorithm, params, scores=mean, score_std=std, predictions=predictions)
        results.append(result)
    return data, objective, results


def test_the_ensemble_is_never_worse_in_cv_than_its_best_member(scored) -> None:
    data, objective, results = scored
    ensemble = select_ensemble(results, data, objective, on_top_rung(results))
    assert ensemble is not None and ensemble.algorithm == "ensemble"
    members = {m["trial"] for m in ensemble.params["members"]}
    best_member = max(r.scores["roc_auc"] for r in results if r.trial_id in members)
    assert ensemble.scores["roc_auc"] >= best_member - 1e-6
    assert sum(m["weight"] for m in ensemble.params["members"]) == pytest.approx(1.0)
    assert set(ensemble.score_std) | {"predict_us_per_row"} == set(ensemble.scores)


def test_the_ensemble_refits_from_its_members_and_survives_the_registrys_format(scored) -> None:
    data, objective, results = scored
    ensemble = select_ensemble(results, data, objective, on_top_rung(results))
    model = objective.build_pipeline(ensemble.spec, data).fit(data.X, data.y)
    dumped = skops_io.dumps(model)
    untrusted = skops_io.get_untrusted_types(data=dumped)
    assert any("WeightedEnsembleClassifier" in t for t in untrusted)  # a class of the package, listed by name
    loaded = skops_io.loads(dumped, trusted=untrusted)
    raw = data.X.head(20)
    assert np.allclose(loaded.predict_proba(raw), model.predict_proba(raw))
    assert set(loaded.predict(raw)) <= {0, 1}


def test_greedy_selection_keeps_the_best_prefix() -> None:
    y = np.array([0.0, 1.0, 2.0, 3.0])
    good, bad = y + 0.1, y + 5.0
    chosen = greedy_selection([bad, good], lambda p: -float(np.abs(p - y).mean()), rounds=5)
    assert chosen == [1]  # adding anything to the best single model only hurts


def test_only_the_best_predictions_of_each_algorithm_are_kept() -> None:
    copies = [TrialResult(i, "rf", {}, scores={"roc_auc": i / 10}, predictions=np.zeros(3)) for i in range(8)]
    keep_best_predictions(copies, "rf", "roc_auc", True)
    assert [r.trial_id for r in copies if r.predictions is not None] == [3, 4, 5, 6, 7]


def test_the_rank_auc_is_scikit_learns() -> None:
    from sklearn.metrics import roc_auc_score

    from zygarde.tabular.evaluate import metric_of

    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 300)
    counts = rng.integers(1, 5, (300, 3)).astype(float)  # few distinct values: ties included
    proba = counts / counts.sum(axis=1, keepdims=True)
    assert metric_of("roc_auc", y, proba) == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"), abs=1e-12)
    binary = (y == 1).astype(int)
    two = np.column_stack([1 - proba[:, 1], proba[:, 1]])
    assert metric_of("roc_auc", binary, two) == pytest.approx(roc_auc_score(binary, proba[:, 1]), abs=1e-12)
