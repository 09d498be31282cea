"""MLflow tracking: experiments, the parent run of a flow, child runs of trials (logged from Dask workers)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from zygarde.locks import file_lock
from zygarde.search.trials import TrialResult, trial_key

_MAX_PARAM_CHARS = 6000
RUN_KEY_TAG = "zygarde.run_key"
_SQLITE = "sqlite:///"
log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)


@lru_cache(maxsize=4)
def get_client(tracking_uri: str) -> MlflowClient:
    """One client per tracking URI per process (Dask workers reuse theirs across trials).

    A SQLite store is opened under a lock beside its file: MLflow creates or migrates the schema on first
    use, and two processes doing that at once fail ("duplicate column name").
    """
    if not tracking_uri.startswith(_SQLITE):
        return MlflowClient(tracking_uri=tracking_uri)
    database = Path(tracking_uri[len(_SQLITE) :])
    with file_lock(database.with_name(database.name + ".lock")):
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    return client


def ensure_experiment(tracking_uri: str, name: str, artifact_root: str | None = None) -> str:
    """Return the id of experiment ``name``, creating it (artifacts under ``artifact_root``) if needed."""
    client = get_client(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    root = artifact_root or default_artifact_root(tracking_uri)
    location = f"{root}/{name}" if root else None
    return client.create_experiment(name, artifact_location=location)


def default_artifact_root(tracking_uri: str) -> str | None:
    """Artifacts of a SQLite store live beside its database file, never in the current directory.

    MLflow's own default for a database store is ``./mlruns`` relative to wherever the process runs;
    for a server URI the server decides, so this returns ``None``.
    """
    if not tracking_uri.startswith(_SQLITE):
        return None
    return (Path(tracking_uri[len(_SQLITE) :]).resolve().parent / "mlartifacts").as_uri()


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
    client.log_batch(run.info.run_id, params=[Param(k, _param_text(v)) for k, v in params.items()])
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

    try:
        run = get_client(tracking_uri).get_run(run_id)
    except MlflowException:
        raise ZygardeError(f"{option('resume')}: no run {run_id} in {tracking_uri}.") from None
    if run.data.tags.get("zygarde.registry_name") != registry_name:
        raise ZygardeError(
            f"{option('resume')}: run {run_id} trained {run.data.tags.get('zygarde.registry_name', 'something else')}"
            f", not {registry_name}; resume it with the data and target it was started with."
        )
    differs = [f"{k} was {run.data.params[k]}, now {_param_text(params[k])}" for k in RESUMABLE
               if k in params and k in run.data.params and run.data.params[k] != _param_text(params[k])]  # fmt: skip
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


def log_metrics(tracking_uri: str, run_id: str, metrics: dict[str, float]) -> None:
    """Log a flat dict of metrics in one batch."""
    stamp = _now_ms()
    get_client(tracking_uri).log_batch(run_id, metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()])


def log_tags(tracking_uri: str, run_id: str, tags: dict[str, str]) -> None:
    """Set tags on a run in one batch."""
    get_client(tracking_uri).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def log_curves(tracking_uri: str, run_id: str, curves: dict[str, list[float]]) -> None:
    """Per-step series (one value per epoch) as metric histories."""
    stamp = _now_ms()
    series = [Metric(name, float(v), stamp, step) for name, values in curves.items() for step, v in enumerate(values)]
    if series:
        get_client(tracking_uri).log_batch(run_id, metrics=series)


def log_json(tracking_uri: str, run_id: str, payload: Any, artifact_file: str) -> None:
    """Write ``payload`` as JSON into the run's artifacts."""
    get_client(tracking_uri).log_dict(run_id, payload, artifact_file)


def log_files(tracking_uri: str, run_id: str, paths: list[Path], artifact_path: str) -> None:
    """Upload local files into one artifact folder of the run."""
    client = get_client(tracking_uri)
    for path in paths:
        client.log_artifact(run_id, str(path), artifact_path=artifact_path)


def log_figure(tracking_uri: str, run_id: str, figure: Any, artifact_file: str) -> None:
    """Save a matplotlib figure as an artifact of the run, then close it."""
    import matplotlib.pyplot as plt

    get_client(tracking_uri).log_figure(run_id, figure, artifact_file)
    plt.close(figure)


def log_table(tracking_uri: str, run_id: str, frame: Any, artifact_file: str) -> None:
    """Write a pandas DataFrame as Parquet into the run's artifacts."""
    folder = temp_dir()
    path = folder / Path(artifact_file).name
    frame.to_parquet(path, index=False)
    try:
        get_client(tracking_uri).log_artifact(run_id, str(path), artifact_path=str(Path(artifact_file).parent))
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()


def log_text(tracking_uri: str, run_id: str, text: str, artifact_file: str) -> None:
    """Write ``text`` (CSV, Markdown ...) into the run's artifacts."""
    get_client(tracking_uri).log_text(run_id, text, artifact_file)


@dataclass(frozen=True)
class TrialLogger:
    """Picklable handle that logs a trial as a child run of the flow's parent run.

    ``from_workers``: each Dask worker logs its own trials (a tracking server takes concurrent writes);
    otherwise one thread beside the search drains results as they complete (see ``logs_from_workers``).
    """

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    from_workers: bool = False
    scored_on: str = "cv on training split"
    cv_names: bool = True  # cv_<metric>_mean/_std; False: the metric's own name (no folds, e.g. clustering)

    def log(self, result: TrialResult) -> str | None:
        """Create the child run with params, CV metrics, usage; returns its run id.

        A tracking outage loses the child run, never the trial: it warns and returns None, and the search
        goes on with the result in hand.
        """
        try:
            return self._log(result)
        except Exception as exc:  # MLflow, HTTP or SQLite errors alike: the result itself is safe
            log.warning("trial %s was not tracked (%s: %s)", result.trial_id, type(exc).__name__, exc)
            return None

    def _log(self, result: TrialResult) -> str:
        client = get_client(self.tracking_uri)
        key = trial_key(result.algorithm, result.trial_id, result.params)  # the trial, whatever its rung
        found = client.search_runs(  # a trial logged before a crash (or by a worker that then died): no twin
            [self.experiment_id],
            f"tags.mlflow.parentRunId = '{self.parent_run_id}' and tags.`zygarde.trial_key` = '{key}'",
            max_results=1,
        )
        logged_rung = int(found[0].data.tags.get("zygarde.rung", 0)) if found else -1
        if found and found[0].info.status in ("FINISHED", "FAILED") and logged_rung >= result.rung:
            return found[0].info.run_id
        # one left half-written (a crash between its creation and its end) is completed, with the same values;
        # a successive-halving rung above the one logged goes on in the same run, at the step of its budget
        run_id = found[0].info.run_id if found else client.create_run(
            self.experiment_id, run_name=f"{result.algorithm} #{result.trial_id}",
            tags={"mlflow.parentRunId": self.parent_run_id, "zygarde.trial_key": key}).info.run_id  # fmt: skip
        logged_steps = int(found[0].data.tags.get("zygarde.budget", 0)) if found and logged_rung < result.rung else 0
        stamp, step = _now_ms(), result.budget or 0
        metrics = {
            **{f"cv_{k}_mean" if self.cv_names else k: v for k, v in result.scores.items()},
            **{f"cv_{k}_std": v for k, v in result.score_std.items()},
            **result.usage,
        }
        curves = [
            Metric(f"epoch_{name}", float(value), stamp, epoch)
            for name, values in result.curves.items()
            for epoch, value in enumerate(values)
            if epoch >= logged_steps  # the epochs of this rung (earlier rungs logged theirs)
        ]
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), stamp, step) for k, v in metrics.items()] + curves,
            params=[Param(k, _param_text(v)) for k, v in result.params.items()],
            tags=[RunTag(k, v) for k, v in self._tags(result).items()],
        )
        client.set_terminated(run_id, status="FAILED" if result.error else "FINISHED")
        return run_id

    def _tags(self, result: TrialResult) -> dict[str, str]:
        return {
            "zygarde.params_json": json.dumps(result.params, sort_keys=True, default=str)[:5000],
            "zygarde.algorithm": result.algorithm,
            "zygarde.trial_id": str(result.trial_id),
            "zygarde.worker": result.worker,
            "zygarde.split": self.scored_on,
            "zygarde.rung": str(result.rung),
            **({"zygarde.budget": str(result.budget)} if result.budget is not None else {}),
            **({"zygarde.error": result.error[:5000]} if result.error else {}),
        }


def finished_trials(tracking_uri: str, experiment_id: str, parent_run_id: str) -> dict[str, TrialResult]:
    """The trials a run finished before (its FINISHED child runs), rebuilt as results, by trial key."""
    client = get_client(tracking_uri)
    runs = client.search_runs(
        [experiment_id],
        f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'FINISHED'",
        max_results=50_000,
    )
    done = {}
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        if "zygarde.trial_key" not in tags or "zygarde.params_json" not in tags:
            continue
        mean = {k[3:-5]: v for k, v in metrics.items() if k.startswith("cv_") and k.endswith("_mean")}
        std = {k[3:-4]: v for k, v in metrics.items() if k.startswith("cv_") and k.endswith("_std")}
        usage = {k: metrics[k] for k in ("wall_seconds", "cpu_seconds", "cpu_percent", "peak_rss_mb") if k in metrics}
        result = TrialResult(int(tags["zygarde.trial_id"]), tags["zygarde.algorithm"], json.loads(
            tags["zygarde.params_json"]), int(tags.get("zygarde.rung", 0)), scores=mean, score_std=std, usage=usage,
            worker=tags.get("zygarde.worker", ""), run_id=run.info.run_id)  # fmt: skip
        if not mean:  # metrics under their own names (no folds): every metric that is not a usage figure
            result.scores = {k: v for k, v in metrics.items() if k not in usage and not k.startswith("epoch_")}
        done[tags["zygarde.trial_key"]] = result
    return done


def logs_from_workers(tracking_uri: str) -> bool:
    """Whether workers should write child runs themselves: not to a SQLite store, which takes one writer.

    Concurrent SQLite writers queue on the file lock, whose busy handler sleeps 1-100 ms per retry
    (measured on 2 workers: 36 ms of worker time per trial, vs ~15 ms from one draining thread).
    """
    return not tracking_uri.startswith("sqlite:")


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_PARAM_CHARS]


def _now_ms() -> int:
    return int(time.time() * 1000)


def temp_dir() -> Path:
    """A fresh temporary folder for artifacts written before upload."""
    return Path(tempfile.mkdtemp(prefix="zygarde-"))


@contextmanager
def fluent_tracking_uri(tracking_uri: str) -> Iterator[None]:
    """Point the fluent ``mlflow`` API at ``tracking_uri`` for a block, then restore it.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``; left behind, it would override
    the settings of every later run in this process.
    """
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    previous = mlflow.get_tracking_uri() if previous_env else None
    mlflow.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        if previous_env is None:
            mlflow.set_tracking_uri(None)
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            mlflow.set_tracking_uri(previous)
            os.environ["MLFLOW_TRACKING_URI"] = previous_env


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
            from_workers=logs_from_workers(self.tracking_uri),
            scored_on=scored_on,
            cv_names=cv_names,
        )
