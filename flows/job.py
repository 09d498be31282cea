"""The job flow: one declarative job spec (``zygarde submit``, the form, or a ``zygarde.job.submitted`` event)
runs the family's training flow on a cluster sized by the spec."""

from __future__ import annotations

from typing import Any

from prefect import flow

from zygarde.jobs import JobSpec

from .hooks import notify_job_owner
from .pipeline import dask_task_runner, training_flow


@flow(name="train-job", log_prints=True, on_completion=[notify_job_owner], on_failure=[notify_job_owner])
def run_job(spec: JobSpec = JobSpec()) -> dict[str, Any]:  # noqa: B008 (form default)
    """Run one job request: the family's training flow (tabular, cluster or vision) with the spec's data,
    algorithms, spaces and search budget, on min_workers..max_workers Dask workers; whom the spec names
    hears the outcome."""
    runner = dask_task_runner(min_workers=spec.min_workers, max_workers=spec.max_workers)
    summary = training_flow(spec.kind).with_options(task_runner=runner)(config=spec.run_config())
    return summary.model_dump()
