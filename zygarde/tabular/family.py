"""Tabular training: a table and a target; K-fold CV of preprocessing + ensemble on the training split, the
winner refitted there and scored once on the held-out test split."""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field

from zygarde.digests import digest
from zygarde.errors import ZygardeError
from zygarde.explain import DEFAULT_SECONDS, Explanation
from zygarde.explain.data import data_profile
from zygarde.explain.tabular import Rows, competitors_of, explain_tabular
from zygarde.family import ChampionRule, DataInput, Evaluation, Identity, Plan, Prepared, Reference, Trained, slug
from zygarde.search.trials import TrialResult, best_result, leaderboard, on_top_rung, rank
from zygarde.settings import get_settings
from zygarde.summary import FlowSummary
from zygarde.tabular.algorithms import AUTO_ORDER
from zygarde.tabular.catalog import get_algorithm, tabular_sampler
from zygarde.tabular.columns import ColumnPlan
from zygarde.tabular.config import TabularRunConfig
from zygarde.tabular.datasets import BUILTIN_DATASETS, TabularDataset, load_dataset
from zygarde.tabular.ensemble import select_ensemble
from zygarde.tabular.evaluate import (
    HeldOut,
    error_tables,
    prediction_figures,
    prediction_metrics,
    score_model,
    test_output,
)
from zygarde.tabular.learners import ENSEMBLE
from zygarde.tabular.objective import CrossValidationObjective, TrialData
from zygarde.tabular.preprocess import split_holdout
from zygarde.tabular.sizing import ESTIMATE_ROWS, affordable, describe_estimate, estimate_costs, holdout_for
from zygarde.validation import ValidationReport, expect, load_suite, run_suite, with_baseline

if TYPE_CHECKING:
    from zygarde.memory import MemoryBudget

log = logging.getLogger(__name__)

# of a time budget: the search's, and the least explanations get (the rest: the ensemble's, the refit's)
SEARCH_SHARE, EXPLAIN_SHARE = 0.80, 0.05


class TabularSummary(FlowSummary):
    """Outcome of ``train_tabular``; ``*_metrics`` say their split in the name (cv: training folds, test: held out)."""

    dataset: str
    task: str
    selection_metric: str
    best_algorithm: str
    best_params: dict[str, Any]
    cv_metrics: dict[str, float]
    test_metrics: dict[str, float]
    leaderboard: list[dict[str, Any]]
    dropped_columns: dict[str, str]
    # the winner's selection metric in CV and on the test split: how optimistic the selection was
    validation: str = "5-fold CV"  # how trials were scored: K-fold CV, or a hold-out on a large table
    cv_to_test: dict[str, Any] = Field(default_factory=dict)
    time_budget: dict[str, float] = Field(
        default_factory=dict
    )  # with a time budget: it, and the seconds search + ensemble + refit took


class TabularFamily:
    """Ensembles (Random Forest, Gradient Boosting, XGBoost) on a CSV/Parquet table."""

    kind: ClassVar[str] = "tabular"
    warm_modules: ClassVar[tuple[str, ...]] = ("xgboost", "sklearn.ensemble")
    registry_modules: ClassVar[tuple[str, ...]] = (
        "mlflow.sklearn",
        "zygarde.serialization",  # skops.io
        "matplotlib.pyplot",
    )
    summary_type: ClassVar[type[BaseModel]] = TabularSummary

    def __init__(self, config: TabularRunConfig) -> None:
        self.config = config
        self._columns: ColumnPlan | None = None
        self._notes: list[str] = []
        self._clock = time.monotonic()  # when the time budget started (reset by ``plan``)
        self._spent = 0.0  # seconds from the search's start to the winner's refit

    def data_paths(self) -> list[Path]:
        """Files the config names (none for a built-in)."""
        return [] if self.config.dataset in BUILTIN_DATASETS else [Path(self.config.dataset).expanduser()]

    def preflight(self) -> None:
        """Read the table and check the target, classes and fold sizes, and the run to resume: every input error
        before services."""
        dataset = self.load()
        prepared = self.prepare(dataset)
        self.check_resume(dataset)
        self._columns = dataset.columns
        _, self._notes = self.size(prepared.search, list(self.config.algorithms))

    def describe(self) -> str | None:
        """The column plan (what each column is, and what the pipeline does with it) and, on a large table, the
        algorithms left out and the search's estimate (``size``), once ``preflight`` read the table."""
        lines = [self._columns.table()] if self._columns else []
        return "\n".join([*lines, *self._notes]) or None

    def check_resume(self, dataset: TabularDataset) -> None:
        """With ``resume``: the run exists in the store and searched this problem the same way (before any
        service starts: a mistyped run id costs a second, not the services' start)."""
        resume = self.config.resume
        if resume:
            from zygarde.tracking import check_resumable, run_params

            identity = self.identify(dataset)
            check_resumable(str(get_settings().mlflow_tracking_uri), resume, identity.registry_name,
                            run_params(self.config, identity))  # fmt: skip

    def load(self, client: Any = None) -> TabularDataset:
        """The table named by the config, its target checked and its task resolved (read here: ``client`` unused)."""
        config = self.config
        task = None if config.task == "auto" else config.task
        return load_dataset(
            config.dataset, data_root=get_settings().data_root, target=config.target, task=task, name=config.name
        )

    def identify(self, dataset: TabularDataset) -> Identity:
        """Built-ins with their own target register as ``zygarde-<name>``; anything else adds a digest of the
        data's identity, task, target and features, so only models of the same problem compete."""
        builtin = BUILTIN_DATASETS.get(dataset.name) if dataset.builtin else None
        name = f"zygarde-{dataset.name}"
        if builtin is None or dataset.target != builtin.target:
            origin = f"builtin:{dataset.name}" if dataset.builtin else "file"
            key = digest([origin, dataset.task, dataset.target, *sorted(dataset.features)], 8)
            name = f"zygarde-{slug(dataset.name)}-{slug(dataset.target)}-{key}"
        params = {"task_resolved": dataset.task, "dropped_columns": json.dumps(dataset.dropped)}
        return Identity(dataset.name, str(dataset.source), name, params)

    def validate(self, dataset: TabularDataset, expectations_dir: Path) -> ValidationReport:
        """The shipped dataset's stored suite plus the baseline every table must pass."""
        stored = load_suite(expectations_dir, dataset.name) if dataset.builtin else None
        target = dataset.target
        baseline = [
            expect("column_to_exist", column=target),
            expect("column_values_to_not_be_null", column=target),
            expect("table_row_count_to_be_between", min_value=2 * self.config.cv),
        ]
        if dataset.task == "classification":
            baseline.append(expect("column_unique_value_count_to_be_between", column=target, min_value=2))
        if stored is not None and target != BUILTIN_DATASETS[dataset.name].target:
            stored = None  # the stored suite describes the built-in's own target
        suite = with_baseline(stored, {"name": f"{dataset.name}-baseline", "expectations": baseline})
        return run_suite(dataset.frame, suite)

    def prepare(self, dataset: TabularDataset) -> Prepared[TrialData, HeldOut]:
        """Set the stratified test split aside: trials see the training split, evaluation the test split."""
        config = self.config
        split = split_holdout(dataset, config.test_size, config.seed, config.cv)
        data = TrialData(split.X_train, split.y_train, task=dataset.task, classes=split.classes,
                         zero_as_missing=dataset.zero_as_missing, target=dataset.target,
                         columns=dataset.columns)  # fmt: skip
        if config.engine == "dask":  # Spark's pipelines are its own, saved by MLflow's Spark flavour
            self._objective(data).check_round_trip(data)
        facts: dict[str, float] = {"rows_train": len(split.X_train), "rows_test": len(split.X_test)}
        artifacts = {"columns.json": dataset.columns.records(),
                     "data/profile.json": data_profile(dataset.frame, dataset.target, dataset.task)}  # fmt: skip
        inputs = [DataInput(dataset.frame, dataset.name, str(dataset.source), dataset.target)]
        return Prepared(data, HeldOut(split.X_test, split.y_test, split.classes), facts, artifacts, inputs)

    def _objective(self, data: TrialData) -> CrossValidationObjective:
        config = self.config
        objective = CrossValidationObjective
        if config.engine == "spark":
            from zygarde.tabular.spark.tabular import SparkCrossValidationObjective

            objective = SparkCrossValidationObjective
        keep = self.ensembles()  # the ensemble's material
        holdout = holdout_for(len(data.y), "cv" in config.model_fields_set)
        return objective(data.task, len(data.classes), config.cv, config.seed, data.zero_as_missing,
                         keep_predictions=keep, holdout=holdout)  # fmt: skip

    def ensembles(self) -> bool:
        """Whether a greedy ensemble competes with the trials (asked for, or with auto; the dask engine)."""
        return self.config.engine == "dask" and self.config.ensembles()

    def validation(self, prepared: Prepared[Any, Any]) -> str:
        """How the trials were scored, in words."""
        return self._objective(prepared.search).validation

    def size(self, data: TrialData, algorithms: list[str]) -> tuple[list[str] | None, list[str]]:
        """On a table large enough to matter (``tabular.sizing``): the algorithms that can finish a trial in time
        (None: every one asked for), and notes for the terminal (those left out, the search's estimate)."""
        config = self.config
        if config.engine != "dask" or len(data.y) <= ESTIMATE_ROWS:
            return None, []
        objective = self._objective(data)
        search_budget = config.time_budget * SEARCH_SHARE if config.time_budget else None
        asked = AUTO_ORDER if algorithms == ["auto"] else algorithms
        estimate = estimate_costs(objective, data, asked)
        kept, notes = affordable(estimate, asked, len(data.y), search_budget)
        trials = dict.fromkeys(kept, config.trials)
        line = (f"{len(data.y):,} training rows, scored by {objective.validation}: "
                + describe_estimate(estimate, trials, get_settings().dask_workers)
                + (f"; the time budget ({config.time_budget:g} s) ends it" if config.time_budget else ""))  # fmt: skip
        return kept, [*notes, line]

    def plan(self, prepared: Prepared[TrialData, HeldOut]) -> Plan:
        """K-fold CV (a hold-out on a large table) of every algorithm x configuration the sampler asks for; on a
        table large enough to matter, the algorithms that cannot finish a trial in time left out (``size``; the
        CLI prints its notes before the services start, a flow run logs them)."""
        config = self.config
        algorithms: list[str] = list(config.algorithms)
        data = prepared.search
        families = None
        if config.engine == "spark" and data.task == "classification" and len(data.classes) > 2 and "gbt" in algorithms:
            algorithms.remove("gbt")  # MLlib's GBT classifies two classes only
            warnings.warn(f"gbt left out: Spark's GBT classifies two classes, this target has {len(data.classes)}.",
                          stacklevel=2)  # fmt: skip
            if not algorithms:
                raise ZygardeError("Spark's gbt cannot classify more than two classes; add rf to the algorithms.")
        objective = self._objective(data)
        search_budget = config.time_budget * SEARCH_SHARE if config.time_budget else None
        kept, notes = self.size(data, algorithms)
        for note in notes:
            log.warning("%s", note)
        if kept is not None:
            families, algorithms = (kept, algorithms) if algorithms == ["auto"] else (None, kept)
        self._clock = time.monotonic()  # a time budget covers the search, the ensemble and the refit
        sampler = tabular_sampler(algorithms, config.search, config.trials, config.seed, config.space,
                                  objective.metric, objective.greater_is_better, config.engine,
                                  search_budget, config.brackets, families=families)  # fmt: skip
        return Plan(objective, sampler, scored_on=f"{objective.validation} on the training split")

    def select(self, results: list[TrialResult], prepared: Prepared[TrialData, HeldOut]) -> TrialResult:
        """Best CV mean of the selection metric (ROC-AUC, or RMSE for regression); of a successive-halving
        search, on the highest rung reached (configurations compare on the same budget). With ensembles on, the
        greedy ensemble of the best trials competes on the same folds' scores (``tabular.ensemble``)."""
        rule = self.champion_rule(prepared)
        best = best_result(results, rule.metric, rule.greater_is_better, on_top_rung(results))
        if not self.ensembles():
            return best
        left = self.config.time_budget - (time.monotonic() - self._clock) if self.config.time_budget else None
        objective = self._objective(prepared.search)
        ensemble = select_ensemble(results, prepared.search, objective, on_top_rung(results), refit_seconds=left)
        if ensemble is None:
            return best
        better = ensemble.scores[rule.metric] > best.scores[rule.metric]
        if not rule.greater_is_better:
            better = ensemble.scores[rule.metric] < best.scores[rule.metric]
        log.info("ensemble of %d trials: cv %s %.4f against the best trial's %.4f: %s",
                 len(ensemble.params["members"]), rule.metric, ensemble.scores[rule.metric],
                 best.scores[rule.metric], "the ensemble wins" if better else "the trial wins")  # fmt: skip
        return ensemble if better else best

    def finalize(self, prepared: Prepared[TrialData, Any], best: TrialResult, client: Any) -> Trained:
        """Refit the winner's pipeline on the whole training split (Spark: in this process's session)."""
        data = prepared.search
        objective = self._objective(data)
        if self.config.engine == "spark":
            from zygarde.tabular.spark.tabular import SparkCrossValidationObjective, SparkTabularModel, local_xgboost

            assert isinstance(objective, SparkCrossValidationObjective)
            fitted = objective.fit(best.spec, data.X, data.y)
            if best.algorithm == "xgboost":  # served as scikit-learn + booster: no JVM
                return Trained(local_xgboost(fitted, data.X, data.zero_as_missing, data.task))
            return Trained(SparkTabularModel(fitted))
        model = objective.build_pipeline(best.spec, data).fit(data.X, data.y)
        self._spent = time.monotonic() - self._clock
        return Trained(model, facts={"time_budget_used_seconds": self._spent} if self.config.time_budget else {})

    def evaluate(
        self, model: Any, prepared: Prepared[TrialData, HeldOut], best: TrialResult, results: list[TrialResult]
    ) -> Evaluation:
        """Test metrics and plots; the leaderboard of CV scores."""
        data, rows = prepared.search, prepared.evaluation
        output = test_output(model, rows, data.task)
        metrics = prediction_metrics(rows.y, output, data.task, None if data.task == "regression" else
                                     np.asarray(model.predict(rows.X)))  # fmt: skip
        rule = self.champion_rule(prepared)
        results = results if best in results else [*results, best]  # an ensemble is ranked with the trials
        board = leaderboard(results, rule.metric, rule.greater_is_better, prefix="cv_", columns=("predict_us_per_row",),
                            eligible=on_top_rung(results)).to_dict(orient="records")  # fmt: skip
        best_json = {"algorithm": best.algorithm, "params": best.params, "trial_id": best.trial_id,
                     "child_run_id": best.run_id, "cv_metrics": best.scores, "test_metrics": metrics,
                     "classes": rows.classes}  # fmt: skip
        return Evaluation(
            metrics,
            figures=prediction_figures(rows.y, output, metrics, data.task, rows.classes),
            json={
                "leaderboard.json": board,
                "best.json": best_json,
                **error_tables(rows.y, output, data.task, rows.classes, rows.X),
            },
            tables={"leaderboard": (f"Best trials by CV {rule.metric} (training split)", board)},
        )

    def explain(
        self, model: Any, prepared: Prepared[TrialData, HeldOut], best: TrialResult, results: list[TrialResult]
    ) -> Explanation:
        """Permutation importance, TreeSHAP where exact, partial dependence and the top models compared, on a
        sample of the test split (``zygarde.explain.tabular``), within ``explain_seconds``."""
        data, held = prepared.search, prepared.evaluation
        rule = self.champion_rule(prepared)
        rows = Rows(held.X, held.y, data.task, rule.metric, rule.greater_is_better, self.config.seed, held.classes)
        objective = self._objective(data)
        ranked = [r for r in rank(results, rule.metric, rule.greater_is_better, on_top_rung(results))
                  if r.algorithm != ENSEMBLE]  # fmt: skip
        dask = self.config.engine == "dask"  # Spark's top models are not refitted for the comparison
        refit = (lambda t: objective.build_pipeline(t.spec, data).fit(data.X, data.y)) if dask else None
        competitors = competitors_of(model, best, ranked, refit, objective.n_folds)
        return explain_tabular(model, rows, self.explain_seconds(), competitors)

    def explain_seconds(self) -> float:
        """What a time budget has left after the refit (at least its ``EXPLAIN_SHARE``), else ``DEFAULT_SECONDS``."""
        budget = self.config.time_budget
        if not budget:
            return DEFAULT_SECONDS
        return max(budget * EXPLAIN_SHARE, budget - (time.monotonic() - self._clock))

    def champion_rule(self, prepared: Prepared[TrialData, HeldOut]) -> ChampionRule:
        """The selection metric (ROC-AUC, or RMSE for regression), measured on the test split."""
        objective = self._objective(prepared.search)
        return ChampionRule(objective.metric, objective.greater_is_better, "test split")

    def score(self, model: Any, prepared: Prepared[TrialData, HeldOut]) -> float:
        """The champion metric of ``model`` on the test split."""
        rule = self.champion_rule(prepared)
        return score_model(model, prepared.evaluation.X, prepared.evaluation.y, prepared.search.task)[rule.metric]

    def log_model(self, model: Any, prepared: Prepared[TrialData, HeldOut], tracking_uri: str, run_id: str) -> str:
        """The pipeline with its signature and an input example of training rows."""
        from zygarde.registry import log_sklearn
        from zygarde.tabular.spark.model import log_spark
        from zygarde.tabular.spark.tabular import SparkTabularModel

        if isinstance(model, SparkTabularModel):
            return log_spark(tracking_uri, run_id, model, prepared.search.X)
        return log_sklearn(tracking_uri, run_id, model, prepared.search.X)

    def load_model(self, model_uri: str) -> Any:
        """A registered pipeline: scikit-learn's, or a Spark one behind the same predict / predict_proba."""
        return load_tabular_model(model_uri)

    def reference(self, prepared: Prepared[TrialData, HeldOut]) -> Reference:
        """The training split's features (a seeded sample), its target, task and class encoding."""
        data = prepared.search
        rows = data.X.sample(min(len(data.X), Reference.MAX_ROWS), random_state=self.config.seed)
        return Reference(rows, target=data.target, task=data.task, classes=[str(c) for c in data.classes])

    def summarize(
        self,
        dataset: TabularDataset,
        prepared: Prepared[TrialData, HeldOut],
        best: TrialResult,
        evaluation: Evaluation,
        results: list[TrialResult],
    ) -> dict[str, Any]:
        """The tabular fields of the summary."""
        return {
            "dataset": dataset.name,
            "task": dataset.task,
            "selection_metric": self.champion_rule(prepared).metric,
            "best_algorithm": best.algorithm,
            "best_params": best.params
            if best.algorithm == ENSEMBLE
            else {**best.params, **get_algorithm(best.algorithm).resource.params(best.budget)},
            "cv_metrics": best.scores,
            "test_metrics": evaluation.metrics,
            "leaderboard": evaluation.json["leaderboard.json"],
            "dropped_columns": dataset.dropped,
            "validation": self.validation(prepared),
            "cv_to_test": self.cv_to_test(best, evaluation.metrics, prepared),
            "time_budget": {"budget_seconds": self.config.time_budget, "used_seconds": self._spent}
            if self.config.time_budget and self._spent  # out of core: its own plan, not accounted here
            else {},
        }

    def cv_to_test(self, best: TrialResult, test: dict[str, float], prepared: Prepared[Any, Any]) -> dict[str, Any]:
        """The selection metric of the winner, in CV and on the test split, and test minus CV (negative for a
        score that dropped: the winner's curse of picking the best of many noisy CV scores)."""
        metric = self.champion_rule(prepared).metric
        if metric not in best.scores or metric not in test:
            return {}
        cv = best.scores[metric]
        return {"metric": metric, "cv": cv, "test": test[metric], "gap": test[metric] - cv}


def load_tabular_model(model_uri: str) -> Any:
    """A registered tabular model in its own flavour: scikit-learn's pipeline, or a Spark ML one behind the same
    ``predict`` / ``predict_proba`` (Spark's needs a JVM)."""
    import mlflow.sklearn
    from mlflow.models import get_model_info

    if "spark" in get_model_info(model_uri).flavors:
        import mlflow.spark

        from zygarde.tabular.spark.session import model_dir
        from zygarde.tabular.spark.tabular import SparkTabularModel

        return SparkTabularModel(mlflow.spark.load_model(model_uri, dfs_tmpdir=model_dir()))
    return mlflow.sklearn.load_model(model_uri)


# the in-memory path's peak process-tree RSS over zygarde's floor, in multiples of the table's estimated pandas size
# (8 bytes a number): 7.7 measured on 2M rows x 20 (benchmarks/memory_budget.py, 2026-12-02), with a margin
IN_MEMORY_SHARE = 9


def memory_budget(config: TabularRunConfig, workers: int) -> MemoryBudget:
    """``--memory-limit``, else what the machine has available now."""
    import psutil

    from zygarde.memory import MemoryBudget, check_floor, parse_size

    limit = config.memory_limit or get_settings().memory_limit
    total = parse_size(limit) if limit else psutil.virtual_memory().available
    if limit:
        check_floor(total, workers)
    return MemoryBudget(total, workers)


def tabular_family(config: TabularRunConfig) -> TabularFamily:
    """The in-memory tabular family, or for a Parquet table whose in-memory training would not fit the budget's
    room for data (``IN_MEMORY_SHARE`` times its pandas size): XGBoost out of core (dask), or Spark reading the
    table itself (spark)."""
    from zygarde.tabular.outofcore.family import LargeTabularFamily
    from zygarde.tabular.outofcore.parquet import ParquetTable

    budget = memory_budget(config, get_settings().dask_workers)  # a given budget below the floor: refused here
    if config.dataset in BUILTIN_DATASETS:
        return TabularFamily(config)
    path = Path(config.dataset).expanduser()
    if not (path.is_dir() or path.suffix.lower() in (".parquet", ".pq")):
        return TabularFamily(config)
    table = ParquetTable.scan(path)
    if table.in_memory_bytes() * IN_MEMORY_SHARE <= budget.data:
        return TabularFamily(config)
    if config.engine == "spark":  # Spark reads it itself
        from zygarde.tabular.spark.table import SparkTableFamily

        return SparkTableFamily(config, table, budget)
    return LargeTabularFamily(config, table, budget)
