"""How a clustering is scored: internal metrics on all rows, with noise counted, and the rule that keeps
degenerate results (one cluster, mostly noise, outliers split off) from ever being selected."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

SMALL_K = 5  # a one-item cluster among this many clusters or fewer is degenerate ...
MAX_NOISE = 0.5
MIN_SHARE = 0.01  # ... as is one holding under this share of the rows (an outlier split off)
MAX_SHARE = 0.9  # a cluster holding more than this share of the rows leaves only outliers to the others


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
