"""``zygarde explain MODEL --input rows.csv``: each row's prediction with the columns that moved it most.

Exact TreeSHAP where the model is a tree model (XGBoost, LightGBM, scikit-learn's forests and boosting: in log-odds
for a boosted classifier, probability for a forest classifier, of the predicted class where there are several);
otherwise each column's single-column effect: the prediction minus its mean when that column alone takes the values
of ``REFERENCE_ROWS`` training rows (the version's stored reference). That effect is model-agnostic but not
additive; the output says which method produced it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zygarde.errors import ZygardeError, option
from zygarde.explain.tabular import feature_sources, output_units, raw_contributions, tree_booster

REFERENCE_ROWS = 10


def row_contributions(
    model: Any, X: pd.DataFrame, task: str, reference: pd.DataFrame | None, seed: int = 0
) -> tuple[pd.DataFrame, str]:
    """(rows x columns) of signed contributions, and the method in words."""
    kind = tree_booster(model)
    if kind is not None:
        values, names = raw_contributions(model, X)
        several = values.shape[1] > 1
        chosen = values[np.arange(len(X)), _predicted_class(model, X)] if several else values[:, 0]
        frame = pd.DataFrame(chosen[:, :-1], columns=feature_sources(names, [str(c) for c in X.columns]))
        frame = frame.T.groupby(level=0, sort=False).sum().T
        unit = output_units(model, task) + (" of the predicted class" if several else "")
        return frame, f"exact TreeSHAP ({kind}), in {unit}; with the base value they add up to the model's output"
    if reference is None or reference.empty:
        raise ZygardeError("This version has no stored training reference to measure contributions against.")
    base_rows = reference.sample(min(REFERENCE_ROWS, len(reference)), random_state=seed).reset_index(drop=True)
    target = _predicted_class(model, X) if task != "regression" else None
    base = _output(model, X, task, target)
    n, k = len(X), len(base_rows)
    found = {}
    for column in X.columns:
        stacked = pd.concat([X] * k, ignore_index=True)
        stacked[column] = np.repeat(base_rows[column].to_numpy(), n)
        moved = _output(model, stacked, task, None if target is None else np.tile(target, k)).reshape(k, n)
        found[str(column)] = base - moved.mean(axis=0)
    what = "value" if task == "regression" else "probability of the predicted class"
    return pd.DataFrame(found), (f"single-column effect on the {what}: the prediction minus its mean with the column "
                                 f"taken from {k} training rows (not additive)")  # fmt: skip


def _predicted_class(model: Any, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(X)).argmax(axis=1)


def _output(model: Any, X: pd.DataFrame, task: str, target: np.ndarray | None) -> np.ndarray:
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X))
    return proba[np.arange(len(X)), target]


def top_columns(contributions: pd.DataFrame, top: int) -> dict[str, list[Any]]:
    """For each row, its ``top`` columns by absolute contribution: ``top_<i>_column`` and ``top_<i>_contribution``."""
    values = contributions.to_numpy()
    order = np.argsort(-np.abs(values), axis=1)[:, :top]
    names = np.asarray(contributions.columns, dtype=object)
    columns: dict[str, list[Any]] = {}
    for i in range(order.shape[1]):
        columns[f"top_{i + 1}_column"] = list(names[order[:, i]])
        columns[f"top_{i + 1}_contribution"] = list(values[np.arange(len(values)), order[:, i]])
    return columns


def explain_file(
    tracking_uri: str, name: str, source: Path, output: Path, *, top: int = 3, alias: str | None = None,
    version: str | None = None,
) -> tuple[Any, str]:  # fmt: skip
    """Predict and explain every row of ``source`` with one version of ``name``; write ``output`` (the rows, the
    prediction, each row's ``top`` columns and their contributions) and its record; (record, method)."""
    from zygarde.registry import CHAMPION, load_reference
    from zygarde.serving import predictions, resolve_input, write_result
    from zygarde.tabular.family import load_tabular_model
    from zygarde.tracking import fluent_tracking_uri

    if top < 1:
        raise ZygardeError(f"{option('top')} {top}: give at least 1 column per row.")
    alias = alias or CHAMPION
    resolved = resolve_input(tracking_uri, name, source, output, alias, version)
    with fluent_tracking_uri(tracking_uri):
        model = load_tabular_model(resolved.uri)
    reference = load_reference(tracking_uri, resolved.name, number=resolved.version)
    if reference.task is None:
        raise ZygardeError(
            f"{resolved.name} v{resolved.version} predicts no target (a clustering): `zygarde explain` "
            "explains classifiers and regressors; its clusters are explained in its run's report."
        )
    contributions, method = row_contributions(model, resolved.rows, reference.task, reference.features)
    result = resolved.frame.assign(**predictions(resolved), **top_columns(contributions, top))
    record = write_result(result, resolved, source, output, alias, version, method=method)
    return record, method
