"""Search spaces of the three clustering families; DBSCAN's eps is read off the data's k-distance curve."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from sklearn.neighbors import NearestNeighbors

from zygarde.cluster.data import CLUSTER_ALGORITHMS, check_rows
from zygarde.errors import ZygardeError
from zygarde.search.spaces import SearchKind, expand_space, numbered
from zygarde.search.trials import TrialSpec

DBSCAN_MIN_SAMPLES = (3, 5, 8)
EPS_QUANTILES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


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


def plan_cluster_trials(
    algorithms: list[str], search: SearchKind, n_trials: int, seed: int, X: np.ndarray, max_clusters: int
) -> list[TrialSpec]:
    """Trials for each algorithm: its whole grid, or ``n_trials`` random draws."""
    check_rows(len(X), max_clusters)
    unknown = [a for a in algorithms if a not in CLUSTER_ALGORITHMS]
    if unknown:
        raise ZygardeError(f"Unknown algorithm {unknown[0]!r}; choose from {', '.join(CLUSTER_ALGORITHMS)}.")
    spaces = cluster_spaces(X, max_clusters)
    drawn: list[tuple[str, dict[str, Any]]] = []
    for name in algorithms:
        grid, distributions = spaces[name]
        drawn += [(name, p) for p in expand_space(grid, distributions, None, search, n_trials, seed)]
    return numbered(drawn)
