"""Monitor: a batch against the champion's training reference; a drifted batch emits ``zygarde.drift.detected``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from pydantic import BaseModel, Field

from zygarde.drift import DriftThresholds, champion_on_batch, compare, drift_figure
from zygarde.registry import load_reference
from zygarde.settings import get_settings
from zygarde.tables import read_table
from zygarde.tracking import ensure_experiment, get_client, log_figure, log_json, log_metrics, start_parent_run


class DriftCheck(DriftThresholds):
    """Which batch to compare with which model's champion, and when it counts as drifted."""

    model: str = Field(
        "zygarde-diabetes", description="Registered model whose champion's training rows are the reference."
    )
    batch: str = Field(description="CSV/Parquet file of new rows (under the data root).")


class DriftOutcome(BaseModel):
    """The verdict, what drifted, the metric on a labelled batch, where the report is, what to retrain on."""

    model: str
    version: str
    batch: str
    drifted: bool
    share_drifted: float
    drifted_features: list[str]
    batch_metrics: dict[str, float] | None
    mlflow_run_id: str
    retrain_on: str


@task(name="check-drift", task_run_name="drift of {check.batch} vs {check.model}", cache_policy=NO_CACHE)
def check_drift(check: DriftCheck) -> DriftOutcome:
    """Compare, report (Prefect table and markdown, MLflow run with plot), and emit the event if drifted."""
    settings = get_settings()
    path = Path(check.batch).expanduser()
    if not path.is_absolute():  # a form's relative path names a file in the data root
        path = settings.data_root / path
    if runtime.deployment.id:
        path = settings.check_data_path(path)
    batch = read_table(path)
    uri = settings.mlflow_tracking_uri
    reference = load_reference(uri, check.model)
    report = compare(reference.features, batch, check)
    report.metric = champion_on_batch(uri, reference, batch)
    labelled = bool(reference.target and reference.target in batch.columns)
    retrain_on = str(path) if labelled else reference.trained_on
    run_id = _log_report(uri, check, reference.version, report)
    table = report.rows()
    create_table_artifact(key="drift", table=table, description=f"{path.name} vs {check.model} v{reference.version}")
    create_markdown_artifact(key="drift-verdict", markdown=_verdict(check, reference.version, report, run_id))
    outcome = DriftOutcome(
        model=check.model, version=reference.version, batch=str(path), drifted=report.drifted,
        share_drifted=report.share_drifted, drifted_features=report.drifted_features, batch_metrics=report.metric,
        mlflow_run_id=run_id, retrain_on=retrain_on,
    )  # fmt: skip
    get_run_logger().info("%s", _verdict(check, reference.version, report, run_id).splitlines()[0])
    if report.drifted:
        emit_event(
            "zygarde.drift.detected",
            resource={"prefect.resource.id": f"zygarde.model.{check.model}", "prefect.resource.name": check.model},
            payload=outcome.model_dump(),
        )
    return outcome


def _log_report(uri: str, check: DriftCheck, version: str, report: Any) -> str:
    experiment = ensure_experiment(uri, f"zygarde-drift-{check.model}")
    params = {
        "model": check.model,
        "version": version,
        "batch": check.batch,
        **check.model_dump(exclude={"model", "batch"}),
    }
    tags = {
        "zygarde.family": "drift",
        "zygarde.registry_name": check.model,
        "prefect.flow_run_id": str(runtime.flow_run.id or ""),
    }
    run_id = start_parent_run(uri, experiment, f"drift {Path(check.batch).name}", params, tags)
    metrics = {"share_drifted": report.share_drifted, "drifted": float(report.drifted),
               **{f"psi_{f.feature}": f.psi for f in report.features}}  # fmt: skip
    if report.metric:
        metrics |= {f"batch_{k}": v for k, v in report.metric.items()}
    log_metrics(uri, run_id, metrics)
    log_json(uri, run_id, report.rows(), "drift/features.json")
    log_figure(uri, run_id, drift_figure(report, check), "drift/psi.png")
    get_client(uri).set_terminated(run_id)
    return run_id


def _verdict(check: DriftCheck, version: str, report: Any, run_id: str) -> str:
    verdict = "**drift detected**" if report.drifted else "no drift"
    metric = ", ".join(f"{k}={v:.4f}" for k, v in (report.metric or {}).items()) or "no labels in the batch"
    return (
        f"{Path(check.batch).name} vs {check.model} v{version}: {verdict} "
        f"({report.share_drifted:.0%} of features; threshold {check.drift_share:.0%})\n\n"
        f"- drifted: {', '.join(report.drifted_features) or 'none'}\n"
        f"- champion on the batch: {metric}\n- MLflow run: {run_id}\n"
    )
