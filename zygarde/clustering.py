"""Clustering: the table and its features, search spaces (DBSCAN's eps from the k-distance distribution),
the trial objective, the degenerate-result filter, selection, and predictors that label new rows.

There is no label and no holdout: every trial clusters all rows of the (imputed, standardised) table and
is scored by internal metrics on those rows. Silhouette selects; Davies-Bouldin and Calinski-Harabasz
are logged beside it.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import psutil
from pandas.api import types as ptypes
from scipy import stats
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.metrics.pairwise import pairwise_distances
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from zygarde.errors import ZygardeError
from zygarde.trials import SearchKind, TrialResult, TrialSpec, expand_space

ClusterAlgorithm = Literal["kmeans", "dbscan", "agglomerative"]
CLUSTER_ALGORITHMS: tuple[str, ...] = ("kmeans", "dbscan", "agglomerative")
PAIRWISE = ("dbscan", "agglomerative")  # O(n^2) memory in the number of rows
FASTFOOD = "fastfood"
FASTFOOD_FILE = "fastfood_nutrition.csv"
NAME_COLUMNS = ("item", "name", "title")  # shown on plots and in profiles when present
# the original study: K-means k=2 on standardised (total_fat, total_carb) of Burger King items
STUDY = {"features": ["total_fat", "total_carb"], "params": {"n_clusters": 2, "init": "k-means++", "n_init": 10}}
STUDY_SILHOUETTE = 0.529
SMALL_K = 5  # a one-item cluster among this many clusters or fewer is degenerate ...
MAX_NOISE = 0.5
MIN_SHARE = 0.01  # ... as is one holding under this share of the rows (an outlier split off)
MAX_SHARE = 0.9  # a cluster holding more than this share of the rows leaves only outliers to the others
DBSCAN_MIN_SAMPLES = (3, 5, 8)
EPS_QUANTILES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
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
    from zygarde.datasets import TABLE_SUFFIXES, read_table

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
        name=_slug(f"{stem}-{chosen}" if chosen else stem),
        source=source,
        frame=frame,
        features=kept,
        names=names,
        builtin=builtin,
        restaurant=chosen,
        dropped=dropped,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


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
            f"is {limit} rows ({share:.0%} of the free memory, ZYGARDE_PAIRWISE_MEMORY_SHARE). Use --algorithms "
            "kmeans, which scales linearly (also on a Dask DataFrame via dask-ml), or sample the table."
        )


def eps_candidates(X: np.ndarray, min_samples: int, quantiles: tuple[float, ...] = EPS_QUANTILES) -> list[float]:
    """DBSCAN eps values read off the k-distance distribution, k = ``min_samples``.

    Each row's distance to its ``min_samples``-th nearest row (itself counted, as DBSCAN counts it) is
    the smallest eps that makes it a core point. Candidates are upper quantiles of that distribution and
    its knee (the point farthest from the chord of the sorted curve), where density drops off.
    """
    k = min(min_samples, len(X))
    distances, _ = NearestNeighbors(n_neighbors=k).fit(X).kneighbors(X)
    curve = np.sort(distances[:, -1])
    values = [*np.quantile(curve, quantiles), _knee(curve)]
    return sorted({round(float(v), 4) for v in values if v > 0})


def _knee(curve: np.ndarray) -> float:
    if len(curve) < 3 or curve[-1] == curve[0]:
        return float(curve[-1])
    x = np.linspace(0.0, 1.0, len(curve))
    y = (curve - curve[0]) / (curve[-1] - curve[0])
    return float(curve[int(np.argmax(x - y))])


def cluster_spaces(X: np.ndarray, max_clusters: int) -> dict[str, tuple[Any, Any]]:
    """(grid, distributions) per algorithm; DBSCAN's come from the data."""
    ks = list(range(2, max_clusters + 1))
    agglomerative = [
        {"linkage": ["ward"], "metric": ["euclidean"], "n_clusters": ks},
        {
            "linkage": ["complete", "average", "single"],
            "metric": ["euclidean", "manhattan", "cosine"],
            "n_clusters": ks,
        },
    ]
    dbscan = [{"min_samples": [m], "eps": eps_candidates(X, m)} for m in DBSCAN_MIN_SAMPLES if m < len(X)] or [
        {"min_samples": [2], "eps": eps_candidates(X, 2)}
    ]
    return {
        "kmeans": (
            {"n_clusters": ks, "init": ["k-means++", "random"], "n_init": [10]},
            {"n_clusters": stats.randint(2, max_clusters + 1), "init": ["k-means++", "random"], "n_init": [5, 10, 20]},
        ),
        "dbscan": (dbscan, dbscan),
        "agglomerative": (agglomerative, agglomerative),
    }


def check_rows(n_rows: int, max_clusters: int) -> None:
    """A search up to ``max_clusters`` clusters needs more rows than that."""
    if max_clusters < 2:
        raise ZygardeError(f"--max-clusters must be at least 2, got {max_clusters}.")
    if n_rows <= max_clusters:
        raise ZygardeError(
            f"Fewer rows than clusters: {n_rows} rows cannot be split into up to {max_clusters} clusters; "
            f"lower --max-clusters below {n_rows} or add rows."
        )


def plan_cluster_trials(
    algorithms: list[str], search: SearchKind, n_trials: int, seed: int, X: np.ndarray, max_clusters: int
) -> list[TrialSpec]:
    """Trials for each algorithm: its whole grid, or ``n_trials`` random draws."""
    check_rows(len(X), max_clusters)
    unknown = [a for a in algorithms if a not in CLUSTER_ALGORITHMS]
    if unknown:
        raise ZygardeError(f"Unknown algorithm {unknown[0]!r}; choose from {', '.join(CLUSTER_ALGORITHMS)}.")
    spaces = cluster_spaces(X, max_clusters)
    specs: list[TrialSpec] = []
    for name in algorithms:
        grid, distributions = spaces[name]
        for params in expand_space(grid, distributions, None, search, n_trials, seed):
            specs.append(TrialSpec(trial_id=len(specs), algorithm=name, params=params))
    return specs


def build_clusterer(algorithm: str, params: dict[str, Any], seed: int) -> BaseEstimator:
    """The sklearn estimator of a trial."""
    if algorithm == "kmeans":
        return KMeans(random_state=seed, **params)
    if algorithm == "dbscan":
        return DBSCAN(**params)
    if algorithm == "agglomerative":
        return AgglomerativeClustering(**params)
    raise ZygardeError(f"Unknown algorithm {algorithm!r}; choose from {', '.join(CLUSTER_ALGORITHMS)}.")


def cluster_metrics(X: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Cluster count, noise share, smallest cluster, and (with >= 2 clusters) the internal scores.

    DBSCAN's noise points (label -1) are left out of the distances. ``silhouette`` (the selection metric)
    counts each noise point as 0, the value the silhouette gives a one-point cluster, so a result cannot
    score well by declaring its hard rows noise; ``silhouette_clustered`` is the mean over clustered rows.
    """
    clustered = labels >= 0
    sizes = np.bincount(labels[clustered]) if clustered.any() else np.array([], dtype=int)
    sizes = sizes[sizes > 0]
    metrics = {
        "n_clusters": float(len(sizes)),
        "noise_fraction": float(1.0 - clustered.mean()),
        "min_cluster_size": float(sizes.min()) if len(sizes) else 0.0,
        "min_cluster_share": float(sizes.min() / len(labels)) if len(sizes) else 0.0,
        "max_cluster_share": float(sizes.max() / len(labels)) if len(sizes) else 0.0,
    }
    if 2 <= len(sizes) < clustered.sum():
        Xc, lc = X[clustered], labels[clustered]
        metrics["silhouette_clustered"] = float(silhouette_score(Xc, lc))
        metrics["silhouette"] = metrics["silhouette_clustered"] * float(clustered.mean())
        metrics["davies_bouldin"] = float(davies_bouldin_score(Xc, lc))
        metrics["calinski_harabasz"] = float(calinski_harabasz_score(Xc, lc))
    metrics["degenerate"] = float(degenerate_reason(metrics) is not None)
    return metrics


def degenerate_reason(metrics: dict[str, float]) -> str | None:
    """Why a result must never be selected (it is still logged), or None when it is usable."""
    n_clusters = int(metrics.get("n_clusters", 0))
    if n_clusters < 2:
        return "all noise" if n_clusters == 0 else "one cluster"
    if metrics.get("noise_fraction", 0.0) > MAX_NOISE:
        return f"{metrics['noise_fraction']:.0%} of rows are noise (> {MAX_NOISE:.0%})"
    smallest = metrics.get("min_cluster_size", 0)
    if n_clusters <= SMALL_K and (smallest == 1 or metrics.get("min_cluster_share", 1.0) < MIN_SHARE):
        what = "one item" if smallest == 1 else f"{smallest:.0f} items (< {MIN_SHARE:.0%} of rows)"
        return f"a cluster of {what} among only {n_clusters} clusters: outliers split off, not a grouping"
    if metrics.get("max_cluster_share", 0.0) > MAX_SHARE:
        share = metrics["max_cluster_share"]
        return f"one cluster holds {share:.0%} of the rows (> {MAX_SHARE:.0%}): the rest are outliers"
    if "silhouette" not in metrics:
        return "no silhouette (every row in its own cluster)"
    return None


@dataclass(frozen=True)
class ScaledTable:
    """The standardised feature matrix every trial clusters (scattered once to the workers)."""

    X: np.ndarray


@dataclass(frozen=True)
class ClusteringObjective:
    """Cluster all rows with the trial's configuration; score with internal metrics (silhouette selects)."""

    seed: int
    metric: str = "silhouette"
    greater_is_better: bool = True

    def __call__(self, spec: TrialSpec, data: ScaledTable) -> tuple[dict[str, float], dict[str, float]]:
        """Return (metrics, {}): a clustering has no folds, so no spread."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # k-means on duplicate points warns, still works
            labels = build_clusterer(spec.algorithm, spec.params, self.seed).fit_predict(data.X)
        return cluster_metrics(data.X, np.asarray(labels)), {}


def usable(results: list[TrialResult]) -> list[TrialResult]:
    """Trials that succeeded and are not degenerate."""
    return [r for r in results if r.error is None and degenerate_reason(r.cv_mean) is None]


def best_clustering(results: list[TrialResult], algorithm: str | None = None) -> TrialResult:
    """Highest silhouette among usable trials (of ``algorithm`` when given); ties go to the earlier trial."""
    pool = [r for r in usable(results) if algorithm is None or r.algorithm == algorithm]
    if not pool:
        scope = f"{algorithm} " if algorithm else ""
        failed = next((r.error for r in results if r.error), None)
        reasons = sorted({degenerate_reason(r.cv_mean) or "" for r in results if r.error is None} - {""})
        raise ZygardeError(
            f"No usable {scope}clustering among {len(results)} trials: "
            + "; ".join(filter(None, [f"degenerate: {', '.join(reasons)}" if reasons else "", failed]))
        )
    return max(pool, key=lambda r: (r.cv_mean["silhouette"], -r.trial_id))


class ClusterPredictor(BaseEstimator, ClusterMixin):
    """A fitted clustering that labels new rows, with a stated rule per algorithm.

    - kmeans: the nearest centre (K-means' own ``predict``).
    - dbscan: the label of the nearest core point if it lies within ``eps``, else -1 (noise); this is
      exactly how DBSCAN would label a new border or noise point without moving the clusters.
    - agglomerative: the nearest cluster centroid (mean of its members) under the clustering's metric.
    """

    def __init__(self, algorithm: str = "kmeans", params: dict[str, Any] | None = None, seed: int = 0) -> None:
        self.algorithm = algorithm
        self.params = params
        self.seed = seed

    def fit(self, X: np.ndarray, y: Any = None) -> ClusterPredictor:
        """Cluster ``X``; keep what ``predict`` needs."""
        X = np.asarray(X, dtype="float64")
        estimator = build_clusterer(self.algorithm, dict(self.params or {}), self.seed).fit(X)
        self.labels_ = np.asarray(estimator.labels_)
        if self.algorithm == "kmeans":
            self.estimator_ = estimator
        elif self.algorithm == "dbscan":
            self.reference_ = np.asarray(estimator.components_)
            self.reference_labels_ = self.labels_[estimator.core_sample_indices_]
        else:
            present = np.unique(self.labels_)
            self.reference_ = np.vstack([X[self.labels_ == label].mean(axis=0) for label in present])
            self.reference_labels_ = present
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Cluster labels of new rows (already preprocessed, as in the pipeline)."""
        X = np.asarray(X, dtype="float64")
        if self.algorithm == "kmeans":
            return self.estimator_.predict(X)
        if len(self.reference_) == 0:
            return np.full(len(X), -1)
        metric = (self.params or {}).get("metric", "euclidean")
        distances = pairwise_distances(X, self.reference_, metric=metric)
        nearest = distances.argmin(axis=1)
        labels = self.reference_labels_[nearest]
        if self.algorithm == "dbscan":
            eps = (self.params or {}).get("eps", 0.5)
            labels = np.where(distances[np.arange(len(X)), nearest] <= eps, labels, -1)
        return labels


def cluster_model(spec: TrialSpec, table: ClusterTable, seed: int) -> Pipeline:
    """Imputer + scaler + predictor refitted on all rows: what is registered."""
    return Pipeline([("preprocess", build_scaler()), ("cluster", ClusterPredictor(spec.algorithm, spec.params, seed))])


def study_reference(table: ClusterTable, seed: int) -> dict[str, float] | None:
    """The original study's configuration on this table, for comparison; None without its two columns."""
    columns = STUDY["features"]
    if not set(columns) <= set(table.frame.columns):
        return None
    X = build_scaler().fit_transform(table.frame[columns].astype("float64"))
    labels = KMeans(random_state=seed, **STUDY["params"]).fit_predict(X)
    return {"silhouette": float(silhouette_score(X, labels)), "study_silhouette": STUDY_SILHOUETTE}


def cluster_profile(table: ClusterTable, labels: np.ndarray, examples: int = 3) -> pd.DataFrame:
    """One row per cluster: size, mean of every feature (original units), the items nearest its centre."""
    X = table.X
    scaled = build_scaler().fit_transform(X)
    rows = []
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        centre = scaled[members].mean(axis=0)
        nearest = members[np.argsort(((scaled[members] - centre) ** 2).sum(axis=1))[:examples]]
        rows.append(
            {
                "cluster": "noise" if label == -1 else str(label),
                "size": len(members),
                **X.iloc[members].mean().round(1).to_dict(),
                "examples": "; ".join(table.names[i] for i in nearest),
            }
        )
    return pd.DataFrame(rows)


def cluster_leaderboard(results: list[TrialResult], top: int = 10) -> pd.DataFrame:
    """Usable trials by silhouette (all rows of the table), best first; degenerate ones are not listed."""
    columns = ("silhouette", "silhouette_clustered", "davies_bouldin", "calinski_harabasz", "n_clusters")
    rows = [
        {
            "trial": r.trial_id,
            "algorithm": r.algorithm,
            **{name: r.cv_mean.get(name, float("nan")) for name in columns},
            "noise_fraction": r.cv_mean.get("noise_fraction", 0.0),
            "fit_seconds": r.fit_seconds,
            "params": ", ".join(f"{k}={v}" for k, v in sorted(r.params.items())),
        }
        for r in usable(results)
    ]
    if not rows:
        return pd.DataFrame(rows)
    return pd.DataFrame(rows).sort_values("silhouette", ascending=False).head(top).reset_index(drop=True)
