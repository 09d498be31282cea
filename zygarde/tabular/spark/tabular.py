"""Tabular trials on Spark MLlib: the same folds, metric names and definitions as the Dask engine's, with
preprocessing as a Spark ML ``Pipeline`` fitted inside each training fold.

The pipeline starts from the user's own columns (a ``SQLTransformer`` turns "0 means not measured" into nulls
and gives every column a safe name), so the registered Spark model takes the same rows as a scikit-learn one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from sklearn import metrics as skm

from zygarde.errors import ZygardeError
from zygarde.search.trials import TrialSpec
from zygarde.tabular.objective import CrossValidationObjective, TrialData
from zygarde.tabular.spark.algorithms import SPARK_ALGORITHMS
from zygarde.tabular.spark.metrics import binary_auc
from zygarde.tabular.spark.session import spark_session

ROW = "__row"  # keeps the rows' order through Spark


def spark_frame(X: pd.DataFrame, y: np.ndarray | None = None, session: Any = None) -> Any:
    """Rows (and labels) as a Spark DataFrame of ``session`` (default: this process's), numbered to keep their
    order."""
    frame = X.reset_index(drop=True).copy()
    frame[ROW] = np.arange(len(frame))
    if y is not None:
        frame["label"] = np.asarray(y, dtype=float)
    return (session or spark_session()).createDataFrame(frame)


def quoted(column: str) -> str:
    """``column`` as a Spark SQL identifier (backticks, doubled inside)."""
    return "`" + column.replace("`", "``") + "`"


def build_spark_pipeline(
    X: pd.DataFrame, zero_as_missing: tuple[str, ...], estimator: Any, *, native_missing: bool = False
) -> Any:
    """SQL cleaning -> median Imputer -> StringIndexer/OneHotEncoder -> VectorAssembler -> StandardScaler -> model.

    ``native_missing`` (XGBoost): SQL cleaning -> VectorAssembler -> model. XGBoost's trees route missing values
    themselves and need no scaling, so its booster predicts on the cleaned columns alone (``local_xgboost``).
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import (
        Imputer,
        OneHotEncoder,
        SQLTransformer,
        StandardScaler,
        StringIndexer,
        VectorAssembler,
    )

    numeric = [c for c in X.columns if ptypes.is_numeric_dtype(X[c]) and not ptypes.is_bool_dtype(X[c])]
    dates = [c for c in X.columns if ptypes.is_datetime64_any_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric and c not in dates]
    if native_missing and (categorical or dates):
        raise ZygardeError(
            f"xgboost on Spark takes numeric columns; {', '.join(map(repr, categorical + dates))} are not numeric. "
            "Encode them as numbers, or search rf and gbt."
        )
    safe = {c: f"f{i}" for i, c in enumerate(X.columns)}
    selects = []
    for column in numeric:
        value = f"CAST({quoted(column)} AS DOUBLE)"
        if column in zero_as_missing:
            value = f"CASE WHEN {quoted(column)} = 0 THEN NULL ELSE {value} END"
        selects.append(f"{value} AS {safe[column]}")
    numbers = [safe[c] for c in numeric]
    for column in dates:  # calendar features, as the scikit-learn pipeline's DateFeatures
        for part in ("year", "month", "dayofmonth", "dayofweek", "dayofyear"):
            selects.append(f"CAST({part}({quoted(column)}) AS DOUBLE) AS {safe[column]}_{part}")
            numbers.append(f"{safe[column]}_{part}")
        selects.append(f"CAST(unix_timestamp({quoted(column)}) AS DOUBLE) / 86400 AS {safe[column]}_days")
        numbers.append(f"{safe[column]}_days")
    selects += [f"CAST({quoted(c)} AS STRING) AS {safe[c]}" for c in categorical]
    stages: list[Any] = [SQLTransformer(statement=f"SELECT *, {', '.join(selects)} FROM __THIS__")]
    assembled = []
    if native_missing:
        assembler = VectorAssembler(inputCols=numbers, outputCol="features", handleInvalid="keep")
        return Pipeline(stages=[*stages, assembler, estimator])
    if numbers:
        stages.append(Imputer(inputCols=numbers, outputCols=[f"{n}_m" for n in numbers], strategy="median"))
        assembled += [f"{n}_m" for n in numbers]
    if categorical:
        names = [safe[c] for c in categorical]
        indexed, encoded = [f"{n}_i" for n in names], [f"{n}_o" for n in names]
        stages.append(StringIndexer(inputCols=names, outputCols=indexed, handleInvalid="keep"))
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"))
        assembled += encoded
    stages.append(VectorAssembler(inputCols=assembled, outputCol="raw_features", handleInvalid="keep"))
    stages.append(StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True))
    return Pipeline(stages=[*stages, estimator])


def local_xgboost(fitted: Any, X: pd.DataFrame, zero_as_missing: tuple[str, ...], task: str) -> Any:
    """The booster of a fitted ``native_missing`` pipeline as a scikit-learn pipeline: the same cleaning, the same
    trees, predictions without a JVM."""
    from sklearn.pipeline import Pipeline
    from xgboost import XGBClassifier, XGBRegressor

    from zygarde.tabular.preprocess import ZeroAsMissing

    booster = fitted.stages[-1].get_booster()
    booster.feature_names = None  # Spark's vector has none; the pipeline's columns are X's, in order
    model = XGBClassifier() if task == "classification" else XGBRegressor()
    model.load_model(bytearray(booster.save_raw("json")))
    return Pipeline([("zeros", ZeroAsMissing(tuple(zero_as_missing)).fit(X)), ("model", model)])


class SparkTabularModel:
    """A fitted Spark ``PipelineModel`` behind scikit-learn's ``predict`` / ``predict_proba`` on pandas rows (in
    ``session``: the one that loaded it; default: this process's)."""

    def __init__(self, pipeline: Any, session: Any = None) -> None:
        self.pipeline = pipeline
        self.session = session

    def _predicted(self, X: pd.DataFrame) -> pd.DataFrame:
        out = self.pipeline.transform(spark_frame(X, session=self.session))
        columns = [ROW, "prediction", *(["probability"] if "probability" in out.columns else [])]
        return out.select(*columns).toPandas().sort_values(ROW)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class indices (classification) or values (regression)."""
        rows = self._predicted(X)
        values = rows["prediction"].to_numpy()
        return values.astype(int) if "probability" in rows else values

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, one column per class index."""
        rows = self._predicted(X)
        if "probability" not in rows:
            raise ZygardeError("a regression model has no class probabilities")
        return np.stack([v.toArray() for v in rows["probability"]])


_TURNS = threading.Lock()


@contextmanager
def taking_turns(exclusive: bool) -> Iterator[None]:
    """Hold the cluster-wide turn for a barrier job (a Dask lock on a worker; a process lock elsewhere)."""
    if not exclusive:
        yield
        return
    try:
        from distributed import Lock, get_worker

        get_worker()
        turn: Any = Lock("zygarde-xgboost-spark")
    except ValueError:  # not on a Dask worker
        turn = _TURNS
    with turn:
        yield


def _spark_master() -> str | None:
    from zygarde.settings import get_settings

    return get_settings().spark_master


def prepare_spark_workers(client: Any) -> None:
    """Every worker uses this host's Spark master (each reads its own ``ZYGARDE_SPARK_MASTER``: a worker without it
    would train on ``local[N]`` unseen); each worker's session (created by its first trial) stops with it."""
    from zygarde.settings import get_settings
    from zygarde.tabular.spark.session import stop_sessions_with_workers

    here = get_settings().spark_master
    for worker, theirs in sorted(client.run(_spark_master).items()):
        if theirs != here:
            raise ZygardeError(
                f"Dask worker {worker} would run Spark on {theirs or 'local[N]'} (its ZYGARDE_SPARK_MASTER), this "
                f"host on {here or 'local[N]'}: set the same ZYGARDE_SPARK_MASTER on every host."
            )
    stop_sessions_with_workers(client)


def spark_estimator(spec: TrialSpec, task: str, n_classes: int, seed: int) -> Any:
    """The trial's MLlib estimator (built where the trial runs: it needs the process's JVM)."""
    algorithm = SPARK_ALGORITHMS[spec.algorithm]
    if algorithm.binary_only and task == "classification" and n_classes > 2:
        raise ZygardeError(f"{algorithm.title} classifies two classes only; this target has {n_classes}.")
    spark_session()
    return algorithm.build(task, seed, spec.params)


def fit_spark(spec: TrialSpec, pipeline: Any, frame: Any) -> Any:
    """Fit ``pipeline`` on a Spark DataFrame; barrier jobs (xgboost.spark) one at a time on the cluster."""
    with taking_turns(SPARK_ALGORITHMS[spec.algorithm].exclusive):
        return pipeline.fit(frame)


@dataclass(frozen=True)
class SparkCrossValidationObjective(CrossValidationObjective):
    """K-fold CV of an MLlib pipeline in the worker's own Spark session; same folds and metrics as on Dask."""

    def prepare_workers(self, client: Any) -> None:
        """Every worker on this host's Spark master (``prepare_spark_workers``)."""
        prepare_spark_workers(client)

    def build_estimator(self, spec: TrialSpec) -> Any:
        """The trial's MLlib estimator (``spark_estimator``)."""
        return spark_estimator(spec, self.task, self.n_classes, self.seed)

    def spark_pipeline(self, spec: TrialSpec, X: pd.DataFrame) -> Any:
        """Preprocessing + estimator, unfitted (a Spark ML ``Pipeline``)."""
        native = SPARK_ALGORITHMS[spec.algorithm].exclusive
        return build_spark_pipeline(X, self.zero_as_missing, self.build_estimator(spec), native_missing=native)

    def fit(self, spec: TrialSpec, X: pd.DataFrame, y: np.ndarray) -> Any:
        """Fit the trial's pipeline on these rows."""
        return fit_spark(spec, self.spark_pipeline(spec, X), spark_frame(X, y))

    def __call__(self, spec: TrialSpec, data: TrialData) -> tuple[dict[str, float], dict[str, float]]:
        """Return (mean, std) of every metric over the folds."""
        splits = list(self.folds().split(data.X, data.y))

        def fold(index: int) -> dict[str, float]:
            train, test = splits[index]
            pipeline = self.fit(spec, data.X.iloc[train], data.y[train])
            return self.scores(pipeline, data.X.iloc[test], data.y[test])

        return self.cross_validate(spec, data, fold)

    def scores(self, pipeline: Any, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
        """The Dask engine's metrics, by the same definitions; binary ROC-AUC by Spark's exact evaluator."""
        predicted = pipeline.transform(spark_frame(X, y))
        if self.task == "regression":
            values = predicted.select(ROW, "prediction").toPandas().sort_values(ROW)["prediction"].to_numpy()
            return {"rmse": float(np.sqrt(skm.mean_squared_error(y, values))),
                    "mae": float(skm.mean_absolute_error(y, values)), "r2": float(skm.r2_score(y, values))}  # fmt: skip
        rows = predicted.select(ROW, "prediction", "probability").toPandas().sort_values(ROW)
        labels = rows["prediction"].to_numpy().astype(int)
        binary = self.n_classes == 2
        if binary:
            auc = binary_auc(predicted)
        else:
            proba = np.stack([v.toArray() for v in rows["probability"]])
            auc = float(skm.roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(self.n_classes)))
        return {
            "accuracy": float(skm.accuracy_score(y, labels)),
            "balanced_accuracy": float(skm.balanced_accuracy_score(y, labels)),
            "roc_auc": auc,
            "f1": float(skm.f1_score(y, labels, average="binary" if binary else "macro")),
        }
