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

from zygarde.preprocess import HoldoutSplit
from zygarde.trials import TrialResult


@dataclass
class Evaluation:
    """Test-split metrics of a fitted pipeline, with its plots (not pickled across processes)."""

    metrics: dict[str, float]
    figures: dict[str, Figure] = field(default_factory=dict)


def score_model(model: Pipeline, X: pd.DataFrame, y: np.ndarray, task: str) -> dict[str, float]:
    """Metrics of ``model`` on (X, y): classification accuracy/balanced accuracy/ROC-AUC/F1; regression RMSE/MAE/R2."""
    predicted = model.predict(X)
    if task == "regression":
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y, predicted))),
            "mae": float(skm.mean_absolute_error(y, predicted)),
            "r2": float(skm.r2_score(y, predicted)),
        }
    proba = model.predict_proba(X)
    binary = proba.shape[1] == 2
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted)),
        "roc_auc": float(
            skm.roc_auc_score(y, proba[:, 1])
            if binary
            else skm.roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(proba.shape[1]))
        ),
        "f1": float(skm.f1_score(y, predicted, average="binary" if binary else "macro")),
    }


def evaluate_model(model: Pipeline, split: HoldoutSplit, task: str) -> Evaluation:
    """Test-split metrics and plots: confusion matrix + ROC (classification) or residuals (regression)."""
    metrics = score_model(model, split.X_test, split.y_test, task)
    if task == "regression":
        return Evaluation(metrics, {"residuals.png": _residual_plot(split.y_test, model.predict(split.X_test))})
    labels = split.classes or None
    confusion = skm.ConfusionMatrixDisplay.from_estimator(model, split.X_test, split.y_test, display_labels=labels)
    confusion.ax_.set_title("Confusion matrix (test split)")
    figures = {"confusion_matrix.png": confusion.figure_}
    if len(split.classes) == 2:
        roc = skm.RocCurveDisplay.from_estimator(model, split.X_test, split.y_test)
        roc.ax_.set_title(f"ROC (test split), AUC={metrics['roc_auc']:.3f}")
        figures["roc_curve.png"] = roc.figure_
    return Evaluation(metrics, figures)


def _residual_plot(y_true: np.ndarray, y_pred: np.ndarray) -> Figure:
    figure, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(y_pred, y_true - y_pred, s=10, alpha=0.6)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set(xlabel="predicted", ylabel="residual (true - predicted)", title="Residuals (test split)")
    return figure


def leaderboard(results: list[TrialResult], metric: str, greater_is_better: bool, top: int = 10) -> pd.DataFrame:
    """Best trial per algorithm first, then the next best trials; CV scores on the training split."""
    rows = [
        {
            "trial": r.trial_id,
            "algorithm": r.algorithm,
            f"cv_{metric}": r.cv_mean[metric],
            f"cv_{metric}_std": r.cv_std.get(metric, float("nan")),
            "fit_seconds": r.fit_seconds,
            "params": ", ".join(f"{k}={v}" for k, v in sorted(r.params.items())),
        }
        for r in results
        if r.error is None and metric in r.cv_mean
    ]
    if not rows:
        return pd.DataFrame(rows)
    board = pd.DataFrame(rows).sort_values(f"cv_{metric}", ascending=not greater_is_better)
    return board.head(top).reset_index(drop=True)
