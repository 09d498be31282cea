"""Every stage is measured (wall, CPU %, peak RSS) and, on demand, profiled; both land in the parent run. Stages
that drive the cluster find it here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, get_client, get_worker, worker_client
from prefect.context import FlowRunContext
from prefect_dask import DaskTaskRunner

from zygarde.errors import ZygardeError
from zygarde.resources import ResourceMeter, profiled
from zygarde.tracking import RunContext, log_files, log_metrics


@contextmanager
def stage(name: str, run: RunContext) -> Iterator[None]:
    """Measure the block as stage ``name``; log ``stage_<name>_*`` metrics and profiles to the parent run."""
    profile_dir = run.profile_dir / name if run.profile_dir else None
    with ResourceMeter() as meter, profiled(name, profile_dir) as written:
        yield
    log_metrics(run.tracking_uri, run.run_id, meter.usage.as_metrics(f"stage_{name}_"))
    if written:
        log_files(run.tracking_uri, run.run_id, written, "profiles")


@contextmanager
def flow_cluster() -> Iterator[Client]:
    """The client of the flow's Dask cluster: the task runner's, in the flow's process where the stages that drive
    the cluster run (a search's sampler and its logging thread stay off the workers, whose cores and GIL belong
    to the trials); a worker's own client, seceded, if such a task was submitted to a worker."""
    try:
        get_worker()
    except ValueError:
        yield _task_runner_client()
        return
    with worker_client() as client:
        yield client


def _task_runner_client() -> Client:
    # the DaskTaskRunner connects (or starts its LocalCluster) on first access of its client, which it does not
    # make the process's default client
    context = FlowRunContext.get()
    runner = context.task_runner if context is not None else None
    if isinstance(runner, DaskTaskRunner):
        return runner.client
    try:
        return get_client()
    except ValueError:
        raise ZygardeError("zygarde's flows run on a DaskTaskRunner; this flow has no Dask client.") from None
