"""Preprocessing fitted inside each CV fold (impute, scale, one-hot) and the held-out split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

from zygarde.errors import ZygardeError, option
from zygarde.tabular.datasets import TabularDataset


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


def build_preprocessor(features: pd.DataFrame, zero_as_missing: tuple[str, ...] = ()) -> Pipeline:
    """Numeric: median-impute + scale; everything else: mode-impute + one-hot. Unfitted, fold-safe."""
    numeric = [
        c for c in features.columns if ptypes.is_numeric_dtype(features[c]) and not ptypes.is_bool_dtype(features[c])
    ]
    categorical = [c for c in features.columns if c not in numeric]
    columns = ColumnTransformer(
        [
            ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), numeric),
            (
                "categorical",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        (
                            "onehot",
                            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, sparse_output=False),
                        ),
                    ]
                ),
                categorical,
            ),
        ],
        verbose_feature_names_out=False,
    )
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
