"""Column types, decided once per table and shown: what each column is, and what the pipeline does with it.

The plan is made when the table is read (``plan_columns``), printed before the search, logged with the run
(``columns.json``) and turned into the registered pipeline's preprocessing (``zygarde.tabular.preprocess``):

- numeric: median-imputed (with a missing-value indicator), scaled;
- boolean and categories with few levels: one-hot;
- categories with many levels: target encoding, fitted inside each training fold (scikit-learn's
  ``TargetEncoder``, itself cross-fitted on the fold);
- datetimes (a datetime dtype, text in one date format, or yyyymmdd integers): calendar features;
- free text, identifiers and empty columns: dropped, each with its reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pandas.tseries.api import guess_datetime_format
from sklearn.base import BaseEstimator, TransformerMixin

ColumnKind = Literal["numeric", "boolean", "datetime", "category", "many-level category", "dropped"]

MANY_LEVELS = 12  # more distinct values than this: target-encoded, not one-hot
_ID_UNIQUE_SHARE = 0.95
_TEXT_WORDS = 4  # free text: this many words a value on average, and distinct values on a third of the rows or
_TEXT_LEVELS = 2_000  # this many (labels of a few words repeat far more)
_DATE_SHARE = 0.95  # a text column is dates when this share of a sample parses in one format
_SAMPLE = 500

TREATMENTS: dict[str, str] = {
    "numeric": "median-imputed (+ missing indicator), scaled",
    "boolean": "one-hot",
    "datetime": "year, month, day, weekday, day of year, days since the first (+ hour if times vary)",
    "category": "one-hot (levels under 5 rows pooled)",
    "many-level category": "target-encoded inside each training fold",
}


@dataclass(frozen=True)
class ColumnRole:
    """One column's kind, its treatment (or why it is dropped), and its distinct values."""

    column: str
    kind: ColumnKind
    treatment: str
    levels: int = 0
    date_format: str | None = None  # how a text date column is written (None: a datetime dtype already)


@dataclass(frozen=True)
class ColumnPlan:
    """Every feature column's role, in the table's order."""

    roles: tuple[ColumnRole, ...]

    def of_kind(self, kind: ColumnKind) -> list[str]:
        """The columns of one kind, in the table's order."""
        return [r.column for r in self.roles if r.kind == kind]

    @property
    def used(self) -> list[str]:
        """The columns a model sees."""
        return [r.column for r in self.roles if r.kind != "dropped"]

    @property
    def dropped(self) -> dict[str, str]:
        """Dropped column -> why."""
        return {r.column: r.treatment for r in self.roles if r.kind == "dropped"}

    def records(self) -> list[dict[str, Any]]:
        """One record a column (``columns.json``)."""
        return [{"column": r.column, "kind": r.kind, "treatment": r.treatment, "levels": r.levels} for r in self.roles]

    def table(self, width: int = 60) -> str:
        """A short table for the terminal: a line a kind, its columns (levels in brackets) and its treatment."""
        rows = []
        for kind in ("numeric", "boolean", "datetime", "category", "many-level category"):
            roles = [r for r in self.roles if r.kind == kind]
            if roles:
                named = [f"{r.column} ({r.levels})" if "category" in kind else r.column for r in roles]
                rows.append((kind, _shorten(named, width), TREATMENTS[kind]))
        rows += [("dropped", column, reason) for column, reason in self.dropped.items()]
        wide = max((len(r[1]) for r in rows), default=0)
        lines = [f"columns: {len(self.used)} used, {len(self.dropped)} dropped"]
        return "\n".join(lines + [f"  {kind:<20} {named:<{wide}}  {what}" for kind, named, what in rows])


def _shorten(names: list[str], width: int) -> str:
    shown = ""
    for i, name in enumerate(names):
        more = f", … {len(names) - i} more"
        candidate = f"{shown}, {name}" if shown else name
        if len(candidate) + len(more) > width and i < len(names) - 1:
            return shown + more
        shown = candidate
    return shown


def date_format(values: pd.Series) -> str | None:
    """The one format (year, month and day in it) most of a text column's values parse in; None: not dates."""
    sample = values.dropna().astype(str).head(_SAMPLE)
    if sample.empty or pd.to_numeric(sample, errors="coerce").notna().mean() > 0.5:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns about day-first guesses; both orders are tried
        guesses = {guess_datetime_format(sample.iloc[0]), guess_datetime_format(sample.iloc[0], dayfirst=True)}
    calendar = [g for g in sorted(g for g in guesses if g) if "%Y" in g and "%d" in g and ("%m" in g or "%b" in g)]
    for fmt in calendar:  # %b also matches %B
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().mean() >= _DATE_SHARE:
            return fmt
    return None


def _yyyymmdd(values: pd.Series) -> bool:
    """Whole numbers that are all dates written as yyyymmdd (20240131)."""
    values = values.dropna()
    if not ptypes.is_integer_dtype(values) or values.empty or values.min() < 19000101 or values.max() > 21001231:
        return False
    return bool(pd.to_datetime(values.astype(str), format="%Y%m%d", errors="coerce").notna().all())


def _role(column: str, values: pd.Series) -> ColumnRole:
    present = values.dropna()
    if present.empty:
        return ColumnRole(column, "dropped", "entirely empty")
    try:
        levels = int(present.nunique())
    except TypeError:  # unhashable values: lists, arrays, dicts (a Parquet list or struct column)
        return ColumnRole(column, "dropped", "nested values (lists or records): flatten them into columns to use them")
    if ptypes.is_datetime64_any_dtype(values):
        return ColumnRole(column, "datetime", TREATMENTS["datetime"], levels)
    if ptypes.is_timedelta64_dtype(values):
        return ColumnRole(column, "numeric", f"in seconds, {TREATMENTS['numeric']}", levels)
    if ptypes.is_bool_dtype(values) or (levels <= 2 and not ptypes.is_numeric_dtype(values)):
        return ColumnRole(column, "boolean", TREATMENTS["boolean"], levels)
    if _yyyymmdd(values):
        return ColumnRole(column, "datetime", TREATMENTS["datetime"], levels, "%Y%m%d")
    unique = len(present) >= 20 and levels >= _ID_UNIQUE_SHARE * len(present)
    if ptypes.is_numeric_dtype(values):
        if unique and ptypes.is_integer_dtype(values) and present.is_monotonic_increasing:
            return ColumnRole(column, "dropped", "a row identifier (unique, increasing integers)", levels)
        return ColumnRole(column, "numeric", TREATMENTS["numeric"], levels)
    fmt = date_format(values)
    if fmt:
        return ColumnRole(column, "datetime", TREATMENTS["datetime"], levels, fmt)
    words = present.astype(str).head(_SAMPLE).str.split().str.len().mean()
    if words >= _TEXT_WORDS and levels >= min(0.3 * len(present), _TEXT_LEVELS):
        return ColumnRole(column, "dropped", f"free text ({words:.0f} words a value): zygarde does not model text")
    if unique:
        return ColumnRole(column, "dropped", "an identifier (a distinct value on almost every row)", levels)
    kind: ColumnKind = "many-level category" if levels > MANY_LEVELS else "category"
    return ColumnRole(column, kind, TREATMENTS[kind], levels)


def plan_columns(frame: pd.DataFrame, target: str) -> ColumnPlan:
    """Decide every feature column's role from its values."""
    return ColumnPlan(tuple(_role(str(c), frame[c]) for c in frame.columns if c != target))


def as_dates(values: pd.Series, fmt: str | None = None) -> pd.Series:
    """A column as timezone-naive datetimes (UTC where it had a zone); what does not parse becomes NaT."""
    if ptypes.is_datetime64_any_dtype(values):
        parsed = values
    elif fmt == "%Y%m%d" or ptypes.is_numeric_dtype(values):
        parsed = pd.to_datetime(values.astype("Int64").astype(str), format="%Y%m%d", errors="coerce")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a guessed format: pandas warns; NaT where it does not fit
            parsed = pd.to_datetime(values.astype(object), format=fmt, errors="coerce", utc=True)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def apply_plan(frame: pd.DataFrame, plan: ColumnPlan) -> pd.DataFrame:
    """The frame with dropped columns removed, date columns parsed and durations in seconds (once, when the table
    is read)."""
    frame = frame.drop(columns=list(plan.dropped))
    for role in plan.roles:
        if role.kind == "datetime":
            frame[role.column] = as_dates(frame[role.column], role.date_format)
        elif role.kind == "numeric" and ptypes.is_timedelta64_dtype(frame[role.column]):
            frame[role.column] = frame[role.column].dt.total_seconds()
    return frame


class DateFeatures(TransformerMixin, BaseEstimator):
    """Calendar features of date columns (datetimes, or text a CSV row brings): year, month, day, weekday, day of
    year, hour (where the training times vary) and days since the earliest training date; NaN where missing."""

    _PARTS: ClassVar[dict[str, str]] = {  # feature name -> pandas' accessor
        "year": "year", "month": "month", "day": "day", "weekday": "day_of_week", "dayofyear": "day_of_year"
    }  # fmt: skip

    def fit(self, X: pd.DataFrame, y: object = None) -> DateFeatures:
        dates = {c: as_dates(X[c]) for c in X.columns}
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        first = [d.min() for d in dates.values() if d.notna().any()]
        self.reference_ = str(min(first)) if first else "1970-01-01"
        self.hours_ = [c for c, d in dates.items() if d.notna().any() and bool((d.dt.hour.fillna(0) != 0).any())]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = {}
        reference = pd.Timestamp(self.reference_)
        for column in self.feature_names_in_:
            dates = as_dates(X[column])
            for part, attribute in self._PARTS.items():
                out[f"{column}_{part}"] = getattr(dates.dt, attribute).astype(float)
            if column in self.hours_:
                out[f"{column}_hour"] = dates.dt.hour.astype(float)
            out[f"{column}_days"] = (dates - reference).dt.total_seconds() / 86400.0
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = []
        for column in self.feature_names_in_:
            names += [f"{column}_{part}" for part in self._PARTS]
            names += [f"{column}_hour"] if column in self.hours_ else []
            names.append(f"{column}_days")
        return np.asarray(names, dtype=object)


class AsCategories(TransformerMixin, BaseEstimator):
    """Category columns as text (numbers, booleans and strings alike), missing values as their own level."""

    MISSING = "(missing)"

    def fit(self, X: pd.DataFrame, y: object = None) -> AsCategories:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        frame = pd.DataFrame(X).astype(object)
        return frame.where(frame.notna(), self.MISSING).astype(str).to_numpy(dtype=object)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_
