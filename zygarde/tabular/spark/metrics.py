"""Spark's metrics under the names the Dask engine uses, computed exactly.

``BinaryClassificationEvaluator`` bins the ROC curve by default (``numBins=1000``: an approximation that
differs from scikit-learn's); ``numBins=0`` computes it on every distinct score, as scikit-learn does.
"""

from __future__ import annotations

from typing import Any


def binary_auc(predictions: Any, label: str = "label", raw: str = "rawPrediction") -> float:
    """Exact area under the ROC curve of a Spark predictions DataFrame."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    evaluator = BinaryClassificationEvaluator(
        labelCol=label, rawPredictionCol=raw, metricName="areaUnderROC", numBins=0
    )
    return float(evaluator.evaluate(predictions))
