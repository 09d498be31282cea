"""Bookends of a run: the MLflow parent run opened with the parameters, closed with its status."""

from __future__ import annotations

import json

from prefect import runtime, task

from zygarde.config import TabularRunConfig
from zygarde.datasets import TabularDataset
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, end_run, ensure_experiment, start_parent_run, temp_dir


@task(name="open-run", task_run_name="open MLflow run for {dataset.name}", retries=2, retry_delay_seconds=2)
def open_run(config: TabularRunConfig, dataset: TabularDataset) -> RunContext:
    """Create the experiment (if new) and the parent run; log the parameters and seed."""
    settings = get_settings()
    uri = settings.mlflow_tracking_uri
    experiment_id = ensure_experiment(
        uri,
        config.experiment or f"zygarde-{dataset.name}",
        settings.artifact_root if uri.startswith("sqlite") else None,
    )
    params = {
        **config.model_dump(exclude={"space"}),
        "space": json.dumps(config.space),
        "task_resolved": dataset.task,
        "dropped_columns": json.dumps(dataset.dropped),
    }
    tags = {
        "zygarde.dataset": dataset.name,
        "zygarde.source": str(dataset.source),
        "prefect.flow_run_id": str(runtime.flow_run.id or ""),
        "zygarde.seed": str(config.seed),
    }
    run_id = start_parent_run(uri, experiment_id, f"{dataset.name} {config.search} search", params, tags)
    return RunContext(
        tracking_uri=uri, experiment_id=experiment_id, run_id=run_id, profile_dir=temp_dir() if config.profile else None
    )


@task(name="close-run", task_run_name="close MLflow run ({status})")
def close_run(run: RunContext, status: str) -> None:
    """Mark the parent run FINISHED or FAILED."""
    end_run(run.tracking_uri, run.run_id, status)
