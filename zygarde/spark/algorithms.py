"""Spark MLlib's ensembles with their search spaces (MLlib's own parameter names).

Estimators are built where a trial runs (a JVM is needed to construct one); the parameter names are listed
here so a user's space is checked before any service starts. MLlib's GBT classifies binary targets only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scipy import stats

from zygarde.sampler import SearchSpace


@dataclass(frozen=True)
class SparkAlgorithm:
    """One MLlib algorithm: its classes, searchable parameters and declared spaces."""

    name: str
    title: str
    classifier: str
    regressor: str
    parameters: frozenset[str]
    grid: SearchSpace
    distributions: SearchSpace
    binary_only: bool = False

    def parameter_names(self) -> set[str]:
        """Parameters a user's space may set."""
        return set(self.parameters)

    def build(self, task: str, seed: int, params: dict[str, Any]) -> Any:
        """The estimator (needs this process's Spark session), seeded, reading ``features`` and ``label``."""
        from pyspark.ml import classification, regression

        module, name = (classification, self.classifier) if task == "classification" else (regression, self.regressor)
        return getattr(module, name)(featuresCol="features", labelCol="label", seed=seed, **params)


SPARK_ALGORITHMS: dict[str, SparkAlgorithm] = {
    "rf": SparkAlgorithm(
        name="rf",
        title="Random Forest (Spark MLlib)",
        classifier="RandomForestClassifier",
        regressor="RandomForestRegressor",
        parameters=frozenset(
            {
                "numTrees",
                "maxDepth",
                "minInstancesPerNode",
                "featureSubsetStrategy",
                "subsamplingRate",
                "maxBins",
                "impurity",
            }
        ),
        grid={
            "numTrees": [50, 100],
            "maxDepth": [4, 8],
            "minInstancesPerNode": [1, 5],
            "featureSubsetStrategy": ["sqrt", "0.5"],
        },
        distributions={
            "numTrees": stats.randint(20, 150),
            "maxDepth": [3, 4, 6, 8, 10],
            "minInstancesPerNode": stats.randint(1, 10),
            "featureSubsetStrategy": ["sqrt", "0.3", "0.5", "0.8"],
        },
    ),
    "gbt": SparkAlgorithm(
        name="gbt",
        title="Gradient-boosted trees (Spark MLlib)",
        classifier="GBTClassifier",
        regressor="GBTRegressor",
        parameters=frozenset(
            {
                "maxIter",
                "stepSize",
                "maxDepth",
                "subsamplingRate",
                "minInstancesPerNode",
                "featureSubsetStrategy",
                "maxBins",
            }
        ),
        grid={"maxIter": [20, 50], "stepSize": [0.05, 0.1], "maxDepth": [2, 3], "subsamplingRate": [0.8, 1.0]},
        distributions={
            "maxIter": stats.randint(20, 100),
            "stepSize": stats.loguniform(0.01, 0.3),
            "maxDepth": [2, 3, 4],
            "subsamplingRate": stats.uniform(0.6, 0.4),
        },
        binary_only=True,
    ),
}
