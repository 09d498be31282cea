"""What a training run returns: the JSON the CLI prints and the flow's result."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from zygarde.datasets import TabularDataset
from zygarde.evaluate import leaderboard
from zygarde.objectives import CrossValidationObjective
from zygarde.registry import RegisteredModel
from zygarde.tracking import RunContext
from zygarde.trials import SearchOutcome, TrialResult


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
        "n_trials_failed": sum(r.error is not None for r in outcome.results),
        "search_wall_seconds": outcome.wall_seconds,
        "trial_fit_seconds": outcome.fit_seconds,
    }


class RunSummary(FlowSummary):
    """Outcome of ``train_tabular``; ``*_metrics`` say their split in the name (cv: training folds, test: held out)."""

    dataset: str
    task: str
    selection_metric: str
    best_algorithm: str
    best_params: dict[str, Any]
    cv_metrics: dict[str, float]
    test_metrics: dict[str, float]
    leaderboard: list[dict[str, Any]]
    dropped_columns: dict[str, str]


def build_summary(
    dataset: TabularDataset,
    objective: CrossValidationObjective,
    best: TrialResult,
    test_metrics: dict[str, float],
    outcome: SearchOutcome,
    run: RunContext,
    registered: RegisteredModel,
) -> RunSummary:
    """Collect the pieces of a finished run into its summary."""
    board = leaderboard(outcome.results, objective.metric, objective.greater_is_better)
    return RunSummary(
        dataset=dataset.name,
        task=dataset.task,
        selection_metric=objective.metric,
        best_algorithm=best.algorithm,
        best_params=best.params,
        cv_metrics=best.cv_mean,
        test_metrics=test_metrics,
        leaderboard=board.to_dict(orient="records"),
        dropped_columns=dataset.dropped,
        **finished(outcome, run, registered),
    )


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


class ClusterSummary(FlowSummary):
    """Outcome of the ``cluster`` flow; every metric is measured on all rows of the (filtered) table."""

    dataset: str
    restaurant: str | None
    n_rows: int
    features: list[str]
    dropped_columns: dict[str, str]
    selection_metric: str
    best_algorithm: str
    best_params: dict[str, Any]
    metrics: dict[str, float]
    best_per_algorithm: dict[str, dict[str, Any]]
    reference: dict[str, float] | None
    n_trials_degenerate: int
    leaderboard: list[dict[str, Any]]


class VisionSummary(FlowSummary):
    """Outcome of ``train_vision``: validation metrics of the search winner, test metrics of the final model."""

    dataset: str
    class_names: list[str]
    image_size: int
    n_train: int
    n_val: int
    n_test: int
    best_params: dict[str, Any]
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    quarantined: dict[str, Any]
