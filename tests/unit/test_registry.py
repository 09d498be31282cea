"""promote() and register() against a real MLflow SQLite store: compare-and-swap, idempotence, honesty."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from zygarde.errors import ZygardeError
from zygarde.registry import Challenger, current_champion, log_sklearn, promote, register
from zygarde.tracking import ensure_experiment, get_client, start_parent_run

FRAME = pd.DataFrame({"a": [0, 1, 2, 3, 4, 5], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.5]})


def _version(uri: str, name: str) -> tuple[str, str]:
    model = Pipeline([("model", LogisticRegression())]).fit(FRAME, [0, 1, 0, 1, 0, 1])
    run_id = start_parent_run(uri, ensure_experiment(uri, "registry-test"), "r", {}, {})
    return register(uri, name, run_id, lambda: log_sklearn(uri, run_id, model, FRAME))


def _promote(uri: str, name: str, version: str, value: float, champion_score, locks: Path, greater: bool = True):
    challenger = Challenger(name, version, f"models:/{name}/{version}", value, champion_score)
    return promote(uri, challenger, "roc_auc" if greater else "rmse", greater, "test split", locks)


def test_champion_moves_only_to_a_better_model(tracking_uri: str, tmp_path: Path) -> None:
    name = "zygarde-registry-test"
    _, v1 = _version(tracking_uri, name)
    first = _promote(tracking_uri, name, v1, 0.80, lambda uri: 0.0, tmp_path)
    assert first.became_champion and current_champion(tracking_uri, name) == v1

    _, v2 = _version(tracking_uri, name)
    worse = _promote(tracking_uri, name, v2, 0.75, lambda uri: 0.81, tmp_path)
    assert not worse.became_champion and current_champion(tracking_uri, name) == v1
    assert "does not beat champion v1 (0.8100, re-scored on this run's test split)" in worse.reason

    _, v3 = _version(tracking_uri, name)
    better = _promote(tracking_uri, name, v3, 0.90, lambda uri: 0.81, tmp_path)
    assert better.became_champion and current_champion(tracking_uri, name) == v3
    tags = get_client(tracking_uri).get_model_version(name, v3).tags
    assert tags["previous_champion"] == v1 and "beats champion v1" in tags["champion_decision"]


def test_lower_is_better_metrics(tracking_uri: str, tmp_path: Path) -> None:
    name = "zygarde-rmse-test"
    _, v1 = _version(tracking_uri, name)
    _promote(tracking_uri, name, v1, 3.0, lambda uri: 0.0, tmp_path, greater=False)
    _, v2 = _version(tracking_uri, name)
    assert _promote(tracking_uri, name, v2, 2.5, lambda uri: 3.0, tmp_path, greater=False).became_champion


def test_a_champion_that_cannot_be_scored_here_is_not_beaten_by_numbers_from_elsewhere(
    tracking_uri: str, tmp_path: Path
) -> None:
    name = "zygarde-unscorable"
    _, v1 = _version(tracking_uri, name)
    _promote(tracking_uri, name, v1, 0.60, lambda uri: 0.0, tmp_path)
    _, v2 = _version(tracking_uri, name)

    def incompatible(uri: str) -> float:
        raise ValueError("columns are missing: ['Glucose']")

    outcome = _promote(tracking_uri, name, v2, 0.99, incompatible, tmp_path)
    assert not outcome.became_champion and current_champion(tracking_uri, name) == v1
    assert "could not be scored on this run's test split" in outcome.reason and "stays a challenger" in outcome.reason


def test_a_retried_register_creates_no_second_version(tracking_uri: str) -> None:
    name = "zygarde-retried"
    model = Pipeline([("model", LogisticRegression())]).fit(FRAME, [0, 1, 0, 1, 0, 1])
    run_id = start_parent_run(tracking_uri, ensure_experiment(tracking_uri, "retry"), "r", {}, {})
    logged: list[str] = []

    def log_model() -> str:
        logged.append("x")
        return log_sklearn(tracking_uri, run_id, model, FRAME)

    first = register(tracking_uri, name, run_id, log_model)
    again = register(tracking_uri, name, run_id, log_model)
    assert first[1] == again[1] and len(logged) == 1
    assert len(get_client(tracking_uri).search_model_versions(f"name = '{name}'")) == 1


def test_a_registry_that_cannot_be_read_is_an_error_not_no_champion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with pytest.raises(ZygardeError, match=r"Could not read the champion of m from http://127\.0\.0\.1:9"):
        current_champion("http://127.0.0.1:9", "m")


def _race(uri: str, name: str, version: str, value: float, champion: float, locks: str, start) -> None:
    start.wait()
    _promote(uri, name, version, value, lambda _: champion, Path(locks))


def test_concurrent_promotions_leave_the_better_model_champion(tracking_uri: str, tmp_path: Path) -> None:
    """Two processes promote at once; whatever the order, the better one ends as champion (the other compares
    against it under the lock)."""
    name = "zygarde-race"
    _, weak = _version(tracking_uri, name)
    _, strong = _version(tracking_uri, name)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    # each process scores "the champion" as the other one's value: the stored truth of this race
    racers = [
        context.Process(target=_race, args=(tracking_uri, name, weak, 0.70, 0.90, str(tmp_path), start)),
        context.Process(target=_race, args=(tracking_uri, name, strong, 0.90, 0.70, str(tmp_path), start)),
    ]
    for racer in racers:
        racer.start()
    start.set()
    for racer in racers:
        racer.join(120)
        assert racer.exitcode == 0
    assert current_champion(tracking_uri, name) == strong


def test_sqlite_store_keeps_artifacts_beside_its_database(tracking_uri: str) -> None:
    experiment_id = ensure_experiment(tracking_uri, "where-artifacts-go")
    location = get_client(tracking_uri).get_experiment(experiment_id).artifact_location
    database = tracking_uri.removeprefix("sqlite:///")
    assert location.startswith(Path(database).parent.as_uri()), location
