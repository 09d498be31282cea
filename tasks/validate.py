"""Load and validate: the data named by the run, and its great-expectations suite; a failure stops the flow."""

from __future__ import annotations

from typing import Any

from prefect import runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from zygarde.errors import ZygardeError
from zygarde.family import Family
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, log_json, log_metrics
from zygarde.validation import ValidationReport

from ._stage import flow_cluster, stage


@task(name="load", task_run_name="load {family.config.dataset}", cache_policy=NO_CACHE)
def load(family: Family) -> Any:
    """Read the dataset named by the run's parameters (a deployment's paths must lie under the data root)."""
    if runtime.deployment.id:  # started from the UI or a deployment: paths are checked, not trusted
        settings = get_settings()
        for path in family.data_paths():
            settings.check_data_path(path)
    with flow_cluster() as client:
        return family.load(client)


@task(name="validate", task_run_name="validate {family.config.dataset}", cache_policy=NO_CACHE)
def validate(family: Family, loaded: Any, run: RunContext) -> ValidationReport:
    """Run the data's expectation suite; log the report; raise with the failed expectations listed."""
    with stage("validate", run):
        report = family.validate(loaded, get_settings().expectations_dir)
    summary = {"suite": report.suite, "evaluated": report.evaluated, "failures": report.failures,
               "checked": report.checked}  # fmt: skip
    log_json(run.tracking_uri, run.run_id, summary, "validation/report.json")
    for path, payload in report.artifacts.items():
        log_json(run.tracking_uri, run.run_id, payload, path)
    if report.facts:
        log_metrics(run.tracking_uri, run.run_id, report.facts)
    for key, (description, rows) in report.tables.items():
        if rows:
            create_table_artifact(key=key, table=rows[:500], description=description)
    if not report.success:
        create_markdown_artifact(
            key="validation-failures", markdown=f"```\n{report.describe()}\n```", description="Failed expectations"
        )
        raise ZygardeError(f"{family.identify(loaded).source} failed validation.\n{report.describe()}")
    return report
