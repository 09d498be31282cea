"""Load built-in and user tables into a ``TabularDataset``; every user-caused problem is a ``ZygardeError``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pandas.api import types as ptypes

from zygarde.errors import ZygardeError, option
from zygarde.tables import TABLE_SUFFIXES, DataQualityWarning, read_table
from zygarde.tabular.columns import ColumnPlan, apply_plan, plan_columns

TaskKind = Literal["classification", "regression"]
_MAX_CLASSES = 20


@dataclass(frozen=True)
class BuiltinDataset:
    """A dataset shipped in ``data/raw`` with its known target and quirks."""

    file: str
    target: str
    task: TaskKind
    zero_as_missing: tuple[str, ...] = ()


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    "diabetes": BuiltinDataset(
        file="diabetes.csv",
        target="Outcome",
        task="classification",
        zero_as_missing=("Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"),
    ),
}


@dataclass
class TabularDataset:
    """A table ready for validation: features, target, task kind, and what was dropped and why."""

    name: str
    source: Path
    frame: pd.DataFrame
    target: str
    task: TaskKind
    zero_as_missing: tuple[str, ...] = ()
    builtin: bool = False
    columns: ColumnPlan = field(default_factory=lambda: ColumnPlan(()))

    @property
    def dropped(self) -> dict[str, str]:
        """Columns no model can use, and why (dropped when the table was read)."""
        return self.columns.dropped

    @property
    def features(self) -> list[str]:
        """Feature column names (everything but the target)."""
        return [c for c in self.frame.columns if c != self.target]


def infer_task(target: pd.Series) -> TaskKind:
    """Classification for labels (text, bool, or few integer values); regression otherwise."""
    values = target.dropna()
    if not ptypes.is_numeric_dtype(values) or ptypes.is_bool_dtype(values):
        return "classification"
    integral = bool((values == values.round()).all())
    return "classification" if integral and values.nunique() <= _MAX_CLASSES else "regression"


def prepare_table(
    frame: pd.DataFrame,
    *,
    name: str,
    source: Path,
    target: str,
    task: TaskKind | None = None,
    zero_as_missing: tuple[str, ...] = (),
    builtin: bool = False,
) -> TabularDataset:
    """Check the target, infer the task, decide every column's role (``zygarde.tabular.columns``: dates parsed,
    and columns no model can use dropped with a warning naming them)."""
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:15]))
        raise ZygardeError(
            f"{source}: target column {target!r} not found. Columns are: {shown}. "
            f"Pass the right name as {option('target')}."
        )
    frame = frame.dropna(axis="index", subset=[target]).reset_index(drop=True)
    if frame.empty:
        raise ZygardeError(f"{source}: target column {target!r} has no values.")
    columns = plan_columns(frame, target)
    for column, reason in columns.dropped.items():
        warnings.warn(f"{source}: dropping column {column!r}: {reason}.", DataQualityWarning, stacklevel=2)
    frame = apply_plan(frame, columns)
    if len(frame.columns) < 2:
        raise ZygardeError(f"{source}: no usable feature columns besides the target {target!r}.")
    return TabularDataset(
        name=name,
        source=source,
        frame=frame,
        target=target,
        task=task or infer_task(frame[target]),
        zero_as_missing=zero_as_missing,
        builtin=builtin,
        columns=columns,
    )


def load_dataset(
    dataset: str,
    *,
    data_root: Path,
    target: str | None = None,
    task: TaskKind | None = None,
    name: str | None = None,
) -> TabularDataset:
    """Load a built-in dataset by name, or any CSV/Parquet file by path (then ``target`` is required).

    A built-in with another target than its own (``diabetes --target BMI``) predicts that column, with the
    task inferred from it unless given; where 0 means "not measured" in that column, those rows have no target.
    A file ``name``d after a built-in is a new batch of it: the built-in's target, quirks and expectations apply,
    and its models compete with that built-in's champion.
    """
    if dataset in BUILTIN_DATASETS:
        path = data_root / BUILTIN_DATASETS[dataset].file
        return _builtin_table(dataset, path, read_table(path), target, task)
    path = Path(dataset).expanduser()
    if path.suffix.lower() not in TABLE_SUFFIXES and not path.exists():
        known = ", ".join(BUILTIN_DATASETS)
        raise ZygardeError(f"Unknown dataset {dataset!r}: not a built-in ({known}) and no such file.")
    frame = read_table(path)  # a missing or unreadable file is the first thing to hear about
    if name in BUILTIN_DATASETS:
        return _builtin_table(name, path, frame, target, task)
    if not target:
        raise ZygardeError(f"{path}: say which column to predict ({option('target')}).")
    return prepare_table(frame, name=name or path.stem, source=path, target=target, task=task)


def _builtin_table(
    name: str, path: Path, frame: pd.DataFrame, target: str | None, task: TaskKind | None
) -> TabularDataset:
    spec = BUILTIN_DATASETS[name]
    chosen = target or spec.target
    if chosen in spec.zero_as_missing and chosen in frame.columns:
        frame[chosen] = frame[chosen].mask(frame[chosen] == 0)
    return prepare_table(
        frame,
        name=name,
        source=path,
        target=chosen,
        task=task or (spec.task if chosen == spec.target else None),
        zero_as_missing=tuple(c for c in spec.zero_as_missing if c != chosen),
        builtin=True,
    )
