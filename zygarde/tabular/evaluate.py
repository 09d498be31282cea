"""Refit the winner on the whole training split and measure it once on the held-out test split."""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm
from sklearn.pipeline import Pipeline


@dataclass
class HeldOut:
    """The held-out test split: the evaluation view of a tabular run (never sent to a trial)."""

    X: pd.DataFrame
    y: np.ndarray
    classes: list[str] = field(default_factory=list)


def score_model(model: Pipeline, X: pd.DataFrame, y: np.ndarray, task: str) -> dict[str, float]:
    """Metrics of ``model`` on (X, y): classification accuracy/balanced accuracy/ROC-AUC/F1; regression RMSE/MAE/R2."""
    if task == "regression":
        return prediction_metrics(y, model.predict(X), task)
    return prediction_metrics(y, model.predict_proba(X), task, model.predict(X))


def prediction_metrics(
    y: np.ndarray, output: np.ndarray, task: str, predicted: np.ndarray | None = None
) -> dict[str, float]:
    """The metrics from predictions: ``output`` is the values (regression) or the class probabilities, one
    column per class; ``predicted`` the labels (default: the most probable class)."""
    names = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    return {name: metric_of(name, y, output, predicted) for name in names}


REGRESSION_METRICS = ("rmse", "mae", "r2")
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "roc_auc", "f1")


def metric_of(name: str, y: np.ndarray, output: np.ndarray, predicted: np.ndarray | None = None) -> float:
    """One metric from predictions (``prediction_metrics``' definitions): regression values, or class
    probabilities with ``predicted`` labels (default: the most probable class)."""
    if name in REGRESSION_METRICS:
        return float({"rmse": lambda: np.sqrt(skm.mean_squared_error(y, output)),
                      "mae": lambda: skm.mean_absolute_error(y, output),
                      "r2": lambda: skm.r2_score(y, output)}[name]())  # fmt: skip
    binary = output.shape[1] == 2
    if name == "roc_auc":  # one-vs-rest, the classes' mean (scikit-learn's "ovr", macro)
        classes = [1] if binary else range(output.shape[1])
        return float(np.mean([rank_auc(y == k, output[:, k]) for k in classes]))
    predicted = output.argmax(axis=1) if predicted is None else predicted
    if name == "accuracy":
        return float(skm.accuracy_score(y, predicted))
    if name == "balanced_accuracy":
        return float(skm.balanced_accuracy_score(y, predicted))
    return float(skm.f1_score(y, predicted, average="binary" if binary else "macro"))


def rank_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC by ranks (Mann-Whitney U, ties averaged): scikit-learn's value, without its input checks (an
    ensemble's greedy selection scores thousands of blends)."""
    from scipy.stats import rankdata

    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs both classes among the rows scored")
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_figures(model: Pipeline, rows: HeldOut, metrics: dict[str, float], task: str) -> dict[str, Figure]:
    """Plots on the test split: confusion matrix + ROC (classification) or residuals (regression)."""
    output = model.predict(rows.X) if task == "regression" else model.predict_proba(rows.X)
    return prediction_figures(rows.y, output, metrics, task, rows.classes)


def prediction_figures(
    y: np.ndarray, output: np.ndarray, metrics: dict[str, float], task: str, classes: list[str]
) -> dict[str, Figure]:
    """The test plots from predictions (values, or class probabilities): any model's, however it predicts."""
    if task == "regression":
        return {"plots/residuals.png": _residual_plot(y, output)}
    predicted = output.argmax(axis=1)
    labels = classes or None
    confusion = skm.ConfusionMatrixDisplay.from_predictions(y, predicted, display_labels=labels)
    confusion.ax_.set_title("Confusion matrix (test split)")
    figures = {"plots/confusion_matrix.png": confusion.figure_}
    if output.shape[1] == 2:
        roc = skm.RocCurveDisplay.from_predictions(y, output[:, 1])
        roc.ax_.set_title(f"ROC (test split), AUC={metrics['roc_auc']:.3f}")
        figures["plots/roc_curve.png"] = roc.figure_
    return figures


def _residual_plot(y_true: np.ndarray, y_pred: np.ndarray) -> Figure:
    figure, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(y_pred, y_true - y_pred, s=10, alpha=0.6)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set(xlabel="predicted", ylabel="residual (true - predicted)", title="Residuals (test split)")
    return figure
