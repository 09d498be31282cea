"""Clustering core: eps candidates, the degenerate filter, metrics with noise, predictors, limits, loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import DBSCAN, KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import silhouette_score

from tests.helpers import DATA
from zygarde.cluster.data import check_size, load_cluster_table
from zygarde.cluster.metrics import cluster_metrics, degenerate_reason
from zygarde.cluster.predictor import ClusterPredictor
from zygarde.cluster.spaces import eps_candidates, plan_cluster_trials
from zygarde.errors import ZygardeError


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=150, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=0.6, random_state=0)
    return X, y


def test_eps_candidates_come_from_the_k_distance_curve_and_find_the_blobs(blobs: tuple) -> None:
    X, _ = blobs
    candidates = eps_candidates(X, 5)
    distances = np.sort(np.linalg.norm(X[:, None] - X[None], axis=2), axis=1)[:, 4]  # 5th nearest, self included
    assert candidates == sorted(candidates) and len(candidates) >= 3
    assert distances.min() <= candidates[0] and candidates[-1] <= distances.max()
    recovered = []
    for eps in candidates:
        labels = DBSCAN(eps=eps, min_samples=5).fit_predict(X)
        metrics = cluster_metrics(X, labels)
        recovered.append(metrics["n_clusters"] == 3 and metrics["noise_fraction"] < 0.1)
    assert any(recovered), candidates


@pytest.mark.parametrize(
    ("metrics", "reason"),
    [
        ({"n_clusters": 1, "noise_fraction": 0.0, "min_cluster_size": 70}, "one cluster"),
        ({"n_clusters": 0, "noise_fraction": 1.0, "min_cluster_size": 0}, "all noise"),
        ({"n_clusters": 3, "noise_fraction": 0.6, "min_cluster_size": 5, "silhouette": 0.3}, "noise"),
        ({"n_clusters": 3, "noise_fraction": 0.0, "min_cluster_size": 1, "silhouette": 0.5}, "a cluster of one item"),
        ({"n_clusters": 2, "min_cluster_size": 2, "min_cluster_share": 2 / 515, "silhouette": 0.75}, "2 items (< 1%"),
        ({"n_clusters": 6, "min_cluster_size": 1, "max_cluster_share": 0.95, "silhouette": 0.7}, "holds 95%"),
        ({"n_clusters": 8, "noise_fraction": 0.0, "min_cluster_size": 1, "silhouette": 0.4}, None),
        ({"n_clusters": 2, "noise_fraction": 0.2, "min_cluster_size": 9, "silhouette": 0.4}, None),
    ],
)
def test_degenerate_results_are_named(metrics: dict, reason: str | None) -> None:
    found = degenerate_reason({k: float(v) for k, v in metrics.items()})
    assert (found is None) if reason is None else (reason in found)


def test_noise_counts_zero_in_the_selection_silhouette(blobs: tuple) -> None:
    X, y = blobs
    labels = y.copy()
    labels[:30] = -1
    metrics = cluster_metrics(X, labels)
    inner = silhouette_score(X[30:], labels[30:])
    assert metrics["silhouette_clustered"] == pytest.approx(inner)
    assert metrics["silhouette"] == pytest.approx(inner * 120 / 150)
    assert metrics["noise_fraction"] == pytest.approx(0.2) and metrics["degenerate"] == 0.0


def test_predictors_label_new_rows_by_their_stated_rule(blobs: tuple) -> None:
    X, _ = blobs
    dbscan = ClusterPredictor("dbscan", {"eps": 0.8, "min_samples": 5}).fit(X)
    core = dbscan.reference_
    assert (dbscan.predict(core) == dbscan.reference_labels_).all()
    assert dbscan.predict([[30.0, 30.0]])[0] == -1  # farther than eps from every core point: noise
    agglomerative = ClusterPredictor("agglomerative", {"n_clusters": 3, "linkage": "ward"}).fit(X)
    assert (agglomerative.predict(X) == agglomerative.labels_).all()
    centre_of_0 = X[agglomerative.labels_ == 0].mean(axis=0)
    assert agglomerative.predict([centre_of_0 + 0.1])[0] == 0
    kmeans = ClusterPredictor("kmeans", {"n_clusters": 3, "n_init": 10}, seed=1).fit(X)
    reference = KMeans(n_clusters=3, n_init=10, random_state=1).fit(X)
    assert (kmeans.predict(X[:20]) == reference.predict(X[:20])).all()


def test_pairwise_algorithms_are_refused_above_the_memory_limit() -> None:
    with pytest.raises(ZygardeError) as error:
        check_size(5000, ["kmeans", "dbscan", "agglomerative"], share=0.25, available_bytes=64 * 2**20)
    message = str(error.value)
    assert "dbscan and agglomerative" in message and "limit here is 1024 rows" in message and "kmeans" in message
    check_size(5000, ["kmeans"], share=0.25, available_bytes=64 * 2**20)  # K-means scales: no limit
    check_size(1000, ["dbscan"], share=0.25, available_bytes=64 * 2**20)


def test_burger_king_rows_drop_their_empty_columns() -> None:
    table = load_cluster_table("fastfood", DATA)
    assert len(table.frame) == 70 and table.name == "fastfood-burger-king"
    assert set(table.dropped) == {"vit_a", "vit_c", "calcium"}
    assert "item" not in table.features and "total_fat" in table.features
    assert len(load_cluster_table("fastfood", DATA, restaurant="all").frame) == 515


def _csv(tmp_path: Path, frame: pd.DataFrame) -> str:
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_bad_tables_and_parameters_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ZygardeError, match="no restaurant 'Burger Queen'; valid: Arbys, Burger King"):
        load_cluster_table("fastfood", DATA, restaurant="Burger Queen")
    with pytest.raises(ZygardeError, match="no numeric feature columns"):
        load_cluster_table(_csv(tmp_path, pd.DataFrame({"a": ["x", "y"], "b": ["u", "v"]})), DATA)
    empty = pd.DataFrame({"name": ["a", "b", "c"], "f": [np.nan] * 3, "g": [np.nan] * 3})
    with pytest.raises(ZygardeError, match="every chosen feature column is entirely empty"):
        load_cluster_table(_csv(tmp_path, empty), DATA, features=["f", "g"])
    with pytest.raises(ZygardeError, match="feature column\\(s\\) nope not found"):
        load_cluster_table("fastfood", DATA, features=["nope"])
    with pytest.raises(ZygardeError, match="item are not numeric"):
        load_cluster_table("fastfood", DATA, features=["item"])
    with pytest.raises(ZygardeError, match="Fewer rows than clusters: 5 rows"):
        plan_cluster_trials(["kmeans"], "grid", 1, 0, np.zeros((5, 2)), 8)
