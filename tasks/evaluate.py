"""Evaluate: the final model on the evaluation view: metrics, plots, the leaderboard (MLflow and Prefect)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from zygarde.explain import Explanation
from zygarde.family import Evaluation, Family, Prepared
from zygarde.registry import RegisteredModel
from zygarde.search.trials import SearchOutcome, TrialResult
from zygarde.settings import get_settings
from zygarde.summary import outcome_markdown
from zygarde.tracking import RunContext, log_metrics, log_outputs, log_text

from ._stage import stage


@task(name="evaluate", task_run_name="evaluate the winner", cache_policy=NO_CACHE)
def evaluate(
    family: Family, model: Any, prepared: Prepared[Any, Any], best: TrialResult, outcome: SearchOutcome, run: RunContext
) -> Evaluation:
    """Score the final model once on the evaluation view and publish what it shows."""
    with stage("evaluate", run):
        evaluation = family.evaluate(model, prepared, best, outcome.results)
    metrics = {f"{evaluation.prefix}{k}": v for k, v in evaluation.metrics.items()}
    log_metrics(run.tracking_uri, run.run_id, {**metrics, **{f"best_{k}": v for k, v in best.scores.items()}})
    log_outputs(run.tracking_uri, run.run_id, evaluation.figures, evaluation.json)
    for key, (description, rows) in evaluation.tables.items():
        create_table_artifact(key=key, table=_rounded(rows), description=description)
    evaluation.figures = {}  # figures are closed once logged; the rest travels on
    return evaluation


def publish_outcome(
    family: Family,
    prepared: Prepared[Any, Any],
    best: TrialResult,
    evaluation: Evaluation,
    explanation: Explanation,
    registered: RegisteredModel,
    run: RunContext,
) -> None:
    """The run's outcome in words, on the flow-run page (artifact ``outcome``) and in the MLflow run."""
    ui_url = get_settings().mlflow_ui_url
    rule = family.champion_rule(prepared)
    markdown = outcome_markdown(best, evaluation, explanation, rule, registered, run, ui_url)
    create_markdown_artifact(key="outcome", markdown=markdown, description=f"{registered.name} v{registered.version}")
    log_text(run.tracking_uri, run.run_id, markdown, "outcome.md")


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in rows]
