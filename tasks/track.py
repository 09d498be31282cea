"""Bookends of a run: the training slot of its registry name, and the MLflow parent run opened (once per flow run)
and closed with the run's outcome."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from prefect import get_run_logger, runtime, task
from prefect.cache_policies import NO_CACHE

from zygarde.family import Family
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, end_run, ensure_experiment, reopen_run, run_params, start_parent_run, temp_dir


@task(name="open-run", task_run_name="open MLflow run", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def open_run(family: Family, loaded: Any) -> RunContext:
    """Create the experiment (if new) and the parent run, keyed by the flow run: a retry reuses it; with
    ``resume``, reopen that run instead (same registry name and search parameters, checked)."""
    uri = get_settings().mlflow_tracking_uri
    config = family.config
    identity = family.identify(loaded)
    experiment_id = ensure_experiment(uri, config.experiment or f"zygarde-{identity.dataset}")
    flow_run_id = str(runtime.flow_run.id or "")
    tags = {
        "zygarde.dataset": identity.dataset,
        "zygarde.source": identity.source,
        "zygarde.family": family.kind,
        "zygarde.registry_name": identity.registry_name,
        "prefect.flow_run_id": flow_run_id,
        "zygarde.seed": str(config.seed),
    }
    run_name = f"{identity.dataset} {config.search_name()} search".replace("  ", " ")
    params = run_params(config, identity)
    resume = config.resumes()
    if resume:  # the stopped run goes on: its experiment, its child runs
        run_id, experiment_id = resume, reopen_run(uri, resume, identity.registry_name, params)
    else:
        run_id = start_parent_run(uri, experiment_id, run_name, params, tags, run_key=flow_run_id or None)
    return RunContext(
        tracking_uri=uri,
        experiment_id=experiment_id,
        run_id=run_id,
        registry_name=identity.registry_name,
        profile_dir=temp_dir() if config.profile else None,
    )


@contextmanager
def training_slot(registry_name: str) -> Iterator[None]:
    """Hold the one training slot of ``registry_name`` (a Prefect global concurrency limit of 1) for the block.

    Runs started through the server (deployments: schedules, events, jobs, the UI) queue here, whichever
    deployment started them, so two trainings of one registry name never overlap. A CLI run, on a local API of
    its own, takes no slot: ``promote()`` still serialises its champion decision.
    """
    if not runtime.deployment.id:
        yield
        return
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import PrefectHTTPStatusError

    name = f"zygarde-train-{registry_name}"
    # another run may have created it a moment ago: the upsert is not atomic
    with get_client(sync_client=True) as client, suppress(PrefectHTTPStatusError):
        client.upsert_global_concurrency_limit_by_name(name, 1)
    get_run_logger().info("waiting for the training slot %s", name)
    with concurrency(name, occupy=1, strict=True):
        get_run_logger().info("holding the training slot %s", name)
        yield


@contextmanager
def closing_run(run: RunContext) -> Iterator[RunContext]:
    """Close the parent run FINISHED, or FAILED on any exception (cancellation and interrupts included)."""
    try:
        yield run
    except BaseException:
        end_run(run.tracking_uri, run.run_id, "FAILED")
        raise
    end_run(run.tracking_uri, run.run_id, "FINISHED")
