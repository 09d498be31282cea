"""What every training run returns (the JSON the CLI prints, the flow's result); families add their own fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # the summary model is imported by the CLI before any service: no MLflow import here
    from zygarde.explain import Explanation
    from zygarde.family import ChampionRule, Evaluation
    from zygarde.registry import RegisteredModel
    from zygarde.search.trials import SearchOutcome, TrialResult
    from zygarde.tracking import RunContext


class FlowSummary(BaseModel):
    """What every flow's summary reports: tracking, the registry decision, the search's size and times."""

    model_config = ConfigDict(extra="forbid")  # a field lost in a refactor fails loudly

    mlflow: dict[str, str]
    model: dict[str, Any]
    n_trials: int
    n_trials_failed: int
    search_wall_seconds: float
    trial_fit_seconds: float
    search_facts: dict[str, float] = Field(default_factory=dict)  # worker-seconds, budget and overshoot
    wall_seconds: float | None = None


def finished(outcome: SearchOutcome, run: RunContext, registered: RegisteredModel) -> dict[str, Any]:
    """The ``FlowSummary`` fields of a finished run."""
    return {
        "mlflow": mlflow_info(run),
        "model": model_info(registered),
        "n_trials": len(outcome.results),
        "n_trials_failed": outcome.n_failed,
        "search_wall_seconds": outcome.wall_seconds,
        "trial_fit_seconds": outcome.fit_seconds,
        "search_facts": outcome.facts,
    }


def mlflow_info(run: RunContext) -> dict[str, str]:
    """Where the run's tracking lives: store, experiment and parent run."""
    return {"tracking_uri": run.tracking_uri, "experiment_id": run.experiment_id, "parent_run_id": run.run_id}


def model_info(registered: RegisteredModel) -> dict[str, Any]:
    """The registered version and the champion decision."""
    return {
        "name": registered.name,
        "version": registered.version,
        "model_uri": registered.model_uri,
        "became_champion": registered.became_champion,
        "reason": registered.reason,
        "previous_champion": registered.previous_champion,
    }


def mlflow_links(tracking_uri: str, ui_url: str, run: RunContext, registered: RegisteredModel) -> tuple[str, str]:
    """Links to the MLflow UI pages of the parent run and of the registered version."""
    base = ui_url.rstrip("/")
    return (run_link(ui_url, run.experiment_id, run.run_id),
            f"{base}/#/models/{registered.name}/versions/{registered.version}")  # fmt: skip


# MLflow 3's UI opens an experiment in its GenAI view (traces) unless the link asks for the model-training one
TRAINING_VIEW = "workflowType=machine_learning"


def run_link(ui_url: str, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI page of an experiment (or one of its runs), in the Model training view."""
    page = f"{ui_url.rstrip('/')}/#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    return f"{page}?{TRAINING_VIEW}"


def outcome_markdown(
    best: TrialResult,
    evaluation: Evaluation,
    explanation: Explanation,
    rule: ChampionRule,
    registered: RegisteredModel,
    run: RunContext,
    ui_url: str,
) -> str:
    """The run page's last word (a Prefect markdown artifact): the winner, its held-out metrics, what drives it,
    the version registered, the champion decision, and where the MLflow run and model version are."""
    run_link, model_link = mlflow_links(run.tracking_uri, ui_url, run, registered)
    params = ", ".join(f"{k}={v}" for k, v in sorted(best.params.items())) or "defaults"
    metrics = "\n".join(
        f"| {evaluation.prefix}{name} | {value:.4f} |" for name, value in sorted(evaluation.metrics.items())
    )
    verdict = "**became champion**" if registered.became_champion else "stays a **challenger**"
    previous = f"v{registered.previous_champion}" if registered.previous_champion else "none"
    drivers = "\n".join(f"| {f['feature']} | {f['importance']:.4g} |" for f in explanation.top())
    why = (f"**What drives it** ({explanation.method}{f', {explanation.rows} rows' if explanation.rows else ''}):"
           f"\n\n| feature | importance |\n|---|---|\n{drivers}\n" if drivers else "")  # fmt: skip
    return f"""## {registered.name} v{registered.version} {verdict}

**Winner**: `{best.algorithm}` ({params}), trial #{best.trial_id}

**Champion decision** ({rule.metric} on the {rule.rows}; previous champion: {previous}): {registered.reason}

| metric ({rule.rows}) | value |
|---|---|
{metrics}

{why}
- MLflow run: [{run.run_id}]({run_link}) (store `{run.tracking_uri}`)
- Model version: [{registered.name} v{registered.version}]({model_link}) (`{registered.model_uri}`)
"""
