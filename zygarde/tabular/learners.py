"""Estimators of zygarde's own, registered inside its pipelines (so importable from the package, and
skops-safe: plain attributes and scikit-learn parts)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

ENSEMBLE = "ensemble"  # the algorithm name of a greedy ensemble's trial result (``zygarde.tabular.ensemble``)


class ElasticNetClassifier(ClassifierMixin, BaseEstimator):
    """Elastic-net logistic regression with ElasticNet's parameters, so one space serves both tasks: ``alpha``
    (the penalty per row; ``C = 1 / (alpha * rows)``) and ``l1_ratio``. Solved exactly, deterministically:
    L-BFGS for a pure L2 penalty, SAGA otherwise (on standardised inputs, which zygarde's pipeline gives)."""

    def __init__(self, alpha: float = 1e-4, l1_ratio: float = 0.0, max_iter: int = 300, tol: float = 1e-4,
                 random_state: int | None = None) -> None:  # fmt: skip
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> ElasticNetClassifier:
        solver = "lbfgs" if self.l1_ratio == 0 else "saga"
        model = LogisticRegression(C=1.0 / (self.alpha * len(y)), l1_ratio=self.l1_ratio, solver=solver,
                                   max_iter=self.max_iter, tol=self.tol, random_state=self.random_state)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter bounds the work; the CV score judges it
            self.model_ = model.fit(X, y)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = self.model_.n_features_in_
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.model_.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.model_.predict_proba(X)

    def decision_function(self, X: Any) -> np.ndarray:
        return self.model_.decision_function(X)


class _WeightedEnsemble(BaseEstimator):
    """Members fitted on the same (preprocessed) rows; their predictions averaged with ``weights``."""

    def __init__(self, estimators: list[Any] | None = None, weights: list[float] | None = None) -> None:
        self.estimators = estimators
        self.weights = weights

    def fit(self, X: Any, y: Any) -> _WeightedEnsemble:
        self.estimators_ = [clone(estimator).fit(X, y) for estimator in self.estimators or []]
        if not self.estimators_ or len(self.estimators_) != len(self.weights or []):
            raise ValueError("a weighted ensemble needs one weight per member, and at least one member")
        self.n_features_in_ = self.estimators_[0].n_features_in_
        return self

    def _average(self, outputs: list[np.ndarray]) -> np.ndarray:
        weights = np.asarray(self.weights, dtype=float)
        return np.tensordot(weights / weights.sum(), np.stack(outputs), axes=1)


class WeightedEnsembleClassifier(ClassifierMixin, _WeightedEnsemble):
    """Greedy ensemble selection's model for classification: the weighted mean of the members' probabilities."""

    def fit(self, X: Any, y: Any) -> WeightedEnsembleClassifier:
        super().fit(X, y)
        self.classes_ = self.estimators_[0].classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._average([member.predict_proba(X) for member in self.estimators_])

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class WeightedEnsembleRegressor(RegressorMixin, _WeightedEnsemble):
    """Greedy ensemble selection's model for regression: the weighted mean of the members' predictions."""

    def predict(self, X: Any) -> np.ndarray:
        return self._average([member.predict(X) for member in self.estimators_])
