"""Predictions from a registered model: the alias resolved to one version, the input checked against the
model's signature, the output written whole or not at all, and a record of which version answered."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from zygarde.errors import ZygardeError, option
from zygarde.files import write_atomically
from zygarde.registry import CHAMPION, registered_name
from zygarde.tables import TABLE_SUFFIXES, read_table
from zygarde.tracking import fluent_tracking_uri, get_client


@dataclass(frozen=True)
class PredictionRecord:
    """What answered and what was written: kept beside the output as ``<output>.json``."""

    model: str
    version: str
    alias: str | None
    model_uri: str
    input: str
    output: str
    rows: int
    predicted_at: str


def resolve_version(tracking_uri: str, name: str, alias: str | None, version: str | None) -> str:
    """The one version to use: ``version`` as given, else the version ``alias`` points at now."""
    client = get_client(tracking_uri)
    try:
        if version is not None:
            return str(client.get_model_version(name, version).version)
        return str(client.get_model_version_by_alias(name, alias or CHAMPION).version)
    except MlflowException as exc:
        what = f"version {version}" if version is not None else f"alias @{alias or CHAMPION}"
        raise ZygardeError(
            f"Model {name!r} has no {what} in {tracking_uri} ({exc.error_code}). "
            f"`zygarde models history {name}` lists its versions; `zygarde models list` the names."
        ) from None


def input_columns(model: Any) -> dict[str, tuple[str, bool]] | None:
    """The columns of the model's signature: (declared type, required) by name (None: it names no columns)."""
    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return None
    return {spec.name: (str(getattr(spec.type, "name", spec.type)), spec.required) for spec in schema.inputs}


def check_input(
    frame: pd.DataFrame, columns: dict[str, tuple[str, bool]] | None, source: Path, name: str, version: str
) -> pd.DataFrame:
    """``frame`` reduced to the model's columns, in its order: whole numbers widened where the model declares
    doubles (a CSV reads 148 as an integer), dates written as text parsed where it declares datetimes (a CSV
    reads them as text); a missing required column is named, a missing optional one is left to the model."""
    from zygarde.tabular.columns import as_dates

    if columns is None:
        raise ZygardeError(f"{name} v{version} takes no table (its signature names no columns, e.g. an image model).")
    missing = [c for c, (_, required) in columns.items() if required and c not in frame.columns]
    if missing:
        raise ZygardeError(
            f"{source}: missing the model input column(s) {', '.join(map(repr, missing))} that {name} v{version} "
            f"was trained on. It needs: {', '.join(columns)}."
        )
    rows = frame[[c for c in columns if c in frame.columns]].copy()
    for column, (kind, _) in columns.items():
        if column not in rows.columns:
            continue
        if kind in ("double", "float") and pd.api.types.is_integer_dtype(rows[column]):
            rows[column] = rows[column].astype("float64")
        elif kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(rows[column]):
            parsed = as_dates(rows[column])
            if parsed.isna().all() and rows[column].notna().any():
                raise ZygardeError(
                    f"{source}: column {column!r} should hold dates ({name} v{version} was trained on dates), "
                    f"but {rows[column].dropna().iloc[0]!r} does not read as one. Write them as 2024-01-31."
                )
            rows[column] = parsed
    return rows


@dataclass(frozen=True)
class Resolved:
    """One registered version, loaded, and the input rows checked against its signature."""

    name: str
    version: str
    uri: str
    model: Any  # the pyfunc model
    frame: pd.DataFrame  # the input as read
    rows: pd.DataFrame  # the model's columns of it, typed as it declares
    classes: list[str]  # a classifier's class names, by index (empty otherwise)


def resolve_input(
    tracking_uri: str, name: str, source: Path, output: Path, alias: str | None, version: str | None
) -> Resolved:
    """Check the output's name, read ``source``, resolve the version once, load it and check the rows."""
    import mlflow.pyfunc

    if output.suffix.lower() not in TABLE_SUFFIXES:
        raise ZygardeError(f"{option('output')} {output}: use a .csv or .parquet file name.")
    frame = read_table(source)
    name = registered_name(tracking_uri, name)  # `zygarde predict diabetes` means zygarde-diabetes
    chosen = resolve_version(tracking_uri, name, alias, version)
    uri = f"models:/{name}/{chosen}"
    with fluent_tracking_uri(tracking_uri):
        model = mlflow.pyfunc.load_model(uri)
    tags = get_client(tracking_uri).get_model_version(name, chosen).tags
    classes = json.loads(tags.get("zygarde.classes", "[]")) if tags.get("zygarde.task") == "classification" else []
    rows = check_input(frame, input_columns(model), source, name, chosen)
    return Resolved(name, chosen, uri, model, frame, rows, classes)


def predict_file(
    tracking_uri: str,
    name: str,
    source: Path,
    output: Path,
    *,
    alias: str | None = CHAMPION,
    version: str | None = None,
) -> PredictionRecord:
    """Predict every row of ``source`` with one version of ``name``: the prediction (a classifier's: the class
    name, and each class's probability as ``probability_<class>``); write ``output`` and its record atomically."""
    resolved = resolve_input(tracking_uri, name, source, output, alias, version)
    try:
        predicted = predictions(resolved)
    except MlflowException as exc:
        raise ZygardeError(
            f"{source}: {resolved.name} v{resolved.version} refused the input: {str(exc).splitlines()[0]}"
        ) from None
    return write_result(resolved.frame.assign(**predicted), resolved, source, output, alias, version)


def predictions(resolved: Resolved) -> dict[str, Any]:
    """The output columns: ``prediction`` and, for a classifier that gives them, ``probability_<class>``."""
    raw: Any = resolved.model.get_raw_model() if hasattr(resolved.model, "get_raw_model") else None
    if resolved.classes and "spark" in resolved.model.metadata.flavors:  # in the session MLflow loaded it in
        from pyspark.sql import SparkSession

        from zygarde.tabular.spark.tabular import SparkTabularModel

        raw = SparkTabularModel(raw, SparkSession.getActiveSession())
    if resolved.classes and hasattr(raw, "predict_proba"):
        proba = np.asarray(raw.predict_proba(resolved.rows))
        names = np.asarray(resolved.classes, dtype=object)
        return {"prediction": names[proba.argmax(axis=1)],
                **{f"probability_{c}": proba[:, k] for k, c in enumerate(resolved.classes)}}  # fmt: skip
    return {"prediction": list(pd.DataFrame(resolved.model.predict(resolved.rows)).iloc[:, 0].to_numpy())}


def write_result(
    result: pd.DataFrame, resolved: Resolved, source: Path, output: Path, alias: str | None, version: str | None,
    **extra: Any,
) -> PredictionRecord:  # fmt: skip
    """Write ``result`` to ``output`` and its record beside it (``<output>.json``), each whole or not at all."""
    record = PredictionRecord(
        model=resolved.name,
        version=resolved.version,
        alias=None if version is not None else (alias or CHAMPION),
        model_uri=resolved.uri,
        input=str(source.resolve()),
        output=str(output.resolve()),
        rows=len(result),
        predicted_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    write_atomically(output, lambda tmp: _write_table(result, tmp, output.suffix.lower()))
    meta = output.with_name(output.name + ".json")
    payload = json.dumps({**asdict(record), **extra}, indent=2) + "\n"
    write_atomically(meta, lambda tmp: tmp.write_text(payload))
    return record


def _write_table(frame: pd.DataFrame, path: Path, suffix: str) -> None:
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
