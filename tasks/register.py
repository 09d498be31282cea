"""Register: log the final model and its training reference, register it once per run, let ``promote()`` decide
the champion, and announce the decision as a Prefect event."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event

from zygarde.family import Family, Prepared
from zygarde.registry import CHAMPION, Challenger, RegisteredModel, promote, register
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, get_client, log_table

from ._stage import stage

REFERENCE_PATH = "reference/features.parquet"


@task(
    name="register",
    task_run_name="register {run.registry_name}",
    retries=1,
    retry_delay_seconds=2,
    cache_policy=NO_CACHE,
)
def register_model(family: Family, model: Any, prepared: Prepared[Any, Any], run: RunContext) -> RegisteredModel:
    """A version of ``run.registry_name`` (one per run, retries included); ``champion`` moves only if it is better,
    else the version becomes ``challenger``. Either way event ``zygarde.model.<alias>`` says what, why, which run."""
    rule = family.champion_rule(prepared)
    name = run.registry_name
    client = get_client(run.tracking_uri)
    with stage("register", run):
        model_uri, version = register(
            run.tracking_uri, name, run.run_id, lambda: family.log_model(model, prepared, run.tracking_uri, run.run_id)
        )
        reference = family.reference(prepared)
        if reference is not None:  # stored before the version can become champion: a champion always has one
            log_table(run.tracking_uri, run.run_id, reference.features, REFERENCE_PATH)
            tags = {**reference.tags(), "zygarde.reference": f"runs:/{run.run_id}/{REFERENCE_PATH}"}
            for key, value in tags.items():
                client.set_model_version_tag(name, version, key, value)
        challenger = Challenger(
            name, version, model_uri, family.score(model, prepared),
            lambda uri: family.score(family.load_model(uri), prepared),
        )  # fmt: skip
        outcome = promote(
            run.tracking_uri, challenger, rule.metric, rule.greater_is_better, rule.rows, get_settings().lock_dir
        )
    client.set_tag(run.run_id, "zygarde.registered", f"{name} v{version}")
    client.set_tag(run.run_id, "zygarde.champion_decision", outcome.reason)
    alias = CHAMPION if outcome.became_champion else "challenger"
    emit_event(
        f"zygarde.model.{alias}",
        resource={"prefect.resource.id": f"zygarde.model.{name}", "prefect.resource.name": name},
        payload={"version": version, "alias": alias, "reason": outcome.reason, "mlflow_run_id": run.run_id,
                 "previous_champion": outcome.previous_champion, "metric": rule.metric, "score": challenger.value},
    )  # fmt: skip
    return outcome
