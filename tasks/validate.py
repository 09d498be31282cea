"""Stage 1: load the table and validate it with great-expectations; a failure stops the flow, listed."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact

from zygarde.clustering import ClusterTable
from zygarde.config import TabularRunConfig
from zygarde.datasets import TabularDataset, load_dataset
from zygarde.errors import ZygardeError
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, log_json
from zygarde.validation import ValidationReport, validate_cluster_table, validate_dataset

from ._stage import stage


@task(name="load-table", task_run_name="load {config.dataset}")
def load_table(config: TabularRunConfig) -> TabularDataset:
    """Read the dataset named by the run's parameters."""
    task_kind = None if config.task == "auto" else config.task
    return load_dataset(config.dataset, data_root=get_settings().data_root, target=config.target, task=task_kind)


@task(name="validate", task_run_name="validate {dataset.name}")
def validate(dataset: TabularDataset, cv: int, run: RunContext) -> ValidationReport:
    """Run the dataset's expectation suite; raise with the failed expectations listed when any fails."""
    with stage("validate", run):
        report = validate_dataset(dataset, get_settings().expectations_dir, cv)
    return publish_validation(report, dataset.source, run)


@task(name="validate", task_run_name="validate {table.name}")
def validate_cluster(table: ClusterTable, max_clusters: int, run: RunContext) -> ValidationReport:
    """Run the table's expectation suite; raise with the failed expectations listed when any fails."""
    with stage("validate", run):
        report = validate_cluster_table(table, get_settings().expectations_dir, max_clusters)
    return publish_validation(report, table.source, run)


def publish_validation(report: ValidationReport, source: Path, run: RunContext) -> ValidationReport:
    """Log the report to MLflow; on failure add a Prefect artifact listing the failures and stop the flow."""
    log_json(
        run.tracking_uri,
        run.run_id,
        {"suite": report.suite, "evaluated": report.evaluated, "failures": report.failures},
        "validation/report.json",
    )
    if not report.success:
        create_markdown_artifact(
            key="validation-failures",
            markdown=f"```\n{report.describe()}\n```",
            description=f"Failed expectations of {source}",
        )
        raise ZygardeError(f"{source} failed validation.\n{report.describe()}")
    return report
