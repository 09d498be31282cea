"""The clustering run's parameters: the table, its rows and features, the algorithms and how to search them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from zygarde.config import RunConfig, parse_run_config

ClusterAlgorithmName = Literal["kmeans", "dbscan", "agglomerative"]


class ClusterRunConfig(RunConfig):
    """What to cluster and how to search; every field is a form field in the Prefect UI."""

    dataset: str = Field("fastfood", description="A built-in table (fastfood) or a path to a CSV/Parquet file.")
    restaurant: str = Field(
        "Burger King", description="Keep the rows of this restaurant (tables with a restaurant column); all: every row."
    )
    features: list[str] = Field(default_factory=list, description="Numeric feature columns; empty: all numeric ones.")
    algorithms: list[ClusterAlgorithmName] = Field(
        default_factory=lambda: ["kmeans", "dbscan", "agglomerative"], min_length=1, description="Families to search."
    )
    search: Literal["grid", "random"] = Field("grid", description="Whole grid, or random draws per algorithm.")
    trials: int = Field(10, ge=1, le=10_000, description="Random search: configurations drawn per algorithm.")
    max_clusters: int = Field(8, ge=2, le=100, description="Cluster counts searched: 2 .. max_clusters.")
    preset: Literal["none", "study"] = Field(
        "none", description="study: K-means k=2 on standardised total_fat, total_carb (the original study)."
    )
    seed: int = Field(42, description="Seed of K-means and of the random search.")

    def search_name(self) -> str:
        """grid or random."""
        return self.search


def parse_cluster_config(**values: Any) -> ClusterRunConfig:
    """Build a clustering config, turning pydantic's errors into one readable ``ZygardeError``."""
    return parse_run_config(ClusterRunConfig, values)
