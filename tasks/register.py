"""Register: log the final model, register it once per run, and let ``promote()`` decide the champion."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from zygarde.family import Family, Prepared
from zygarde.registry import Challenger, RegisteredModel, promote, register
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, get_client

from ._stage import stage


@task(
    name="register",
    task_run_name="register {run.registry_name}",
    retries=1,
    retry_delay_seconds=2,
    cache_policy=NO_CACHE,
)
def register_model(family: Family, model: Any, prepared: Prepared[Any, Any], run: RunContext) -> RegisteredModel:
    """A version of ``run.registry_name`` (one per run, retries included); ``champion`` moves only if it is better."""
    rule = family.champion_rule(prepared)
    name = run.registry_name
    with stage("register", run):
        model_uri, version = register(
            run.tracking_uri, name, run.run_id, lambda: family.log_model(model, prepared, run.tracking_uri, run.run_id)
        )
        challenger = Challenger(
            name, version, model_uri, family.score(model, prepared),
            lambda uri: family.score(family.load_model(uri), prepared),
        )  # fmt: skip
        outcome = promote(
            run.tracking_uri, challenger, rule.metric, rule.greater_is_better, rule.rows, get_settings().lock_dir
        )
    client = get_client(run.tracking_uri)
    client.set_tag(run.run_id, "zygarde.registered", f"{name} v{version}")
    client.set_tag(run.run_id, "zygarde.champion_decision", outcome.reason)
    return outcome
