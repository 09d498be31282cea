"""Clusterers by name, and the predictor that is registered: it labels new rows by a stated rule per family.

Trials are scored through this predictor's ``predict`` on the rows it was fitted on, so the model that is
selected, registered and compared with the champion labels rows one and the same way.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN, AgglomerativeClustering, KMeans
from sklearn.metrics.pairwise import pairwise_distances
from sklearn.pipeline import Pipeline

from zygarde.cluster.data import CLUSTER_ALGORITHMS, ScaledTable, build_scaler
from zygarde.cluster.metrics import cluster_metrics
from zygarde.errors import ZygardeError
from zygarde.search.objective import Objective
from zygarde.search.trials import TrialSpec


def build_clusterer(algorithm: str, params: dict[str, Any], seed: int) -> BaseEstimator:
    """The sklearn estimator of a trial."""
    if algorithm == "kmeans":
        return KMeans(random_state=seed, **params)
    if algorithm == "dbscan":
        return DBSCAN(**params)
    if algorithm == "agglomerative":
        return AgglomerativeClustering(**params)
    raise ZygardeError(f"Unknown algorithm {algorithm!r}; choose from {', '.join(CLUSTER_ALGORITHMS)}.")


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


def cluster_model(spec: TrialSpec, seed: int) -> Pipeline:
    """Imputer + scaler + predictor refitted on all rows: what is registered."""
    return Pipeline([("preprocess", build_scaler()), ("cluster", ClusterPredictor(spec.algorithm, spec.params, seed))])


def fit_labels(spec: TrialSpec, X: np.ndarray, seed: int) -> np.ndarray:
    """The labels the registered predictor gives the rows it was fitted on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # k-means on duplicate points warns, still works
        return np.asarray(ClusterPredictor(spec.algorithm, spec.params, seed).fit(X).predict(X))


@dataclass(frozen=True)
class ClusteringObjective(Objective):
    """Fit the trial's predictor on all rows, label them with it, score with internal metrics (silhouette)."""

    seed: int
    metric: str = "silhouette"
    greater_is_better: bool = True

    def __call__(self, spec: TrialSpec, data: ScaledTable) -> tuple[dict[str, float], dict[str, float]]:
        """Return (metrics, {}): a clustering has no folds, so no spread."""
        return cluster_metrics(data.X, fit_labels(spec, data.X, self.seed)), {}
