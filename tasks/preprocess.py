"""Prepare: the search view (what trials see) and the evaluation view (held-out rows), set apart before any search."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from zygarde.family import Family, Prepared
from zygarde.tracking import RunContext, log_dataset, log_json, log_metrics

from ._stage import stage


@task(name="prepare", task_run_name="prepare {family.config.dataset}", cache_policy=NO_CACHE)
def prepare(family: Family, loaded: Any, run: RunContext) -> Prepared[Any, Any]:
    """Split (seeded) and preprocess; the sizes of both views are logged."""
    with stage("prepare", run):
        prepared = family.prepare(loaded)
    if prepared.facts:
        log_metrics(run.tracking_uri, run.run_id, prepared.facts)
    for path, payload in prepared.artifacts.items():
        log_json(run.tracking_uri, run.run_id, payload, path)
    for data in prepared.inputs:
        log_dataset(run.tracking_uri, run.run_id, data.frame, name=data.name, source=data.source, target=data.target,
                    context=data.context)  # fmt: skip
    return prepared
