"""Spark's metrics under the names the Dask engine uses, computed exactly.

``BinaryClassificationEvaluator`` bins the ROC curve by default (``numBins=1000``: an approximation that
differs from scikit-learn's); ``numBins=0`` computes it on every distinct score, as scikit-learn does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm


def binary_auc(predictions: Any, label: str = "label", raw: str = "rawPrediction") -> float:
    """Exact area under the ROC curve of a Spark predictions DataFrame."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    evaluator = BinaryClassificationEvaluator(
        labelCol=label, rawPredictionCol=raw, metricName="areaUnderROC", numBins=0
    )
    return float(evaluator.evaluate(predictions))


def spark_metrics(predicted: Any, task: str, n_classes: int) -> dict[str, float]:
    """``prediction_metrics``' metrics, by its definitions, computed in Spark on every row of ``predicted``
    (``label``, ``prediction`` and, classifying, ``proba``: an array of class probabilities): RMSE, MAE and R2 by
    Spark's evaluator; accuracy, balanced accuracy and F1 by scikit-learn from the (label, prediction) counts;
    ROC-AUC exact, one class against the rest, the classes' mean."""
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)

    if task == "regression":
        evaluator = RegressionEvaluator(labelCol="label", predictionCol="prediction")
        return {name: float(evaluator.setMetricName(name).evaluate(predicted)) for name in ("rmse", "mae", "r2")}
    counts = predicted.groupBy("label", "prediction").count().toPandas()
    y, p, weight = counts["label"].to_numpy(int), counts["prediction"].to_numpy(int), counts["count"].to_numpy()
    binary = n_classes == 2
    scored = predicted.select(F.col("label"), *(F.col("proba")[k].alias(f"p{k}") for k in range(n_classes)))
    aucs = []
    for k in [1] if binary else range(n_classes):
        one = scored.select((F.col("label") == k).cast("double").alias("label"), F.col(f"p{k}"))
        aucs.append(binary_auc(one, raw=f"p{k}"))
    return {
        "accuracy": float(skm.accuracy_score(y, p, sample_weight=weight)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, p, sample_weight=weight)),
        "roc_auc": float(np.mean(aucs)),
        "f1": float(skm.f1_score(y, p, average="binary" if binary else "macro", sample_weight=weight)),
    }
