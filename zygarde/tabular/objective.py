"""What a trial optimises. Tabular: the cross-validated scores of preprocessing + estimator, fitted per fold.

Every trial of a search shares the same folds and the same preprocessing, so the preprocessor is fitted once
per training fold (on that fold only: no leakage) and the transformed folds are reused by every trial that lands
on the same worker. The scores are identical to cross-validating the whole pipeline per trial
(``tests/unit/test_objectives.py`` and ``benchmarks/search_overhead.py`` check it) at a third less work.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold, ShuffleSplit, StratifiedKFold, StratifiedShuffleSplit
from sklearn.pipeline import Pipeline

from zygarde.digests import digest
from zygarde.search.checkpoints import scored_folds
from zygarde.search.objective import Objective
from zygarde.search.trials import TrialSpec
from zygarde.tabular.catalog import get_algorithm
from zygarde.tabular.columns import ColumnPlan, plan_columns
from zygarde.tabular.datasets import TaskKind
from zygarde.tabular.learners import ENSEMBLE, WeightedEnsembleClassifier, WeightedEnsembleRegressor
from zygarde.tabular.preprocess import build_preprocessor, check_round_trip

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
HOLDOUT_SHARE = 0.2  # of the training split, the validation part of a hold-out


def fold_summary(per_fold: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """(mean, std) of every metric over the folds' scores."""
    names = per_fold[0]
    return (
        {name: float(np.mean([f[name] for f in per_fold])) for name in names},
        {name: float(np.std([f[name] for f in per_fold])) for name in names},
    )


@dataclass(frozen=True)
class PreparedFold:
    """One CV fold after preprocessing: fitted on ``X_train`` only, applied to both parts."""

    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray


@dataclass
class TrialData:
    """The training split a search scores on (scattered once to every worker), with its prepared folds.

    ``prepared`` caches the preprocessed folds per fold plan on the instance a worker holds; it is
    never pickled, so each worker prepares its own once.
    """

    X: pd.DataFrame
    y: np.ndarray
    task: TaskKind = "classification"
    classes: list[str] = field(default_factory=list)
    zero_as_missing: tuple[str, ...] = ()
    target: str = ""
    columns: ColumnPlan | None = None  # the table's column roles; None: planned from ``X`` itself
    prepared: dict[tuple[Any, ...], list[PreparedFold]] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "prepared": {}}

    @cached_property
    def plan(self) -> ColumnPlan:
        """The column roles the preprocessing follows."""
        return self.columns or plan_columns(self.X, target="")

    @cached_property
    def fingerprint(self) -> str:
        """A digest of the rows and labels (computed once per copy): fold checkpoints are keyed by it, so a
        resumed run whose table changed on disk fits its folds again."""
        hashed = hashlib.sha256(pd.util.hash_pandas_object(self.X, index=True).to_numpy().tobytes())
        hashed.update(pd.util.hash_pandas_object(pd.Series(self.y), index=False).to_numpy().tobytes())
        hashed.update(",".join(map(str, self.X.columns)).encode())
        return hashed.hexdigest()[:20]


@dataclass(frozen=True)
class CrossValidationObjective(Objective):
    """Score a trial by K-fold CV of the full pipeline; preprocessing is refitted inside every fold."""

    task: TaskKind
    n_classes: int
    cv: int
    seed: int
    zero_as_missing: tuple[str, ...] = ()
    selection_metric: str = ""
    checkpoints: str = ""  # a folder where each trial's finished folds are kept (``zygarde.search.checkpoints``)
    keep_predictions: bool = False  # return each trial's out-of-fold predictions too (an ensemble's material)
    holdout: bool = False  # one seeded hold-out split (a fifth of the rows) instead of ``cv`` folds: large tables

    @property
    def n_folds(self) -> int:
        """How many times a trial fits: ``cv``, or 1 with ``holdout``."""
        return 1 if self.holdout else self.cv

    @property
    def validation(self) -> str:
        """How trials are scored, in words."""
        return "hold-out (a fifth of the training split)" if self.holdout else f"{self.cv}-fold CV"

    def with_checkpoints(self, folder: str) -> CrossValidationObjective:
        """This objective, keeping every finished fold's scores under ``folder``."""
        return replace(self, checkpoints=folder)

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

    def build_estimator(self, spec: TrialSpec) -> BaseEstimator:
        """The trial's estimator, seeded, with its parameters set (and its successive-halving budget: the trees,
        stages or rounds it reached)."""
        if spec.algorithm == ENSEMBLE:  # its members' estimators, each as its trial built it, and their weights
            members = spec.params["members"]
            cls = WeightedEnsembleRegressor if self.task == "regression" else WeightedEnsembleClassifier
            built = [self.build_estimator(TrialSpec(m["trial"], m["algorithm"], m["params"], budget=m["budget"]))
                     for m in members]  # fmt: skip
            return cls(built, [m["weight"] for m in members])
        algorithm = get_algorithm(spec.algorithm)
        return algorithm.build(self.task, self.seed).set_params(**spec.params, **algorithm.resource.params(spec.budget))

    def build_preprocessor(self, plan: ColumnPlan) -> Pipeline:
        """A column plan's preprocessing, unfitted."""
        return build_preprocessor(plan, self.zero_as_missing, task=self.task, n_classes=self.n_classes,
                                  seed=self.seed)  # fmt: skip

    def check_round_trip(self, data: TrialData) -> None:
        """The table's preprocessing, with a constant model, fitted on a sample, saved, loaded and predicting
        (``preprocess.check_round_trip``): what registration needs, tried before the search."""
        from sklearn.dummy import DummyClassifier, DummyRegressor

        constant = DummyRegressor() if self.task == "regression" else DummyClassifier()
        check_round_trip(data, lambda plan: Pipeline([("preprocess", self.build_preprocessor(plan)),
                                                      ("model", clone(constant))]))  # fmt: skip

    def build_pipeline(self, spec: TrialSpec, data: TrialData) -> Pipeline:
        """Preprocessor + estimator: what the winner is refitted and registered as."""
        return Pipeline([("preprocess", self.build_preprocessor(data.plan)), ("model", self.build_estimator(spec))])

    def folds(self) -> Any:
        """Seeded, shuffled folds (stratified for classification), or one such hold-out split."""
        if self.holdout:
            shuffled = StratifiedShuffleSplit if self.task == "classification" else ShuffleSplit
            return shuffled(n_splits=1, test_size=HOLDOUT_SHARE, random_state=self.seed)
        splitter = StratifiedKFold if self.task == "classification" else KFold
        return splitter(n_splits=self.cv, shuffle=True, random_state=self.seed)

    def prepare_folds(self, data: TrialData) -> list[PreparedFold]:
        """The folds with preprocessing fitted inside each training fold, computed once per ``data`` (the training
        part by ``fit_transform``: a target encoding cross-fitted within the fold, as the refitted pipeline does)."""
        key = (self.task, self.n_folds, self.seed, self.zero_as_missing)
        if key not in data.prepared:
            folds = []
            for train, test in self.folds().split(data.X, data.y):
                preprocessor = self.build_preprocessor(data.plan)
                X_train = preprocessor.fit_transform(data.X.iloc[train], data.y[train])
                folds.append(PreparedFold(X_train, data.y[train], preprocessor.transform(data.X.iloc[test]),
                                          data.y[test]))  # fmt: skip
            data.prepared[key] = folds
        return data.prepared[key]

    def __call__(self, spec: TrialSpec, data: TrialData) -> tuple[Any, ...]:
        """(mean, std) of every metric over the folds; with ``keep_predictions``, (mean, std, {}, out-of-fold
        predictions)."""
        estimator = self.build_estimator(spec)
        kept: dict[int, np.ndarray] = {}

        def fold(index: int) -> dict[str, float]:
            prepared = self.prepare_folds(data)[index]
            fitted = clone(estimator).fit(prepared.X_train, prepared.y_train)
            self._keep(kept, index, fitted, prepared)
            return self._score(fitted, prepared)

        return self._with_predictions(self.cross_validate(spec, data, fold), kept, data)

    def predictions_of(self, fitted: BaseEstimator, X: Any) -> np.ndarray:
        """What an ensemble averages: class probabilities (one column a class) or values, as float32."""
        output = fitted.predict(X) if self.task == "regression" else fitted.predict_proba(X)
        return np.asarray(output, dtype=np.float32)

    def _keep(self, kept: dict[int, np.ndarray], index: int, fitted: BaseEstimator, fold: PreparedFold) -> None:
        if self.keep_predictions:
            kept[index] = self.predictions_of(fitted, fold.X_test)

    def _with_predictions(
        self, summary: tuple[dict[str, float], dict[str, float]], kept: dict[int, np.ndarray], data: TrialData
    ) -> tuple[Any, ...]:
        """``summary``, and with ``keep_predictions`` the folds' predictions in row order (None where a fold was
        read from a checkpoint, not fitted: such a trial is no ensemble member)."""
        if not self.keep_predictions:
            return summary
        if len(kept) < self.n_folds:
            return (*summary, {}, None)
        first = kept[0]
        out = np.zeros((len(data.y), *first.shape[1:]), dtype=np.float32)  # a hold-out fills its part only
        for index, (_, test) in enumerate(self.folds().split(data.X, data.y)):
            out[test] = kept[index]
        return (*summary, {}, out)

    def cross_validate(
        self, spec: TrialSpec, data: TrialData, score: Callable[[int], dict[str, float]]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """(mean, std) of every metric over the folds, ``score(i)`` fitting and scoring fold i. With a checkpoint
        folder, each fold's scores are kept as it finishes, and a fold kept before is not fitted again."""
        what = [spec.algorithm, spec.params, spec.budget, self.task, self.n_classes, self.n_folds, self.seed,
                self.zero_as_missing, type(self).__name__, data.fingerprint if self.checkpoints else ""]  # fmt: skip
        return fold_summary(scored_folds(self.checkpoints, digest(what, 20), self.n_folds, score))

    def grow(self, spec: TrialSpec, data: TrialData, state: list[Any] | None) -> tuple[Any, ...]:
        """One rung of successive halving: (mean, std, state). Each fold's model is grown to ``spec.budget``
        from the one the trial's last rung left in ``state`` (more trees or stages by ``warm_start``, more
        boosting rounds from the booster); an estimator that cannot continue is refitted on ``spec.budget``
        percent of each training fold's rows (a seeded subset, nested across rungs). ``state`` None: from scratch.
        With ``keep_predictions``, the out-of-fold predictions come before the state, as in ``__call__``.
        """
        resource = get_algorithm(spec.algorithm).resource
        folds = self.prepare_folds(data)
        if resource.param is None:
            estimator = self.build_estimator(spec)
            grown = []
            for fold in folds:
                order = np.random.default_rng(self.seed).permutation(len(fold.y_train))
                rows = np.sort(order[: max(2 * self.n_classes, len(order) * int(spec.budget or 100) // 100)])
                grown.append(clone(estimator).fit(_rows(fold.X_train, rows), fold.y_train[rows]))
            state = None
        else:
            fresh = TrialSpec(spec.trial_id, spec.algorithm, spec.params)
            models = state or [self.build_estimator(fresh) for _ in folds]
            budget = int(spec.budget or 0)
            grown = [_grow(model, resource.param, budget, fold) for model, fold in zip(models, folds, strict=True)]
            state = grown
        kept: dict[int, np.ndarray] = {}
        for index, (model, fold) in enumerate(zip(grown, folds, strict=True)):
            self._keep(kept, index, model, fold)
        summary = fold_summary([self._score(model, fold) for model, fold in zip(grown, folds, strict=True)])
        return (*self._with_predictions(summary, kept, data), state)

    def _score(self, fitted: BaseEstimator, fold: PreparedFold) -> dict[str, float]:
        """Every metric of a fitted model on a fold's test part, and its predict + score time per row."""
        scorer = check_scoring(fitted, scoring={name: scorer for name, (scorer, _) in self.scorers.items()})
        started = time.perf_counter()
        scores = scorer(fitted, fold.X_test, fold.y_test)
        per_row = 1e6 * (time.perf_counter() - started) / max(1, len(fold.y_test))
        return {
            **{name: sign * scores[name] for name, (_, sign) in self.scorers.items()},
            "predict_us_per_row": per_row,
        }


def _rows(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def _grow(model: BaseEstimator, param: str, budget: int, fold: PreparedFold) -> BaseEstimator:
    """``model`` with ``param`` grown to ``budget`` on the fold (fitted from scratch if it was never fitted)."""
    if getattr(model, "fitted_", False) and hasattr(model, "booster_"):  # LightGBM, fitted: continue its booster
        more = clone(model).set_params(**{param: budget - model.booster_.current_iteration()})
        more.fit(fold.X_train, fold.y_train, init_model=model.booster_)
        return more.set_params(**{param: budget})
    booster = getattr(model, "_Booster", None)  # XGBoost, fitted: continue its booster
    if booster is not None:
        done = booster.num_boosted_rounds()
        more = clone(model).set_params(**{param: budget - done})
        more.fit(fold.X_train, fold.y_train, xgb_model=booster)
        return more.set_params(**{param: budget})
    if hasattr(model, "warm_start") and hasattr(model, "n_features_in_"):  # scikit-learn, fitted: add to it
        return model.set_params(warm_start=True, **{param: budget}).fit(fold.X_train, fold.y_train)
    return model.set_params(**{param: budget}).fit(fold.X_train, fold.y_train)
