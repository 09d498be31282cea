"""What every training run returns (the JSON the CLI prints, the flow's result); families add their own fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the summary model is imported by the CLI before any service: no MLflow import here
    from zygarde.registry import RegisteredModel
    from zygarde.tracking import RunContext
    from zygarde.trials import SearchOutcome


class FlowSummary(BaseModel):
    """What every flow's summary reports: tracking, the registry decision, the search's size and times."""

    model_config = ConfigDict(extra="forbid")  # a field lost in a refactor fails loudly

    mlflow: dict[str, str]
    model: dict[str, Any]
    n_trials: int
    n_trials_failed: int
    search_wall_seconds: float
    trial_fit_seconds: float
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
