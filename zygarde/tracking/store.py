"""The MLflow store: a client per tracking URI, experiments, and what a run logs (metrics, tags, curves,
JSON, files, figures, tables, text)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from zygarde.locks import file_lock

_MAX_PARAM_CHARS = 6000


SQLITE = "sqlite:///"


log = logging.getLogger(__name__)
logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO on every store opened


@lru_cache(maxsize=4)
def get_client(tracking_uri: str) -> MlflowClient:
    """One client per tracking URI per process (Dask workers reuse theirs across trials).

    A SQLite store is opened under a lock beside its file: MLflow creates or migrates the schema on first
    use, and two processes doing that at once fail ("duplicate column name").
    """
    if not tracking_uri.startswith(SQLITE):
        return MlflowClient(tracking_uri=tracking_uri)
    database = Path(tracking_uri[len(SQLITE) :])
    with file_lock(database.with_name(database.name + ".lock")):
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)
        client.search_registered_models(max_results=1)
    return client


EXPERIMENT_KIND = "mlflow.experimentKind"


def ensure_experiment(tracking_uri: str, name: str, artifact_root: str | None = None) -> str:
    """Return the id of experiment ``name``, creating it (artifacts under ``artifact_root``) if needed."""
    client = get_client(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    root = artifact_root or default_artifact_root(tracking_uri)
    location = f"{root}/{name}" if root else None
    # MLflow 3's UI shows an experiment so tagged in its Model training view (runs, metrics, datasets), not GenAI's
    tags = {EXPERIMENT_KIND: "custom_model_development"}
    return client.create_experiment(name, artifact_location=location, tags=tags)


def default_artifact_root(tracking_uri: str) -> str | None:
    """Artifacts of a SQLite store live beside its database file, never in the current directory.

    MLflow's own default for a database store is ``./mlruns`` relative to wherever the process runs;
    for a server URI the server decides, so this returns ``None``.
    """
    if not tracking_uri.startswith(SQLITE):
        return None
    return (Path(tracking_uri[len(SQLITE) :]).resolve().parent / "mlartifacts").as_uri()


def log_metrics(tracking_uri: str, run_id: str, metrics: dict[str, float]) -> None:
    """Log a flat dict of metrics in one batch."""
    stamp = now_ms()
    get_client(tracking_uri).log_batch(run_id, metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()])


def log_tags(tracking_uri: str, run_id: str, tags: dict[str, str]) -> None:
    """Set tags on a run in one batch."""
    get_client(tracking_uri).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def log_curves(tracking_uri: str, run_id: str, curves: dict[str, list[float]]) -> None:
    """Per-step series (one value per epoch) as metric histories."""
    stamp = now_ms()
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


def log_outputs(tracking_uri: str, run_id: str, figures: dict[str, Any], payloads: dict[str, Any]) -> None:
    """Log figures (artifact path -> matplotlib figure, closed once logged) and JSON payloads (path -> payload)."""
    for path, figure in figures.items():
        log_figure(tracking_uri, run_id, figure, path)
    for path, payload in payloads.items():
        log_json(tracking_uri, run_id, payload, path)


def log_dataset(
    tracking_uri: str, run_id: str, frame: Any, *, name: str, source: str, target: str | None, context: str
) -> str:
    """Log ``frame`` as a dataset input of the run (``mlflow.data``: name, digest, source, schema, profile; the rows
    stay where they are); returns its digest."""
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    dataset = from_pandas(frame, source=source, targets=target, name=name)
    tags = [InputTag(key=MLFLOW_DATASET_CONTEXT, value=context)]
    get_client(tracking_uri).log_inputs(run_id, datasets=[DatasetInput(dataset._to_mlflow_entity(), tags=tags)])
    return dataset.digest


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


def param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_MAX_PARAM_CHARS]


def now_ms() -> int:
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
