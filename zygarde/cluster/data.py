"""The table to cluster: one restaurant's rows (or all), the numeric feature columns, what was dropped, and the
checks that need no service (rows against clusters, the O(n^2) algorithms against memory)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from pandas.api import types as ptypes
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from zygarde.errors import ZygardeError, option
from zygarde.family import slug

CLUSTER_ALGORITHMS: tuple[str, ...] = ("kmeans", "dbscan", "agglomerative")
PAIRWISE = ("dbscan", "agglomerative")  # O(n^2) memory in the number of rows
FASTFOOD = "fastfood"
FASTFOOD_FILE = "fastfood_nutrition.csv"
NAME_COLUMNS = ("item", "name", "title")  # shown on plots and in profiles when present
# the original study: K-means k=2 on standardised (total_fat, total_carb) of Burger King items
STUDY: dict[str, Any] = {
    "features": ["total_fat", "total_carb"],
    "params": {"n_clusters": 2, "init": "k-means++", "n_init": 10},
}
STUDY_SILHOUETTE = 0.529
_BYTES_PER_PAIR = 16  # float64 distances plus one working copy


@dataclass
class ClusterTable:
    """The rows to cluster, the feature columns, their display names, and what was dropped and why."""

    name: str
    source: Path
    frame: pd.DataFrame
    features: list[str]
    names: list[str]
    builtin: bool = False
    restaurant: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def X(self) -> pd.DataFrame:  # noqa: N802 (sklearn naming)
        """The feature columns as floats (missing values stay NaN; the pipeline imputes them)."""
        return self.frame[self.features].astype("float64")


def load_cluster_table(
    dataset: str, data_root: Path, restaurant: str = "Burger King", features: list[str] | None = None
) -> ClusterTable:
    """Read a built-in (``fastfood``) or user table, keep one restaurant's rows, choose numeric features.

    A ``restaurant`` column, when the table has one, filters the rows (``all`` keeps every row).
    Feature columns that are entirely empty for the kept rows are dropped with a note.
    """
    from zygarde.tables import TABLE_SUFFIXES, read_table

    builtin = dataset == FASTFOOD
    source = data_root / FASTFOOD_FILE if builtin else Path(dataset).expanduser()
    if not builtin and source.suffix.lower() not in TABLE_SUFFIXES and not source.exists():
        raise ZygardeError(f"Unknown dataset {dataset!r}: use {FASTFOOD!r} or a path to a CSV/Parquet file.")
    frame = read_table(source)
    chosen: str | None = None
    if "restaurant" in frame.columns and restaurant.lower() != "all":
        known = sorted(frame["restaurant"].dropna().unique())
        match = [r for r in known if r.lower() == restaurant.lower()]
        if not match:
            raise ZygardeError(
                f"{source}: no restaurant {restaurant!r}; valid: {', '.join(known)} (or 'all' for every row)."
            )
        chosen = match[0]
        frame = frame[frame["restaurant"] == chosen].reset_index(drop=True)
    columns = _feature_columns(frame, features, source)
    dropped = {c: "entirely empty for these rows" for c in columns if frame[c].isna().all()}
    kept = [c for c in columns if c not in dropped]
    if not kept:
        raise ZygardeError(
            f"{source}: every chosen feature column is entirely empty ({', '.join(columns)}); choose other columns."
        )
    name_column = next((c for c in NAME_COLUMNS if c in frame.columns), None)
    names = frame[name_column].astype(str).tolist() if name_column else [f"row {i}" for i in range(len(frame))]
    stem = FASTFOOD if builtin else source.stem
    return ClusterTable(
        name=slug(f"{stem}-{chosen}" if chosen else stem),
        source=source,
        frame=frame,
        features=kept,
        names=names,
        builtin=builtin,
        restaurant=chosen,
        dropped=dropped,
    )


def _feature_columns(frame: pd.DataFrame, features: list[str] | None, source: Path) -> list[str]:
    numeric = [c for c in frame.columns if ptypes.is_numeric_dtype(frame[c]) and not ptypes.is_bool_dtype(frame[c])]
    if not features:
        if not numeric:
            raise ZygardeError(
                f"{source}: no numeric feature columns (columns: {', '.join(map(str, frame.columns))}); "
                "clustering needs at least one number per row."
            )
        return numeric
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ZygardeError(
            f"{source}: feature column(s) {', '.join(missing)} not found; numeric columns: {', '.join(numeric)}."
        )
    text = [c for c in features if c not in numeric]
    if text:
        raise ZygardeError(f"{source}: feature column(s) {', '.join(text)} are not numeric; choose from {numeric}.")
    return list(features)


def build_scaler() -> Pipeline:
    """Median imputation then standardisation, fitted on all rows (unsupervised: there is no holdout)."""
    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])


def pairwise_row_limit(available_bytes: int | None = None, share: float = 0.25) -> int:
    """Most rows DBSCAN/Agglomerative may take: their n x n distances must fit in ``share`` of free memory."""
    available = psutil.virtual_memory().available if available_bytes is None else available_bytes
    return int(math.sqrt(share * available / _BYTES_PER_PAIR))


def check_size(n_rows: int, algorithms: list[str], share: float, available_bytes: int | None = None) -> None:
    """Refuse O(n^2) algorithms on tables above the row limit, saying what they need and what scales."""
    refused = [a for a in algorithms if a in PAIRWISE]
    limit = pairwise_row_limit(available_bytes, share)
    if refused and n_rows > limit:
        need = _BYTES_PER_PAIR * n_rows**2 / 2**30
        raise ZygardeError(
            f"{' and '.join(refused)} need about {need:.2f} GiB for {n_rows} rows (n x n distances); the limit here "
            f"is {limit} rows ({share:.0%} of the free memory, ZYGARDE_PAIRWISE_MEMORY_SHARE). "
            f"Use {option('algorithms')} kmeans, which scales linearly (also on a Dask DataFrame via dask-ml), "
            "or sample the table."
        )


def check_rows(n_rows: int, max_clusters: int) -> None:
    """A search up to ``max_clusters`` clusters needs more rows than that."""
    if max_clusters < 2:
        raise ZygardeError(f"{option('max_clusters')} must be at least 2, got {max_clusters}.")
    if n_rows <= max_clusters:
        raise ZygardeError(
            f"Fewer rows than clusters: {n_rows} rows cannot be split into up to {max_clusters} clusters; "
            f"lower {option('max_clusters')} below {n_rows} or add rows."
        )


@dataclass(frozen=True)
class ScaledTable:
    """The search view: the standardised feature matrix every trial clusters, and the raw rows the registered
    pipeline (imputer, scaler, predictor) is fitted on."""

    X: np.ndarray
    raw: pd.DataFrame
