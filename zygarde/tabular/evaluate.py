"""Refit the winner on the whole training split and measure it once on the held-out test split."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

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


def test_output(model: Any, rows: HeldOut, task: str) -> np.ndarray:
    """The model's values (regression) or class probabilities on the test split."""
    return np.asarray(model.predict(rows.X) if task == "regression" else model.predict_proba(rows.X))


def prediction_figures(
    y: np.ndarray, output: np.ndarray, metrics: dict[str, float], task: str, classes: list[str]
) -> dict[str, Figure]:
    """How the model errs on the test split, from predictions (values, or class probabilities): residuals
    (regression); the confusion matrix at the most probable class, and for two classes the ROC and
    precision-recall curves and the calibration curve."""
    if task == "regression":
        return {"plots/residuals.png": _residual_plot(y, output)}
    predicted = output.argmax(axis=1)
    labels = classes or None
    confusion = skm.ConfusionMatrixDisplay.from_predictions(y, predicted, display_labels=labels)
    threshold = " at probability 0.5" if output.shape[1] == 2 else ", the most probable class"
    confusion.ax_.set_title(f"Confusion matrix (test split){threshold}", fontsize=9)
    figures = {"plots/confusion_matrix.png": confusion.figure_}
    if output.shape[1] == 2:
        positive = classes[1] if classes else "1"
        roc = skm.RocCurveDisplay.from_predictions(y, output[:, 1])
        roc.ax_.set_title(f"ROC (test split), AUC={metrics['roc_auc']:.3f}")
        figures["plots/roc_curve.png"] = roc.figure_
        pr = skm.PrecisionRecallDisplay.from_predictions(y, output[:, 1], plot_chance_level=True)
        pr.ax_.set_title(f"Precision-recall of {positive} (test split)")
        figures["plots/precision_recall.png"] = pr.figure_
        from sklearn.calibration import CalibrationDisplay

        bins = int(np.clip(len(y) // 40, 3, 10))
        calibration = CalibrationDisplay.from_predictions(y, output[:, 1], n_bins=bins, strategy="quantile")
        calibration.ax_.set_title(f"Calibration of P({positive}) (test split, {bins} bins of equal size)")
        figures["plots/calibration.png"] = calibration.figure_
    else:  # several classes: each one against the rest
        names = classes or [str(k) for k in range(output.shape[1])]
        for kind, display, path in (
            ("ROC", skm.RocCurveDisplay, "plots/roc_curve.png"),
            ("Precision-recall", skm.PrecisionRecallDisplay, "plots/precision_recall.png"),
        ):
            figure, ax = plt.subplots(figsize=(5.5, 4.5))
            for k, name in enumerate(names):
                if 0 < np.sum(y == k) < len(y):  # a class the test split lacks has no curve
                    display.from_predictions(y == k, output[:, k], name=name, ax=ax)
            ax.set_title(f"{kind}, each class against the rest (test split)", fontsize=9)
            figures[path] = figure  # fmt: skip
    return figures


def error_tables(y: np.ndarray, output: np.ndarray, task: str, classes: list[str], X: pd.DataFrame | None = None,
                 largest: int = 20) -> dict[str, Any]:  # fmt: skip
    """JSON artifacts on the test split: per-class precision, recall, F1 and support (classification), or the
    ``largest`` errors with their rows (regression)."""
    if task == "regression":
        error = np.asarray(y, dtype=float) - np.asarray(output, dtype=float)
        order = np.argsort(-np.abs(error))[:largest]
        rows = X.iloc[order].reset_index(drop=True) if X is not None else pd.DataFrame(index=range(len(order)))
        table = rows.assign(true=np.asarray(y)[order], predicted=np.asarray(output)[order], error=error[order])
        return {"errors/largest.json": json.loads(table.to_json(orient="records", date_format="iso"))}
    names = classes or [str(k) for k in range(output.shape[1])]
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, output.argmax(axis=1), labels=range(len(names)), zero_division=0
    )
    per_class = [{"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
                 for name, p, r, f, n in zip(names, precision, recall, f1, support, strict=True)]  # fmt: skip
    return {"errors/per_class.json": per_class}


def _residual_plot(y_true: np.ndarray, y_pred: np.ndarray) -> Figure:
    figure, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(y_pred, y_true - y_pred, s=10, alpha=0.6)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set(xlabel="predicted", ylabel="residual (true - predicted)", title="Residuals (test split)")
    return figure
