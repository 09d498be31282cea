"""The clustering flow."""

from __future__ import annotations

from prefect import flow

from zygarde.cluster.config import ClusterRunConfig
from zygarde.cluster.family import ClusterFamily, ClusterSummary

from .hooks import TRAINING_HOOKS
from .pipeline import dask_task_runner, train


@flow(name="cluster", task_runner=dask_task_runner(), log_prints=True, **TRAINING_HOOKS)
def cluster(config: ClusterRunConfig = ClusterRunConfig()) -> ClusterSummary:  # noqa: B008 (form default)
    """Find the best clustering of a table (default: the Burger King menu's nutrition).

    Steps: load and filter -> validate (great-expectations) -> impute and standardise -> search K-means,
    DBSCAN and Agglomerative configurations in parallel (one task; trials are Dask futures), each scored by
    silhouette of the predictor that would be registered, degenerate results logged but never selected ->
    PCA scatter, silhouette plot and cluster profiles of the best per algorithm and overall -> register the
    predictor, moving `champion` only if it is better on these rows.
    """
    return train(ClusterFamily(config))
