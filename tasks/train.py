"""Finalize: pick the winner by the family's rule and train the model to register (a refit, or data-parallel)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from zygarde.family import Family, Prepared
from zygarde.search.trials import SearchOutcome, TrialResult
from zygarde.tracking import RunContext, log_curves, log_json, log_metrics

from ._stage import flow_cluster, stage


@task(name="train", task_run_name="train the winner", cache_policy=NO_CACHE)
def finalize(
    family: Family, prepared: Prepared[Any, None], outcome: SearchOutcome, run: RunContext
) -> tuple[TrialResult, Any]:
    """Select the best trial; train it on the search view (a refit here, or data-parallel ranks on the workers)."""
    best = family.select(outcome.results, prepared)
    summary = {"algorithm": best.algorithm, "params": best.params, "trial_id": best.trial_id, "metrics": best.scores}
    log_json(run.tracking_uri, run.run_id, {**summary, "child_run_id": best.run_id}, "winner.json")
    with stage("train", run), flow_cluster() as client:
        trained = family.finalize(prepared, best, client)
    if trained.facts:
        log_metrics(run.tracking_uri, run.run_id, trained.facts)
    for path, payload in trained.artifacts.items():
        log_json(run.tracking_uri, run.run_id, payload, path)
    log_curves(run.tracking_uri, run.run_id, trained.curves)
    return best, trained.model
