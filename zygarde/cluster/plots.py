"""How a clustering reads: a 2-D PCA scatter with a few extreme items named, and a silhouette plot."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_samples

NOISE_COLOUR = "#b0b0b0"


def pca_scatter(X: np.ndarray, labels: np.ndarray, names: list[str], title: str, extremes: int = 6) -> Figure:
    """Rows on their first two principal components, coloured by cluster (noise grey); the ``extremes``
    rows farthest from the centre carry their names, so the plot reads without hovering."""
    components = min(2, X.shape[1])
    pca = PCA(n_components=components).fit(X)
    points = pca.transform(X)
    if components == 1:
        points = np.column_stack([points[:, 0], np.zeros(len(points))])
    figure, axis = plt.subplots(figsize=(7, 5.5))
    palette = plt.get_cmap("tab10")
    for index, label in enumerate(sorted(set(labels.tolist()))):
        member = labels == label
        colour = NOISE_COLOUR if label == -1 else palette(index % 10)
        name = "noise" if label == -1 else f"cluster {label} ({member.sum()})"
        axis.scatter(points[member, 0], points[member, 1], s=28, color=colour, label=name, alpha=0.85)
    for row in np.argsort(-np.linalg.norm(points, axis=1))[:extremes]:
        axis.annotate(names[row][:28], points[row], fontsize=7, xytext=(4, 4), textcoords="offset points")
    explained = pca.explained_variance_ratio_
    axis.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
    axis.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)" if components == 2 else "")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def silhouette_plot(X: np.ndarray, labels: np.ndarray, title: str) -> Figure:
    """Each clustered row's silhouette, grouped by cluster and sorted; the dashed line is their mean."""
    clustered = labels >= 0
    figure, axis = plt.subplots(figsize=(7, 5))
    values = silhouette_samples(X[clustered], labels[clustered])
    kept = labels[clustered]
    palette = plt.get_cmap("tab10")
    bottom = 0
    for index, label in enumerate(sorted(set(kept.tolist()))):
        ordered = np.sort(values[kept == label])
        axis.fill_betweenx(np.arange(bottom, bottom + len(ordered)), 0, ordered, color=palette(index % 10), alpha=0.8)
        axis.text(-0.05, bottom + len(ordered) / 2, str(label), fontsize=8, ha="right", va="center")
        bottom += len(ordered) + 2
    axis.axvline(values.mean(), color="black", linestyle="--", linewidth=1)
    noise = int((~clustered).sum())
    axis.set_xlabel("silhouette" + (f" ({noise} noise rows not shown)" if noise else ""))
    axis.set_ylabel("rows, by cluster")
    axis.set_yticks([])
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
