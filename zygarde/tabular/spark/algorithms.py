"""Spark's ensembles with their search spaces (each estimator's own parameter names): MLlib's Random Forest
and GBT, and ``xgboost.spark``.

Estimators are built where a trial runs (a JVM is needed to construct one); the parameter names are listed
here so a user's space is checked before any service starts. MLlib's GBT classifies binary targets only.
``xgboost.spark`` trains as one barrier job of ``num_workers`` tasks, so it needs that many free task slots at
once (``check_slots``) and its trials take turns (``SparkAlgorithm.exclusive``).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

from scipy import stats

from zygarde.errors import ZygardeError
from zygarde.search.spaces import SearchSpace
from zygarde.tabular.algorithms import ALGORITHMS


@dataclass(frozen=True)
class SparkAlgorithm:
    """One MLlib algorithm: its classes, searchable parameters and declared spaces."""

    name: str
    title: str
    classifier: str  # "module:Class"
    regressor: str
    parameters: frozenset[str]
    grid: SearchSpace
    distributions: SearchSpace
    binary_only: bool = False
    exclusive: bool = False  # a barrier job: one trial at a time, all its workers' slots free before it starts

    def parameter_names(self) -> set[str]:
        """Parameters a user's space may set."""
        return set(self.parameters)

    def build(self, task: str, seed: int, params: dict[str, Any]) -> Any:
        """The estimator (needs this process's Spark session), seeded, reading ``features`` and ``label``."""
        module, name = (self.classifier if task == "classification" else self.regressor).split(":")
        cls = getattr(importlib.import_module(module), name)
        if self.exclusive:
            from zygarde.settings import get_settings

            workers = get_settings().spark_xgboost_workers
            check_slots(workers)
            logging.getLogger("XGBoost-PySpark").setLevel(logging.WARNING)  # its INFO goes to the console
            return cls(features_col="features", label_col="label", random_state=seed, num_workers=workers,
                       missing=float("nan"), verbosity=0, verbose=False, **params)  # fmt: skip
        return cls(featuresCol="features", labelCol="label", seed=seed, **params)


def check_slots(workers: int) -> None:
    """Refuse an xgboost.spark fit the session cannot run at once (Spark would retry it for about ten minutes)."""
    from xgboost.spark.utils import _get_max_num_concurrent_tasks

    from zygarde.tabular.spark.session import spark_session

    context = spark_session().sparkContext
    slots = _get_max_num_concurrent_tasks(context)
    if workers > slots:
        raise ZygardeError(
            f"xgboost on Spark trains as one barrier job of {workers} tasks (ZYGARDE_SPARK_XGBOOST_WORKERS), and "
            f"the session on {context.master} has {slots} task slots: lower ZYGARDE_SPARK_XGBOOST_WORKERS to at "
            f"most {slots}, or give the Spark cluster more cores."
        )


SPARK_ALGORITHMS: dict[str, SparkAlgorithm] = {
    "rf": SparkAlgorithm(
        name="rf",
        title="Random Forest (Spark MLlib)",
        classifier="pyspark.ml.classification:RandomForestClassifier",
        regressor="pyspark.ml.regression:RandomForestRegressor",
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
        classifier="pyspark.ml.classification:GBTClassifier",
        regressor="pyspark.ml.regression:GBTRegressor",
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
    "xgboost": SparkAlgorithm(
        name="xgboost",
        title="XGBoost (xgboost.spark)",
        classifier="xgboost.spark:SparkXGBClassifier",
        regressor="xgboost.spark:SparkXGBRegressor",
        parameters=frozenset(ALGORITHMS["xgboost"].distributions),
        grid={"n_estimators": [100, 200], "max_depth": [2, 3, 4], "learning_rate": [0.03, 0.1]},
        distributions=ALGORITHMS["xgboost"].distributions,  # the Dask engine's: same names, same space
        exclusive=True,
    ),
}
