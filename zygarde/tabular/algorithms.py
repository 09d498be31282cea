"""The algorithm registry: one entry per family, with its estimator factory and declared search spaces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import ElasticNet

from zygarde.search.spaces import SearchSpace
from zygarde.tabular.datasets import TaskKind
from zygarde.tabular.learners import ElasticNetClassifier


@dataclass(frozen=True)
class Resource:
    """What successive halving hands a trial more of: ``param`` (trees, stages, boosting rounds, iterations),
    grown in place from one rung to the next, or, with ``param`` None, the percentage of each training fold's
    rows (refitted on more rows: for an estimator that cannot continue). The first rung is a ninth of
    ``maximum`` and never under ``minimum``."""

    param: str | None
    maximum: int
    minimum: int

    def params(self, budget: int | None) -> dict[str, int]:
        """The estimator parameter a budget sets (none for rows, or without a budget)."""
        return {self.param: budget} if budget and self.param else {}


@dataclass(frozen=True)
class Algorithm:
    """One algorithm family: how to build it, which parameters to search (estimator's own names), and the
    resource successive halving grows."""

    name: str
    title: str
    build: Callable[[TaskKind, int], BaseEstimator]
    grid: SearchSpace
    distributions: SearchSpace
    resource: Resource


def _random_forest(task: TaskKind, seed: int) -> BaseEstimator:
    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    return cls(random_state=seed, n_jobs=1)


def _gradient_boosting(task: TaskKind, seed: int) -> BaseEstimator:
    cls = GradientBoostingClassifier if task == "classification" else GradientBoostingRegressor
    return cls(random_state=seed)


def _extra_trees(task: TaskKind, seed: int) -> BaseEstimator:
    cls = ExtraTreesClassifier if task == "classification" else ExtraTreesRegressor
    return cls(random_state=seed, n_jobs=1)


def _linear(task: TaskKind, seed: int) -> BaseEstimator:
    """Elastic-net linear model, solved exactly (so a trial's score does not move with a step schedule):
    logistic regression (L-BFGS or SAGA) or ElasticNet (coordinate descent), the same parameters (alpha,
    l1_ratio) for both tasks."""
    if task == "classification":
        return ElasticNetClassifier(random_state=seed)
    return ElasticNet(random_state=seed, max_iter=2000)


def _lightgbm(task: TaskKind, seed: int) -> BaseEstimator:
    from lightgbm import LGBMClassifier, LGBMRegressor  # imported when a LightGBM trial is built

    cls = LGBMClassifier if task == "classification" else LGBMRegressor
    return cls(random_state=seed, n_jobs=1, verbosity=-1, subsample_freq=1)


def _hist_gradient_boosting(task: TaskKind, seed: int) -> BaseEstimator:
    cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    return cls(random_state=seed, early_stopping=False)


def _xgboost(task: TaskKind, seed: int) -> BaseEstimator:
    from xgboost import XGBClassifier, XGBRegressor  # ~0.5 s to import: only when an XGBoost trial is built

    cls = XGBClassifier if task == "classification" else XGBRegressor
    return cls(random_state=seed, n_jobs=1, tree_method="hist", verbosity=0)


ALGORITHMS: dict[str, Algorithm] = {
    "rf": Algorithm(
        name="rf",
        title="Random Forest",
        build=_random_forest,
        grid={
            "n_estimators": [100, 200],
            "max_depth": [4, 8, None],
            "min_samples_leaf": [1, 5],
            "max_features": ["sqrt", 0.5],
        },
        distributions={
            "n_estimators": stats.randint(50, 300),
            "max_depth": [3, 4, 6, 8, 12, None],
            "min_samples_leaf": stats.randint(1, 10),
            "max_features": ["sqrt", 0.3, 0.5, 0.8],
        },
        resource=Resource("n_estimators", 300, 30),
    ),
    "gbt": Algorithm(
        name="gbt",
        title="Gradient Boosting",
        build=_gradient_boosting,
        grid={"n_estimators": [50, 100], "learning_rate": [0.05, 0.1], "max_depth": [2, 3], "subsample": [0.8, 1.0]},
        distributions={
            "n_estimators": stats.randint(50, 200),
            "learning_rate": stats.loguniform(0.01, 0.3),
            "max_depth": [2, 3, 4],
            "subsample": stats.uniform(0.6, 0.4),
        },
        resource=Resource("n_estimators", 200, 30),
    ),
    "xgboost": Algorithm(
        name="xgboost",
        title="XGBoost",
        build=_xgboost,
        grid={
            "n_estimators": [100, 200],
            "max_depth": [2, 3, 4],
            "learning_rate": [0.03, 0.1],
            "subsample": [0.8, 1.0],
        },
        distributions={
            "n_estimators": stats.randint(50, 300),
            "max_depth": stats.randint(2, 7),
            "learning_rate": stats.loguniform(0.01, 0.3),
            "subsample": stats.uniform(0.6, 0.4),
            "colsample_bytree": stats.uniform(0.5, 0.5),
            "min_child_weight": stats.randint(1, 10),
        },
        resource=Resource("n_estimators", 300, 30),
    ),
    "extratrees": Algorithm(
        name="extratrees",
        title="Extra Trees",
        build=_extra_trees,
        grid={
            "n_estimators": [100, 200],
            "max_depth": [8, None],
            "min_samples_leaf": [1, 5],
            "max_features": ["sqrt", 0.5, 1.0],
        },
        distributions={
            "n_estimators": stats.randint(50, 300),
            "max_depth": [6, 8, 12, 16, None],
            "min_samples_leaf": stats.randint(1, 10),
            "max_features": ["sqrt", 0.3, 0.5, 0.8, 1.0],
        },
        resource=Resource("n_estimators", 300, 30),
    ),
    "lightgbm": Algorithm(
        name="lightgbm",
        title="LightGBM",
        build=_lightgbm,
        grid={"n_estimators": [100, 300], "learning_rate": [0.03, 0.1], "num_leaves": [15, 63]},
        distributions={
            "n_estimators": stats.randint(50, 500),
            "learning_rate": stats.loguniform(0.01, 0.3),
            "num_leaves": stats.randint(7, 128),
            "min_child_samples": stats.randint(5, 100),
            "subsample": stats.uniform(0.5, 0.5),
            "colsample_bytree": stats.uniform(0.5, 0.5),
            "reg_lambda": stats.loguniform(1e-3, 10.0),
        },
        resource=Resource("n_estimators", 500, 50),
    ),
    "linear": Algorithm(
        name="linear",
        title="Regularised linear model (elastic net, exact solver)",
        build=_linear,
        grid={"alpha": [1e-5, 1e-4, 1e-3, 1e-2], "l1_ratio": [0.0, 0.15, 0.5, 1.0]},
        distributions={"alpha": stats.loguniform(1e-5, 1e-1), "l1_ratio": stats.uniform(0.0, 1.0)},
        resource=Resource(None, 100, 10),
    ),
    "hgb": Algorithm(
        name="hgb",
        title="Histogram gradient boosting (scikit-learn)",
        build=_hist_gradient_boosting,
        grid={"max_iter": [100, 200], "learning_rate": [0.05, 0.1], "max_leaf_nodes": [15, 31]},
        distributions={
            "max_iter": stats.randint(50, 300),
            "learning_rate": stats.loguniform(0.01, 0.3),
            "max_leaf_nodes": stats.randint(7, 63),
            "min_samples_leaf": stats.randint(5, 50),
            "l2_regularization": stats.loguniform(1e-4, 1.0),
        },
        resource=Resource("max_iter", 300, 30),
    ),
}

# ``auto``'s first trials, one an algorithm, go in this order: the fast, usually strong boosters first, exact
# gradient boosting (slowest, and rarely ahead of the histogram boosters) last
AUTO_ORDER = ["lightgbm", "xgboost", "extratrees", "rf", "linear", "hgb", "gbt"]
