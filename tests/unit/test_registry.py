"""Champion logic against a real MLflow SQLite store."""

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from zygarde.registry import current_champion, decide_champion, log_and_register
from zygarde.tracking import ensure_experiment, get_client, start_parent_run


def _register(uri: str, name: str) -> tuple[str, str]:
    frame = pd.DataFrame({"a": [0, 1, 2, 3, 4, 5], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.5]})
    model = Pipeline([("model", LogisticRegression())]).fit(frame, [0, 1, 0, 1, 0, 1])
    experiment = ensure_experiment(uri, "registry-test")
    run_id = start_parent_run(uri, experiment, "r", {}, {})
    return log_and_register(uri, run_id, model, frame, name)


def test_champion_moves_only_to_a_better_model(tracking_uri: str) -> None:
    name = "zygarde-registry-test"
    uri1, v1 = _register(tracking_uri, name)
    first = decide_champion(tracking_uri, name, v1, uri1, "roc_auc", 0.80, True, lambda uri: None)
    assert first.became_champion and current_champion(tracking_uri, name) == v1

    uri2, v2 = _register(tracking_uri, name)
    worse = decide_champion(tracking_uri, name, v2, uri2, "roc_auc", 0.75, True, lambda uri: 0.81)
    assert not worse.became_champion and current_champion(tracking_uri, name) == v1
    assert "does not beat champion v1 (0.8100, re-scored" in worse.reason

    uri3, v3 = _register(tracking_uri, name)
    better = decide_champion(tracking_uri, name, v3, uri3, "roc_auc", 0.90, True, lambda uri: None)
    assert better.became_champion and current_champion(tracking_uri, name) == v3
    tags = get_client(tracking_uri).get_model_version(name, v3).tags
    assert tags["previous_champion"] == v1 and "recorded test score" in tags["champion_decision"]


def test_lower_is_better_metrics(tracking_uri: str) -> None:
    name = "zygarde-rmse-test"
    uri1, v1 = _register(tracking_uri, name)
    decide_champion(tracking_uri, name, v1, uri1, "rmse", 3.0, False, lambda uri: None)
    uri2, v2 = _register(tracking_uri, name)
    assert decide_champion(tracking_uri, name, v2, uri2, "rmse", 2.5, False, lambda uri: 3.0).became_champion


def test_sqlite_store_keeps_artifacts_beside_its_database(tracking_uri: str) -> None:
    experiment_id = ensure_experiment(tracking_uri, "where-artifacts-go")
    location = get_client(tracking_uri).get_experiment(experiment_id).artifact_location
    database = tracking_uri.removeprefix("sqlite:///")
    assert location.startswith(Path(database).parent.as_uri()), location
