"""The drift monitor: a batch against the champion's training reference; drift triggers retraining."""

from __future__ import annotations

from prefect import flow

from zygarde.tasks.drift import DriftCheck, DriftOutcome, check_drift


@flow(name="monitor-drift", log_prints=True)
def monitor_drift(check: DriftCheck) -> DriftOutcome:
    """Compare a batch with the rows the champion learned from (PSI and KS per feature; the champion's metric
    when the batch has labels); report it in Prefect and MLflow; above the thresholds, emit
    `zygarde.drift.detected`, which the training deployment of that model is triggered by."""
    return check_drift(check)
