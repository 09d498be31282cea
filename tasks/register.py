"""Last stage: register the refitted winner; move ``champion`` only when it beats the current one."""

from __future__ import annotations

from collections.abc import Callable

import mlflow
import numpy as np
from prefect import task
from sklearn.pipeline import Pipeline

from zygarde.clustering import ClusterTable, cluster_metrics, degenerate_reason
from zygarde.evaluate import score_model
from zygarde.objectives import CrossValidationObjective
from zygarde.preprocess import HoldoutSplit
from zygarde.registry import RegisteredModel, decide_champion, log_and_register
from zygarde.tracking import RunContext, fluent_tracking_uri, get_client

from ._stage import stage


@task(name="register", task_run_name="register {name}", retries=1, retry_delay_seconds=2)
def register(
    model: Pipeline,
    split: HoldoutSplit,
    objective: CrossValidationObjective,
    metrics: dict[str, float],
    name: str,
    run: RunContext,
) -> RegisteredModel:
    """Log the pipeline with signature and input example, register a version, decide the champion."""

    def score_champion(model_uri: str) -> float | None:
        champion = mlflow.sklearn.load_model(model_uri)
        return score_model(champion, split.X_test, split.y_test, objective.task)[objective.metric]

    metric = objective.metric
    return register_version(
        lambda: log_and_register(run.tracking_uri, run.run_id, model, split.X_train, name),
        name, run, metric, metrics[metric], objective.greater_is_better, score_champion, "test",
    )  # fmt: skip


@task(name="register", task_run_name="register {name}", retries=1, retry_delay_seconds=2)
def register_clusterer(
    model: Pipeline, table: ClusterTable, silhouette: float, name: str, run: RunContext
) -> RegisteredModel:
    """Register the clustering pipeline; the champion is re-scored by silhouette on this run's rows.

    A champion whose labelling of these rows is degenerate (the rule that keeps a trial from being
    selected) scores minus infinity, so any usable clustering replaces it.
    """

    def score_champion(model_uri: str) -> float | None:
        champion = mlflow.sklearn.load_model(model_uri)
        labels = np.asarray(champion.predict(table.X))
        metrics = cluster_metrics(champion[:-1].transform(table.X), labels)
        return float("-inf") if degenerate_reason(metrics) else metrics["silhouette"]

    return register_version(
        lambda: log_and_register(run.tracking_uri, run.run_id, model, table.X, name),
        name, run, "silhouette", silhouette, True, score_champion, "table",
    )  # fmt: skip


def register_version(
    log_model: Callable[[], tuple[str, str]],
    name: str,
    run: RunContext,
    metric: str,
    value: float,
    greater_is_better: bool,
    score_champion: Callable[[str], float | None],
    split: str,
) -> RegisteredModel:
    """Log and register a model (``log_model``), then move ``champion`` only if it beats the current one."""

    def rescore(model_uri: str) -> float | None:
        try:
            with fluent_tracking_uri(run.tracking_uri):  # models:/ URIs resolve against this run's registry
                return score_champion(model_uri)
        except Exception:  # another schema or task: fall back to its recorded score
            return None

    with stage("register", run):
        model_uri, version = log_model()
        outcome = decide_champion(
            run.tracking_uri, name, version, model_uri, metric, value, greater_is_better, rescore, split
        )
    client = get_client(run.tracking_uri)
    client.set_tag(run.run_id, "zygarde.registered", f"{name} v{version}")
    client.set_tag(run.run_id, "zygarde.champion_decision", outcome.reason)
    return outcome
