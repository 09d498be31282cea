"""Bookends of a run: the MLflow parent run opened (once per flow run) and closed with the run's outcome."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import runtime, task
from prefect.cache_policies import NO_CACHE

from zygarde.family import Family
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, end_run, ensure_experiment, start_parent_run, temp_dir


@task(name="open-run", task_run_name="open MLflow run", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def open_run(family: Family, loaded: Any) -> RunContext:
    """Create the experiment (if new) and the parent run, keyed by the flow run: a retry reuses it."""
    uri = get_settings().mlflow_tracking_uri
    config = family.config
    identity = family.identify(loaded)
    experiment_id = ensure_experiment(uri, getattr(config, "experiment", None) or f"zygarde-{identity.dataset}")
    flow_run_id = str(runtime.flow_run.id or "")
    tags = {
        "zygarde.dataset": identity.dataset,
        "zygarde.source": identity.source,
        "zygarde.family": family.kind,
        "zygarde.registry_name": identity.registry_name,
        "prefect.flow_run_id": flow_run_id,
        "zygarde.seed": str(getattr(config, "seed", "")),
    }
    run_name = f"{identity.dataset} {getattr(config, 'search', '')} search".replace("  ", " ")
    params = {**config.model_dump(), **identity.params}
    run_id = start_parent_run(uri, experiment_id, run_name, params, tags, run_key=flow_run_id or None)
    return RunContext(
        tracking_uri=uri,
        experiment_id=experiment_id,
        run_id=run_id,
        registry_name=identity.registry_name,
        profile_dir=temp_dir() if getattr(config, "profile", False) else None,
    )


@contextmanager
def closing_run(run: RunContext) -> Iterator[RunContext]:
    """Close the parent run FINISHED, or FAILED on any exception (cancellation and interrupts included)."""
    try:
        yield run
    except BaseException:
        end_run(run.tracking_uri, run.run_id, "FAILED")
        raise
    end_run(run.tracking_uri, run.run_id, "FINISHED")
