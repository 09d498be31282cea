"""Tabular training on a table beyond the memory budget: XGBoost out of core, scored on hold-out parts.

Chosen by ``tabular_family`` when training a Parquet table in memory would not fit what the budget leaves for
data (``IN_MEMORY_SHARE`` times its pandas size: the in-memory path holds the table, its split, the prepared
folds and a copy per worker). The stages are the
tabular family's, on a ``ParquetSplit`` instead of a frame:

- validate: the suite runs on a seeded sample of rows (its size is in the report), the labels on every row;
- search: XGBoost trials on the train part, each scored once on the validation part (no K folds: each fold
  would re-read and re-train the whole table); trials are Dask futures as usual, and each worker builds its
  external-memory matrix once;
- the winner is refitted on train + validation with every core of the cluster, scored on the test part.

The registered model is XGBoost's scikit-learn classifier (or regressor) around the booster: it predicts on
pandas rows like any tabular model, and needs neither Spark nor the Parquet files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from zygarde.digests import digest
from zygarde.errors import ZygardeError, option
from zygarde.explain import Explanation
from zygarde.explain.tabular import ROWS, Rows, explain_tabular
from zygarde.family import Evaluation, Plan, Prepared, Reference, Trained
from zygarde.memory import MemoryBudget, human
from zygarde.orchestration import worker_threads
from zygarde.search.checkpoints import scored_folds
from zygarde.search.objective import Objective
from zygarde.search.trials import TrialResult, TrialSpec, leaderboard
from zygarde.settings import get_settings
from zygarde.tabular.catalog import tabular_sampler
from zygarde.tabular.config import TabularRunConfig
from zygarde.tabular.datasets import TabularDataset, TaskKind
from zygarde.tabular.evaluate import error_tables, prediction_figures, prediction_metrics
from zygarde.tabular.family import TabularFamily, TabularSummary
from zygarde.tabular.objective import LOWER_IS_BETTER, fold_summary
from zygarde.tabular.outofcore.boosting import train_booster, wrap_booster
from zygarde.tabular.outofcore.parquet import MAX_CLASSES, ParquetSplit, ParquetTable, class_values
from zygarde.validation import ValidationReport

VALIDATION_SHARE = 0.1  # of all rows: what the search scores on


SAMPLE_ROWS = 50_000  # rows the expectation suite and the drift reference are computed on


@dataclass
class LargeTable(TabularDataset):
    """A Parquet table known by its metadata; ``frame`` is a sample of its rows (for the suite)."""

    table: ParquetTable | None = None
    class_values: tuple[Any, ...] = ()


class LargeTabularSummary(TabularSummary):
    """``validation_metrics``: the winner on the validation part (the search's hold-out; ``cv_metrics`` is then
    empty), or empty when K-fold CV was asked for (``cv_metrics``)."""

    validation_metrics: dict[str, float] = Field(default_factory=dict)
    out_of_core: str


@dataclass(frozen=True)
class HoldoutObjective(Objective):
    """An XGBoost trial trained out of core on the train part and scored on the validation part."""

    task: TaskKind
    n_classes: int
    seed: int
    checkpoints: str = (
        ""  # K-fold: a folder where each trial's finished folds are kept (``zygarde.search.checkpoints``)
    )

    def with_checkpoints(self, folder: str) -> HoldoutObjective:
        """This objective, keeping every finished fold's scores under ``folder`` (K-fold only: a hold-out trial
        is one fit)."""
        return replace(self, checkpoints=folder)

    @property
    def metric(self) -> str:
        """ROC-AUC, or RMSE for regression (the in-memory path's selection metric)."""
        return "rmse" if self.task == "regression" else "roc_auc"

    @property
    def greater_is_better(self) -> bool:
        """Whether a larger value of ``metric`` is better."""
        return self.metric not in LOWER_IS_BETTER

    def __call__(self, spec: TrialSpec, data: ParquetSplit) -> tuple[dict[str, float], dict[str, float]]:
        """(metrics on the validation part, {}: one hold-out has no spread), or K-fold (mean, std) when asked."""
        if not data.folds:
            return self.fit_score(spec, data, "train", "validation"), {}

        def fold(k: int) -> dict[str, float]:
            return self.fit_score(spec, data, f"train:{k}", f"validation:{k}")

        key = ""
        if self.checkpoints:  # what the folds' scores depend on, the files as they are on disk included
            tables = [(path, os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in data.files]
            key = digest([spec.algorithm, spec.params, self.task, self.seed, data.folds, data.test_size,
                          data.features, data.target, tables], 20)  # fmt: skip
        return fold_summary(scored_folds(self.checkpoints, key, data.folds, fold))

    def fit_score(self, spec: TrialSpec, data: ParquetSplit, train: str, validation: str) -> dict[str, float]:
        """The trial's model trained out of core on the ``train`` part, its metrics on the ``validation`` part."""
        booster = train_booster(data, train, spec.params, worker_threads())
        return prediction_metrics(*data.predict(booster, validation), self.task)


class LargeTabularFamily(TabularFamily):
    """XGBoost out of core on a Parquet table beyond the memory budget."""

    warm_modules: ClassVar[tuple[str, ...]] = ("xgboost", "pyarrow.parquet")
    summary_type: ClassVar[type[BaseModel]] = LargeTabularSummary
    objective_type: ClassVar[type[HoldoutObjective]] = HoldoutObjective
    split_type: ClassVar[type[ParquetSplit]] = ParquetSplit
    numeric_only: ClassVar[bool] = True  # what the trials read (XGBoost's batches: numbers)

    def __init__(self, config: TabularRunConfig, table: ParquetTable, budget: MemoryBudget) -> None:
        super().__init__(config)
        self.table = table
        self.budget = budget

    def describe(self) -> str:
        """One line for the terminal: why this path, and what it does."""
        return (
            f"{self.table.source}: {self.table.rows:,} rows, about {human(self.table.in_memory_bytes())} in pandas, "
            f"too much to train in memory within the memory budget ({human(self.budget.total)}, "
            f"{human(self.budget.data)} of it for data): training XGBoost out of core "
            f"(external memory, batches of {self.budget.batch_rows(len(self.table.columns)):,} rows), "
            + (f"scored by {self.folds}-fold CV." if self.folds else "scored on a hold-out validation part.")
            + (
                f" {option('algorithms')} auto: xgboost is the one family that trains out of core, so the search is "
                "TPE over its space" + (f" for {self.config.time_budget:g} s." if self.config.time_budget else ".")
                if self.config.algorithms == ["auto"]
                else ""
            )
        )

    def preflight(self) -> None:
        """Columns, target, classes and algorithms, from the metadata and one column: no table is read whole."""
        self._resolve()
        self._algorithms()
        if self.config.resume:  # the sample it reads is what a run identifies the table by
            self.check_resume(self.load())

    def _algorithms(self) -> list[str]:
        config = self.config
        if config.search == "asha":
            raise ZygardeError(
                f"{option('search')}: asha keeps each trial's growing models in memory, and {self.table.source} "
                f"trains out of core (about {human(self.table.in_memory_bytes())} in pandas against a budget of "
                f"{human(self.budget.total)}): use {option('search')} random or tpe."
            )
        if "algorithms" not in config.model_fields_set or config.algorithms == ["auto"]:
            return ["xgboost"]  # what trains out of core
        others = [a for a in config.algorithms if a != "xgboost"]
        if others:
            raise ZygardeError(
                f"{option('algorithms')}: {', '.join(others)} {'needs' if len(others) == 1 else 'need'} the table "
                "in memory, and "
                f"{self.table.source} is about {human(self.table.in_memory_bytes())} in pandas against a budget "
                f"of {human(self.budget.total)}. Out of core, zygarde trains xgboost: pass {option('algorithms')} "
                f"xgboost, or a larger {option('memory_limit')}."
            )
        return ["xgboost"]

    def load(self, client: Any = None) -> LargeTable:
        """The table's metadata, its target checked, its task and classes resolved, and a sample of rows."""
        features, target, task, values = self._resolve()
        split = self._split(features, target, task, values)
        sample = split.sample("fit", SAMPLE_ROWS)
        table = self.table
        name = self.config.name or (table.source.stem if table.source.is_file() else table.source.name)
        return LargeTable(name=name, source=table.source, frame=sample, target=target, task=task, table=table,
                          class_values=split.class_values)  # fmt: skip

    def _resolve(self) -> tuple[list[str], str, TaskKind, tuple[Any, ...]]:
        """(features, target, task, class values) from the metadata and the target column; input errors named."""
        config, table = self.config, self.table
        target = config.target
        if not target or target not in table.columns:
            shown = ", ".join(list(table.columns)[:15])
            raise ZygardeError(
                f"{table.source}: target column {target!r} not found. Columns are: {shown}. "
                f"Pass the right name as {option('target')}."
            )
        features = [c for c in table.columns if c != target]
        text = [c for c in features if not numeric_arrow(table.columns[c])] if self.numeric_only else []
        if text:
            named = ", ".join(f"{c!r} ({table.columns[c]})" for c in text)
            raise ZygardeError(
                f"{table.source}: out of core, zygarde reads numeric features; {named} "
                f"{'is' if len(text) == 1 else 'are'} not numeric. Encode them as numbers, or train in memory with "
                f"a larger {option('memory_limit')}."
            )
        values = class_values(table, target)
        task = _task(config.task, table.columns[target], values)
        if task == "classification" and len(values) < 2:
            raise ZygardeError(f"{table.source}: target {target!r} has {len(values)} class; it needs at least two.")
        if task == "classification" and len(values) > MAX_CLASSES:
            raise ZygardeError(
                f"{table.source}: target {target!r} has over {MAX_CLASSES} classes; pass {option('task')} regression "
                "if it is a quantity."
            )
        return features, target, task, values if task == "classification" else ()

    @property
    def folds(self) -> int:
        """K when the user asked for K-fold CV (``--cv``); 0: the hold-out validation part."""
        return self.config.cv if "cv" in self.config.model_fields_set else 0

    def _split(self, features: list[str], target: str, task: str, values: tuple[Any, ...]) -> ParquetSplit:
        config = self.config
        scratch = str(get_settings().work_dir / "tmp")
        return self.split_type(self.table.files, tuple(features), target, task, values, config.seed, config.test_size,
                            0.0 if self.folds else VALIDATION_SHARE, self.budget.batch_rows(len(features) + 1),
                            scratch, self.table.rows, self.folds)  # fmt: skip

    def validate(self, dataset: TabularDataset, expectations_dir: Any) -> ValidationReport:
        """The baseline suite on a seeded sample of rows (how many of how many, in the report's name)."""
        report = super().validate(dataset, expectations_dir)
        report.suite = f"{report.suite} (on a sample of {len(dataset.frame):,} of {self.table.rows:,} rows)"
        return report

    # its views are Parquet splits, read batch by batch, not frames: the flow sees both through ``Family``
    def prepare(self, dataset: TabularDataset) -> Prepared[ParquetSplit, ParquetSplit]:  # type: ignore[override]
        """The split's parts, counted (one pass over the labels); the search sees train and validation only."""
        assert isinstance(dataset, LargeTable)
        split = self._split(dataset.features, dataset.target, dataset.task, dataset.class_values)
        counts = split.count_parts()
        if min(n for part, n in counts.items() if part != "validation" or not split.folds) < 2:
            raise ZygardeError(
                f"{dataset.source}: too few rows to hold out parts ({counts}); lower {option('memory_limit')} "
                "is not the fix: train it in memory."
            )
        return Prepared(search=split, evaluation=split, facts={f"rows_{k}": v for k, v in counts.items()})

    def plan(self, prepared: Prepared[Any, Any]) -> Plan:
        """XGBoost configurations (grid or random), each scored on the validation part."""
        config, split = self.config, prepared.search
        objective = self.objective_type(split.task, len(split.class_values), config.seed)
        algorithms = ["auto"] if config.algorithms == ["auto"] else self._algorithms()  # auto: of xgboost alone
        sampler = tabular_sampler(algorithms, config.search, config.trials, config.seed, config.space,
                                  objective.metric, objective.greater_is_better, config.engine,
                                  time_budget=config.time_budget, families=self._algorithms())  # fmt: skip
        if split.folds:
            return Plan(objective, sampler, scored_on=f"cv on the non-test rows ({split.folds} folds)")
        rows = prepared.facts.get("rows_validation", 0)
        return Plan(objective, sampler, scored_on=f"validation part ({rows:,.0f} rows)", cv_names=False)

    def finalize(self, prepared: Prepared[Any, Any], best: TrialResult, client: Any) -> Trained:
        """The winner refitted out of core on train + validation, with the cluster's threads (idle by now)."""
        threads = sum(client.nthreads().values()) if client is not None else worker_threads()
        booster = train_booster(prepared.search, "fit", best.params, max(threads, worker_threads()))
        return Trained(wrap_booster(booster, prepared.search), facts={"refit_threads": threads})

    def evaluate(
        self, model: Any, prepared: Prepared[Any, Any], best: TrialResult, results: list[TrialResult]
    ) -> Evaluation:
        """Test-part metrics and plots from predictions made batch by batch; the leaderboard by validation."""
        split = prepared.evaluation
        metrics, y, output = split.scored(model, "test")
        rule = self.champion_rule(prepared)
        board = leaderboard(
            results, rule.metric, rule.greater_is_better, prefix="cv_" if split.folds else "validation_"
        )
        rows = board.to_dict(orient="records")
        classes = [str(c) for c in split.class_values]
        best_json = {"algorithm": best.algorithm, "params": best.params, "trial_id": best.trial_id,
                     "child_run_id": best.run_id, "validation_metrics": best.scores, "test_metrics": metrics,
                     "classes": classes}  # fmt: skip
        return Evaluation(
            metrics,
            figures=prediction_figures(y, output, metrics, split.task, classes),
            json={
                "leaderboard.json": rows,
                "best.json": best_json,
                **error_tables(y, output, split.task, classes),
            },
            tables={"leaderboard": (f"Best trials by {rule.metric} on the validation part", rows)},
        )

    def explain(
        self, model: Any, prepared: Prepared[Any, Any], best: TrialResult, results: list[TrialResult]
    ) -> Explanation:
        """Permutation importance and TreeSHAP on the test part's first rows (no competitors: each would be an
        out-of-core refit)."""
        split = prepared.evaluation
        frame, y = split.first_rows("test", ROWS)
        rule = self.champion_rule(prepared)
        rows = Rows(frame, y, split.task, rule.metric, rule.greater_is_better, self.config.seed,
                    [str(c) for c in split.class_values])  # fmt: skip
        return explain_tabular(model, rows, self.explain_seconds())

    def champion_rule(self, prepared: Prepared[Any, Any]) -> Any:
        """The selection metric on the test part."""
        from zygarde.family import ChampionRule

        objective = self.objective_type(prepared.search.task, len(prepared.search.class_values), self.config.seed)
        return ChampionRule(objective.metric, objective.greater_is_better, "test part")

    def score(self, model: Any, prepared: Prepared[Any, Any]) -> float:
        """The champion metric of any tabular model on the test part."""
        return prepared.evaluation.scored(model, "test")[0][self.champion_rule(prepared).metric]

    def log_model(self, model: Any, prepared: Prepared[Any, Any], tracking_uri: str, run_id: str) -> str:
        """The scikit-learn XGBoost model with its signature and an input example of training rows."""
        from zygarde.registry import log_sklearn

        example = prepared.search.sample("train", 100).drop(columns=prepared.search.target)
        return log_sklearn(tracking_uri, run_id, model, example)

    def reference(self, prepared: Prepared[Any, Any]) -> Reference:
        """A seeded sample of the train part's features."""
        split = prepared.search
        rows = split.sample("train", Reference.MAX_ROWS).drop(columns=split.target)
        return Reference(rows, target=split.target, task=split.task, classes=[str(c) for c in split.class_values])

    def ensembles(self) -> bool:
        """None out of core: its trials keep no out-of-fold predictions."""
        return False

    def validation(self, prepared: Prepared[Any, Any]) -> str:
        """K-fold CV over the non-test rows when asked, else the validation part."""
        folds = prepared.search.folds
        return f"{folds}-fold CV over the non-test rows" if folds else "the validation part"

    def summarize(
        self,
        dataset: TabularDataset,
        prepared: Prepared[Any, Any],
        best: TrialResult,
        evaluation: Evaluation,
        results: list[TrialResult],
    ) -> dict[str, Any]:
        """The tabular fields, with the validation metrics in place of CV ones."""
        fields = super().summarize(dataset, prepared, best, evaluation, results)
        if prepared.search.folds:
            return {**fields, "out_of_core": self.describe()}
        return {**fields, "cv_metrics": {}, "validation_metrics": best.scores, "out_of_core": self.describe()}


def numeric_arrow(arrow_type: str) -> bool:
    """Whether an Arrow type (as ``str`` names it) is a number or a boolean."""
    return arrow_type.startswith(("int", "uint", "float", "double", "halffloat", "bool", "decimal"))


def _task(asked: str, arrow_type: str, values: tuple[Any, ...]) -> TaskKind:
    if asked in ("classification", "regression"):
        return asked  # type: ignore[return-value]
    if arrow_type.startswith(("float", "double", "halffloat")):
        integral = all(float(v).is_integer() for v in values[: MAX_CLASSES + 1])
        return "classification" if integral and len(values) <= MAX_CLASSES else "regression"
    if arrow_type.startswith(("int", "uint")) and len(values) > MAX_CLASSES:
        return "regression"
    return "classification"
