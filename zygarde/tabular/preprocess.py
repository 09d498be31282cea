"""Preprocessing fitted inside each CV fold (the column plan's treatments) and the held-out split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler, TargetEncoder

from zygarde.errors import ZygardeError, option
from zygarde.tabular.columns import AsCategories, ColumnPlan, DateFeatures
from zygarde.tabular.datasets import TabularDataset, TaskKind


class ZeroAsMissing(TransformerMixin, BaseEstimator):
    """Replace 0 with NaN in the given columns (where 0 means 'not measured'); stateless."""

    def __init__(self, columns: tuple[str, ...] = ()) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: object = None) -> ZeroAsMissing:
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for column in self.columns:
            if column in X.columns:
                X[column] = X[column].mask(X[column] == 0)
        return X

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def build_preprocessor(
    plan: ColumnPlan,
    zero_as_missing: tuple[str, ...] = (),
    *,
    task: TaskKind = "classification",
    n_classes: int = 2,
    seed: int = 0,
) -> Pipeline:
    """The plan's treatment of every column (``zygarde.tabular.columns``), unfitted and fold-safe: fitted on a
    training fold only (a many-level category's target encoding cross-fitted inside it)."""
    impute = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    parts: list[tuple[str, Any, list[str]]] = [
        ("numeric", Pipeline([("impute", impute), ("scale", StandardScaler())]), plan.of_kind("numeric")),
        ("datetime", Pipeline([("calendar", DateFeatures()), ("impute", clone(impute)), ("scale", StandardScaler())]),
         plan.of_kind("datetime")),
        ("category", Pipeline([("text", AsCategories()), ("onehot", OneHotEncoder(
            handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False, drop="if_binary"))]),
         plan.of_kind("boolean") + plan.of_kind("category")),
    ]  # fmt: skip
    many = plan.of_kind("many-level category")
    if many:
        target_type = "continuous" if task == "regression" else ("binary" if n_classes == 2 else "multiclass")
        inner = KFold if task == "regression" else StratifiedKFold  # the fold's own cross-fitting, seeded
        encoder = TargetEncoder(target_type=target_type, cv=inner(5, shuffle=True, random_state=seed))
        parts.append(("target", Pipeline([("text", AsCategories()), ("encode", encoder), ("scale", StandardScaler())]),
                      many))  # fmt: skip
    columns = ColumnTransformer([p for p in parts if p[2]], verbose_feature_names_out=False)
    return Pipeline([("zeros", ZeroAsMissing(tuple(zero_as_missing))), ("columns", columns)])


@dataclass
class HoldoutSplit:
    """Training and held-out test parts; the test part is never seen by the search."""

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    classes: list[str]


def encode_target(dataset: TabularDataset) -> tuple[np.ndarray, list[str]]:
    """Classification labels -> 0..k-1 (the class names kept in order); regression target as float."""
    y = dataset.frame[dataset.target]
    if dataset.task == "regression":
        if not ptypes.is_numeric_dtype(y):
            raise ZygardeError(f"{dataset.source}: target {dataset.target!r} must be numeric for regression.")
        return y.to_numpy(dtype=float), []
    encoder = LabelEncoder().fit(y.astype(str))
    classes = [str(c) for c in encoder.classes_]
    if len(classes) < 2:
        raise ZygardeError(
            f"{dataset.source}: target {dataset.target!r} has a single class ({classes[0]!r}); "
            "classification needs at least two."
        )
    return encoder.transform(y.astype(str)), classes


def split_holdout(dataset: TabularDataset, test_size: float, seed: int, cv: int) -> HoldoutSplit:
    """Set a (stratified, for classification) test split aside before any search."""
    y, classes = encode_target(dataset)
    X = dataset.frame[dataset.features]
    stratify = y if dataset.task == "classification" else None
    min_rows = cv * (len(classes) if classes else 1)
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_size, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        raise ZygardeError(
            f"{dataset.source}: cannot set aside a test split of {test_size:.0%} from "
            f"{len(X)} rows ({exc}). Use more rows or a different {option('test_size')}."
        ) from exc
    if classes and np.bincount(y_train).min() < cv:
        raise ZygardeError(
            f"{dataset.source}: the smallest class has {np.bincount(y_train).min()} training rows, "
            f"fewer than the {cv} cross-validation folds ({option('cv')}). Lower it or add rows."
        )
    if len(X_train) < min_rows:
        raise ZygardeError(
            f"{dataset.source}: {len(X_train)} training rows are fewer than {cv} cross-validation folds "
            f"({option('cv')}) need."
        )
    return HoldoutSplit(X_train.reset_index(drop=True), X_test.reset_index(drop=True), y_train, y_test, classes)


_CHECK_ROWS = 150  # per class: the sample a table's pipeline is tried on before the search


def check_round_trip(data: Any, build: Any) -> None:
    """Fail before the search, never after it: fit the table's preprocessing (``build(plan)``, a pipeline ending
    in a constant model) on a small sample of ``data`` (a ``TrialData``), save and load it as the registry does
    (skops), and predict raw rows. Anything that would fail at registration fails here, naming the column."""
    X, y = data.X, np.asarray(data.y)
    labels = np.unique(y) if data.task == "classification" else [None]
    rows = np.concatenate([np.flatnonzero(y == c)[:_CHECK_ROWS] if c is not None else np.arange(min(len(y), 300))
                           for c in labels])  # fmt: skip
    sample, target = X.iloc[rows], y[rows]
    try:
        _round_trip(build(data.plan), sample, target)
    except Exception as whole:
        for role in data.plan.roles:
            if role.kind == "dropped":
                continue
            try:
                _round_trip(build(ColumnPlan((role,))), sample[[role.column]], target)
            except Exception as exc:
                raise ZygardeError(
                    f"column {role.column!r} ({role.kind}, {sample[role.column].dtype}) cannot go into a model: "
                    f"{_reason(exc)}. Convert it to numbers, text or dates in the table, or drop the column."
                ) from exc
        raise ZygardeError(f"the table's preprocessing cannot be fitted and saved: {_reason(whole)}.") from whole


def _round_trip(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray) -> None:
    from zygarde.serialization import skops_io

    dumped = skops_io.dumps(pipeline.fit(X, y))
    loaded = skops_io.loads(dumped, trusted=skops_io.get_untrusted_types(data=dumped))
    loaded.predict(X)


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
