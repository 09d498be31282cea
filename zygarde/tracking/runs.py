"""A flow's parent run: opened once per flow run (a retry reuses it), reopened to resume a search (checked
first), closed FINISHED or FAILED; and ``RunContext``, what the stages log through."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.entities import Param

from zygarde.tracking.store import SQLITE, get_client, param_text
from zygarde.tracking.trials import TrialLogger, writers_for

RUN_KEY_TAG = "zygarde.run_key"


def start_parent_run(
    tracking_uri: str,
    experiment_id: str,
    run_name: str,
    params: dict[str, Any],
    tags: dict[str, str],
    run_key: str | None = None,
) -> str:
    """Create the flow's parent run with its configuration as params; returns the run id.

    With a ``run_key`` (the Prefect flow run id) a retry finds the run it created before instead of leaving
    an orphan RUNNING beside a second one.
    """
    client = get_client(tracking_uri)
    if run_key:
        found = client.search_runs([experiment_id], f"tags.`{RUN_KEY_TAG}` = '{run_key}'", max_results=1)
        if found:
            return found[0].info.run_id
        tags = {**tags, RUN_KEY_TAG: run_key}
    run = client.create_run(experiment_id, run_name=run_name, tags=tags)
    client.log_batch(run.info.run_id, params=[Param(k, param_text(v)) for k, v in params.items()])
    return run.info.run_id


RESUMABLE = ("dataset", "target", "task", "algorithms", "search", "trials", "brackets", "cv", "test_size", "seed",
             "space")  # fmt: skip


def run_params(config: Any, identity: Any) -> dict[str, Any]:
    """A run's parameters: its config (less ``resume``) and what its family resolved (``Identity.params``)."""
    return {**config.model_dump(exclude={"resume"}), **identity.params}


def check_resumable(tracking_uri: str, run_id: str, registry_name: str, params: dict[str, Any]) -> str:
    """The experiment of a parent run that may continue its search: it must exist, be a zygarde run of the same
    registry name and have the same search parameters (each that differs is named). Changes nothing."""
    from mlflow.exceptions import MlflowException

    from zygarde.errors import ZygardeError, option

    if tracking_uri.startswith(SQLITE) and not Path(tracking_uri.removeprefix(SQLITE)).exists():
        raise ZygardeError(f"{option('resume')}: no run {run_id}: there is no MLflow store at {tracking_uri} yet.")
    try:
        run = get_client(tracking_uri).get_run(run_id)
    except MlflowException:
        raise ZygardeError(f"{option('resume')}: no run {run_id} in {tracking_uri}.") from None
    if run.data.tags.get("zygarde.registry_name") != registry_name:
        raise ZygardeError(
            f"{option('resume')}: run {run_id} trained {run.data.tags.get('zygarde.registry_name', 'something else')}"
            f", not {registry_name}; resume it with the data and target it was started with."
        )
    differs = [f"{k} was {run.data.params[k]}, now {param_text(params[k])}" for k in RESUMABLE
               if k in params and k in run.data.params and run.data.params[k] != param_text(params[k])]  # fmt: skip
    if differs:
        raise ZygardeError(f"{option('resume')}: run {run_id} searched differently: " + "; ".join(differs) + ".")
    return run.info.experiment_id


def reopen_run(tracking_uri: str, run_id: str, registry_name: str, params: dict[str, Any]) -> str:
    """Reopen a parent run to continue its search (``check_resumable`` first); its experiment's id."""
    experiment_id = check_resumable(tracking_uri, run_id, registry_name, params)
    get_client(tracking_uri).update_run(run_id, status="RUNNING")
    return experiment_id


def end_run(tracking_uri: str, run_id: str, status: str = "FINISHED") -> None:
    """Close a run as FINISHED or FAILED."""
    get_client(tracking_uri).set_terminated(run_id, status=status)


@dataclass(frozen=True)
class RunContext:
    """Where a flow run logs: tracking URI, experiment, parent run, and the profile folder when profiling."""

    tracking_uri: str
    experiment_id: str
    run_id: str
    registry_name: str = ""
    profile_dir: Path | None = None

    def trial_logger(self, scored_on: str = "cv on training split", cv_names: bool = True) -> TrialLogger:
        """The handle that logs this run's trials as child runs (see ``TrialLogger``)."""
        return TrialLogger(
            self.tracking_uri,
            self.experiment_id,
            self.run_id,
            writers=writers_for(self.tracking_uri),
            scored_on=scored_on,
            cv_names=cv_names,
        )
