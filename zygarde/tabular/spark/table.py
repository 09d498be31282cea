"""Spark training on a Parquet table beyond the memory budget: Spark reads the table itself.

Chosen by ``tabular_family`` for ``--engine spark`` when the table would not fit in memory (the Dask engine trains
it out of core instead). Nothing of the table passes through pandas or the Dask workers' memory:

- each Dask worker's Spark session reads the Parquet files (at the same path on every host: a shared file system,
  or copies), gives every row a uniform number from a seeded hash of (file name, row number in the file), and
  caches the labelled rows memory-and-disk on the Spark cluster's executors, once per session;
- the parts are the out-of-core path's: test, validation (or K folds when ``--cv`` is given) and train, by that
  number; a trial fits its MLlib pipeline on the train part across the executors and is scored on the validation
  part, its metrics computed in Spark on every row (``spark_metrics``);
- the winner is refitted on train + validation in the refitting worker's session and measured on the test part;
  a previous champion that is not a Spark model is scored on the same rows by the executors (``mapInPandas``).

The registered model is the Spark pipeline (``mlflow.spark``; xgboost: its booster as a scikit-learn model), and
predicts on pandas rows on any host with a JVM, without the Parquet files. Why this shape, and what it costs:
docs/decisions/0009-spark-reads-its-tables.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from zygarde.errors import ZygardeError, option
from zygarde.family import Trained
from zygarde.memory import human
from zygarde.search.trials import TrialResult, TrialSpec
from zygarde.tabular.outofcore.family import HoldoutObjective, LargeTabularFamily, numeric_arrow
from zygarde.tabular.outofcore.parquet import ParquetSplit, Part
from zygarde.tabular.spark.algorithms import SPARK_ALGORITHMS
from zygarde.tabular.spark.metrics import spark_metrics
from zygarde.tabular.spark.session import spark_session
from zygarde.tabular.spark.tabular import (
    SparkTabularModel,
    build_spark_pipeline,
    fit_spark,
    local_xgboost,
    prepare_spark_workers,
    quoted,
    spark_estimator,
)

U = "__u"  # each row's uniform number: which part it is in
RESERVED = ("label", U)  # columns the cached rows add
FIGURE_ROWS = 50_000  # test rows the plots are drawn from (the metrics use every row)
_ROWS: dict[Any, Any] = {}  # per process: (split, session) -> the cached, labelled rows


@dataclass(frozen=True)
class SparkSplit(ParquetSplit):
    """A ``ParquetSplit`` whose parts Spark reads and caches: the search view and the evaluation view."""

    def rows(self) -> Any:
        """This session's labelled rows (features, ``label``, ``__u``), cached memory-and-disk on first use."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)

        session = spark_session()
        key = (self, id(session.sparkContext))
        if key not in _ROWS:
            number = F.xxhash64(F.lit(self.seed), F.col("_metadata.file_name"), F.col("_metadata.row_index"))
            u = number.bitwiseAND(F.lit(2**53 - 1)).cast("double") / float(2**53)
            target = F.col(quoted(self.target))
            label: Any = target.cast("double")
            if self.task == "classification":  # a label's index among the sorted class values is its class
                label = F.lit(None).cast("double")
                for index, value in reversed(list(enumerate(self.class_values))):
                    label = F.when(target == F.lit(value), float(index)).otherwise(label)
            read = session.read.parquet(*self.files)
            features = [F.col(quoted(c)) for c in self.features]
            frame = read.select(*features, label.alias("label"), u.alias(U)).where(F.col("label").isNotNull())
            _ROWS[key] = frame.persist(StorageLevel.MEMORY_AND_DISK)
        return _ROWS[key]

    def part(self, part: Part) -> Any:
        """The rows of ``part`` (a Spark DataFrame)."""
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)

        return self.rows().where(self._mask(part, F.col(U), F.floor))

    def columns_frame(self) -> pd.DataFrame:
        """No rows: the features as pandas types them (what ``build_spark_pipeline`` reads)."""
        return self.rows().select(*(quoted(c) for c in self.features)).limit(0).toPandas()

    def count_parts(self) -> dict[str, int]:
        """Rows of each part, counted by Spark in one pass (which also fills the cache)."""
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)

        parts = ("train", "validation", "test")
        sums = [F.sum(self._mask(p, F.col(U), F.floor).cast("long")).alias(p) for p in parts]
        counted = self.rows().agg(*sums).first()
        return {p: int(counted[p] or 0) for p in parts}

    def sample(self, part: Part, n: int) -> pd.DataFrame:
        """About ``n`` rows of ``part`` drawn evenly over the table (the digits of ``__u`` below its part's
        thresholds), features and target (its class index)."""
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)

        shares = {"test": self.test_size, "validation": self.validation_size,
                  "train": 1 - self.test_size - self.validation_size, "fit": 1 - self.test_size}  # fmt: skip
        share = min(1.0, 1.2 * n / max(1.0, self.table_rows * shares[part]))
        picked = self.part(part).where((F.col(U) * 2**20) % 1 < share).limit(n).toPandas()
        return picked.drop(columns=U).rename(columns={"label": self.target})

    def first_rows(self, part: Part, n: int) -> tuple[pd.DataFrame, np.ndarray]:
        """``n`` rows of ``part``: (features, labels)."""
        rows = self.part(part).limit(n).toPandas()
        return rows[list(self.features)], rows["label"].to_numpy(np.float32)

    def predicted(self, model: Any, part: Part) -> Any:
        """``part`` with ``model``'s predictions (``label``, ``__u``, ``prediction``, and ``proba`` classifying):
        a Spark pipeline transforms it; any other tabular model predicts on the executors, batch by batch."""
        from pyspark.ml.functions import vector_to_array

        rows = self.part(part)
        classifying = self.task == "classification"
        if isinstance(model, SparkTabularModel):
            out = model.pipeline.transform(rows)
            probability = [vector_to_array(out["probability"]).alias("proba")] if classifying else []
            return out.select("label", U, out["prediction"].cast("double").alias("prediction"), *probability)
        features = list(self.features)

        def predict(batches: Any) -> Any:
            for batch in batches:
                out = pd.DataFrame({"label": batch["label"], U: batch[U]})
                if classifying:
                    proba = np.asarray(model.predict_proba(batch[features]), dtype=float)
                    out["prediction"], out["proba"] = proba.argmax(axis=1).astype(float), list(proba)
                else:
                    out["prediction"] = np.asarray(model.predict(batch[features]), dtype=float)
                yield out

        schema = f"label double, {U} double, prediction double" + (", proba array<double>" if classifying else "")
        return rows.mapInPandas(predict, schema)

    def scored(self, model: Any, part: Part) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """``model``'s metrics on every row of ``part`` (computed in Spark), and (labels, outputs) of up to
        ``FIGURE_ROWS`` of them for the plots."""
        from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)

        predicted = self.predicted(model, part).persist()
        try:
            metrics = spark_metrics(predicted, self.task, len(self.class_values))
            share = min(1.0, FIGURE_ROWS / max(1, self.table_rows * self.test_size))
            drawn = predicted.where((F.col(U) * 2**20) % 1 < share).limit(FIGURE_ROWS).toPandas()
        finally:
            predicted.unpersist()
        y = drawn["label"].to_numpy()
        if self.task == "regression":
            return metrics, y, drawn["prediction"].to_numpy()
        return metrics, y, np.stack(drawn["proba"].to_numpy()) if len(drawn) else np.empty((0, 2))


@dataclass(frozen=True)
class SparkHoldoutObjective(HoldoutObjective):
    """An MLlib trial fitted on the train part across the Spark cluster, scored on the validation part."""

    def prepare_workers(self, client: Any) -> None:
        """Every worker on this host's Spark master (``prepare_spark_workers``)."""
        prepare_spark_workers(client)

    def pipeline(self, spec: TrialSpec, data: SparkSplit) -> Any:
        """The trial's preprocessing and estimator, unfitted (``build_spark_pipeline``)."""
        estimator = spark_estimator(spec, self.task, self.n_classes, self.seed)
        native = SPARK_ALGORITHMS[spec.algorithm].exclusive
        return build_spark_pipeline(data.columns_frame(), (), estimator, native_missing=native)

    def fit_score(self, spec: TrialSpec, data: ParquetSplit, train: str, validation: str) -> dict[str, float]:
        """The pipeline fitted on the ``train`` part, its metrics on every row of the ``validation`` part."""
        assert isinstance(data, SparkSplit)
        fitted = fit_spark(spec, self.pipeline(spec, data), data.part(train))
        return spark_metrics(data.predicted(SparkTabularModel(fitted), validation), self.task, self.n_classes)


class SparkTableFamily(LargeTabularFamily):
    """MLlib (and xgboost.spark) on a Parquet table beyond the memory budget, read by Spark itself."""

    warm_modules: ClassVar[tuple[str, ...]] = ("pyspark", "pyarrow.parquet")
    objective_type: ClassVar[type[HoldoutObjective]] = SparkHoldoutObjective
    split_type: ClassVar[type[ParquetSplit]] = SparkSplit
    numeric_only: ClassVar[bool] = False  # Spark's pipeline encodes categories and dates

    def describe(self) -> str:
        """One line for the terminal: why this path, and what it does."""
        from zygarde.settings import get_settings

        master = get_settings().spark_master or "local[N] in each Dask worker"
        return (
            f"{self.table.source}: {self.table.rows:,} rows, about {human(self.table.in_memory_bytes())} in pandas, "
            f"too much to train in memory within the memory budget ({human(self.budget.total)}): Spark reads the "
            f"table itself on {master} and caches it memory-and-disk; {', '.join(self._algorithms())} trials fit "
            "across its executors, "
            + (f"scored by {self.folds}-fold CV." if self.folds else "scored on a hold-out validation part.")
        )

    def _algorithms(self) -> list[str]:
        config, table = self.config, self.table
        clash = [c for c in table.columns if c in RESERVED and c != config.target]
        if clash:
            raise ZygardeError(
                f"{table.source}: column {clash[0]!r} has a name Spark's training uses; rename it in the table."
            )
        text = [c for c, kind in table.columns.items() if c != config.target and not numeric_arrow(kind)]
        if "xgboost" in config.algorithms and text:
            raise ZygardeError(
                f"{option('algorithms')}: xgboost on Spark takes numeric columns; "
                f"{', '.join(map(repr, text[:5]))} {'is' if len(text) == 1 else 'are'} not. Encode them as numbers, "
                "or search rf and gbt."
            )
        return list(config.algorithms)

    def finalize(self, prepared: Any, best: TrialResult, client: Any) -> Trained:
        """The winner refitted on train + validation in this process's Spark session."""
        split = prepared.search
        objective = SparkHoldoutObjective(split.task, len(split.class_values), self.config.seed)
        fitted = fit_spark(best.spec, objective.pipeline(best.spec, split), split.part("fit"))
        if best.algorithm == "xgboost":  # served as scikit-learn + booster: no JVM
            return Trained(local_xgboost(fitted, split.columns_frame(), (), split.task))
        return Trained(SparkTabularModel(fitted))

    def log_model(self, model: Any, prepared: Any, tracking_uri: str, run_id: str) -> str:
        """A Spark pipeline by ``mlflow.spark``; an xgboost winner as scikit-learn."""
        from zygarde.tabular.spark.model import log_spark

        if not isinstance(model, SparkTabularModel):
            return super().log_model(model, prepared, tracking_uri, run_id)
        example = prepared.search.sample("train", 100).drop(columns=prepared.search.target)
        return log_spark(tracking_uri, run_id, model, example)
