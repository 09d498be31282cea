"""A version's training reference (a sample of its training rows and what it predicts), read back from the
registry: drift is measured against it."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from zygarde.errors import ZygardeError
from zygarde.registry.promotion import CHAMPION
from zygarde.tracking import fluent_tracking_uri, get_client


@dataclass(frozen=True)
class StoredReference:
    """A version's training reference (see ``Family.reference``), read back from the registry."""

    name: str
    version: str
    features: pd.DataFrame
    target: str | None
    task: str | None
    classes: list[str]
    run_id: str
    trained_on: str  # the ``dataset`` the version's run was given (a built-in name or a path)


def load_reference(tracking_uri: str, name: str, alias: str = CHAMPION, number: str | None = None) -> StoredReference:
    """The training reference stored with the version ``alias`` points at (or with version ``number``)."""
    import json

    client = get_client(tracking_uri)
    try:
        version = client.get_model_version(name, number) if number else client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        what = f"version {number}" if number else f"@{alias}"
        raise ZygardeError(f"Model {name!r} has no {what} in {tracking_uri} ({exc.error_code}).") from None
    uri = version.tags.get("zygarde.reference")
    if not uri:
        raise ZygardeError(f"{name} v{version.version} was registered without a training reference; retrain it.")
    with fluent_tracking_uri(tracking_uri):
        local = mlflow.artifacts.download_artifacts(uri)
    params = client.get_run(version.run_id).data.params if version.run_id else {}
    return StoredReference(
        name=name,
        version=str(version.version),
        features=pd.read_parquet(local),
        target=version.tags.get("zygarde.target"),
        task=version.tags.get("zygarde.task"),
        classes=json.loads(version.tags.get("zygarde.classes", "[]")),
        run_id=version.run_id or "",
        trained_on=params.get("dataset", ""),
    )
