"""What a trial optimises. Tabular: the cross-validated scores of preprocessing + estimator, fitted per fold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from zygarde.algorithms import get_algorithm
from zygarde.datasets import TaskKind
from zygarde.preprocess import build_preprocessor
from zygarde.trials import TrialSpec

# metric name -> (sklearn scorer, sign that turns the scorer's value into the metric)
_CLASSIFICATION_BINARY = {
    "accuracy": ("accuracy", 1),
    "balanced_accuracy": ("balanced_accuracy", 1),
    "roc_auc": ("roc_auc", 1),
    "f1": ("f1", 1),
}
_CLASSIFICATION_MULTI = {
    "accuracy": ("accuracy", 1),
    "balanced_accuracy": ("balanced_accuracy", 1),
    "roc_auc": ("roc_auc_ovr", 1),
    "f1": ("f1_macro", 1),
}
_REGRESSION = {"rmse": ("neg_root_mean_squared_error", -1), "mae": ("neg_mean_absolute_error", -1), "r2": ("r2", 1)}
LOWER_IS_BETTER = {"rmse", "mae"}


@dataclass
class TrialData:
    """The training split a search scores on (scattered once to every worker)."""

    X: pd.DataFrame
    y: np.ndarray


@dataclass(frozen=True)
class CrossValidationObjective:
    """Score a trial by K-fold CV of the full pipeline; preprocessing is refitted inside every fold."""

    task: TaskKind
    n_classes: int
    cv: int
    seed: int
    zero_as_missing: tuple[str, ...] = ()
    selection_metric: str = ""

    @property
    def scorers(self) -> dict[str, tuple[str, int]]:
        """Metrics this objective reports, by name."""
        if self.task == "regression":
            return _REGRESSION
        return _CLASSIFICATION_BINARY if self.n_classes == 2 else _CLASSIFICATION_MULTI

    @property
    def metric(self) -> str:
        """The metric that picks the winner."""
        if self.selection_metric:
            return self.selection_metric
        return "rmse" if self.task == "regression" else "roc_auc"

    @property
    def greater_is_better(self) -> bool:
        """Whether a larger value of ``metric`` is better."""
        return self.metric not in LOWER_IS_BETTER

    def build_pipeline(self, spec: TrialSpec, X: pd.DataFrame) -> Pipeline:
        """Preprocessor + estimator with the trial's parameters set on the estimator."""
        estimator = get_algorithm(spec.algorithm).build(self.task, self.seed)
        estimator.set_params(**spec.params)
        return Pipeline([("preprocess", build_preprocessor(X, self.zero_as_missing)), ("model", estimator)])

    def folds(self) -> StratifiedKFold | KFold:
        """Seeded, shuffled folds (stratified for classification)."""
        splitter = StratifiedKFold if self.task == "classification" else KFold
        return splitter(n_splits=self.cv, shuffle=True, random_state=self.seed)

    def __call__(self, spec: TrialSpec, data: TrialData) -> tuple[dict[str, float], dict[str, float]]:
        """Return (mean, std) of every metric over the folds."""
        scoring = {name: scorer for name, (scorer, _) in self.scorers.items()}
        scores = cross_validate(
            self.build_pipeline(spec, data.X),
            data.X,
            data.y,
            cv=self.folds(),
            scoring=scoring,
            n_jobs=1,
            error_score="raise",
        )
        mean, std = {}, {}
        for name, (_, sign) in self.scorers.items():
            values = sign * scores[f"test_{name}"]
            mean[name], std[name] = float(np.mean(values)), float(np.std(values))
        return mean, std
