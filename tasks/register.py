"""Stage 5: register the refitted winner; move ``champion`` only when it beats the current one."""

from __future__ import annotations

import mlflow
from prefect import task
from sklearn.pipeline import Pipeline

from zygarde.evaluate import score_model
from zygarde.objectives import CrossValidationObjective
from zygarde.preprocess import HoldoutSplit
from zygarde.registry import RegisteredModel, decide_champion, log_and_register
from zygarde.tracking import RunContext, get_client

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
        try:
            champion = mlflow.sklearn.load_model(model_uri)
            return score_model(champion, split.X_test, split.y_test, objective.task)[objective.metric]
        except Exception:  # another schema or task: fall back to its recorded score
            return None

    with stage("register", run):
        model_uri, version = log_and_register(run.tracking_uri, run.run_id, model, split.X_train, name)
        outcome = decide_champion(
            run.tracking_uri,
            name,
            version,
            model_uri,
            objective.metric,
            metrics[objective.metric],
            objective.greater_is_better,
            score_champion,
        )
    client = get_client(run.tracking_uri)
    client.set_tag(run.run_id, "zygarde.registered", f"{name} v{version}")
    client.set_tag(run.run_id, "zygarde.champion_decision", outcome.reason)
    return outcome
