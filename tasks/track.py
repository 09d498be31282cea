"""Bookends of a run: the MLflow parent run opened with the parameters, closed with its status."""

from __future__ import annotations

from typing import Any

from prefect import runtime, task
from pydantic import BaseModel

from zygarde.settings import get_settings
from zygarde.tracking import RunContext, end_run, ensure_experiment, start_parent_run, temp_dir


@task(name="open-run", task_run_name="open MLflow run for {name}", retries=2, retry_delay_seconds=2)
def open_run(config: BaseModel, name: str, source: str, extra_params: dict[str, Any]) -> RunContext:
    """Create the experiment (if new) and the parent run; log every parameter, the seed and the data source."""
    settings = get_settings()
    uri = settings.mlflow_tracking_uri
    experiment = getattr(config, "experiment", None) or f"zygarde-{name}"
    experiment_id = ensure_experiment(uri, experiment)  # a SQLite store keeps artifacts beside its database
    tags = {
        "zygarde.dataset": name,
        "zygarde.source": source,
        "prefect.flow_run_id": str(runtime.flow_run.id or ""),
        "zygarde.seed": str(getattr(config, "seed", "")),
    }
    run_name = f"{name} {getattr(config, 'search', '')} search".replace("  ", " ")
    run_id = start_parent_run(uri, experiment_id, run_name, {**config.model_dump(), **extra_params}, tags)
    return RunContext(
        tracking_uri=uri,
        experiment_id=experiment_id,
        run_id=run_id,
        profile_dir=temp_dir() if getattr(config, "profile", False) else None,
    )


@task(name="close-run", task_run_name="close MLflow run ({status})")
def close_run(run: RunContext, status: str) -> None:
    """Mark the parent run FINISHED or FAILED."""
    end_run(run.tracking_uri, run.run_id, status)
