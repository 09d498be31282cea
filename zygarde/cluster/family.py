"""Clustering: K-means, DBSCAN and Agglomerative on the numeric columns of a table (default: the Burger King
menu). There is no label and no holdout: every trial clusters all rows, and the registered predictor is scored
on those same rows, for challenger and champion alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from zygarde.cluster.config import ClusterRunConfig
from zygarde.cluster.data import FASTFOOD, STUDY, ClusterTable, ScaledTable, build_scaler, check_rows, check_size
from zygarde.cluster.data import load_cluster_table as read_cluster_table
from zygarde.cluster.metrics import cluster_metrics, degenerate_reason
from zygarde.cluster.plots import pca_scatter, silhouette_plot
from zygarde.cluster.predictor import ClusteringObjective, cluster_model, fit_labels
from zygarde.cluster.profile import cluster_profile, study_reference
from zygarde.cluster.spaces import plan_cluster_trials
from zygarde.digests import digest
from zygarde.errors import ZygardeError
from zygarde.explain import DEFAULT_SECONDS, Explanation
from zygarde.explain.cluster import explain_clusters
from zygarde.explain.data import data_profile
from zygarde.family import ChampionRule, DataInput, Evaluation, Identity, Plan, Prepared, Reference, Trained
from zygarde.search.factory import make_sampler
from zygarde.search.spaces import SearchKind
from zygarde.search.trials import TrialResult, TrialSpec, best_result, describe_params, leaderboard
from zygarde.settings import get_settings
from zygarde.summary import FlowSummary
from zygarde.validation import ValidationReport, expect, load_suite, run_suite, with_baseline

ROWS = "all rows of the table (unsupervised)"
BOARD_COLUMNS = ("silhouette_clustered", "davies_bouldin", "calinski_harabasz", "n_clusters", "noise_fraction")


class ClusterSummary(FlowSummary):
    """Outcome of the ``cluster`` flow; every metric is measured on all rows of the (filtered) table."""

    dataset: str
    restaurant: str | None
    n_rows: int
    features: list[str]
    dropped_columns: dict[str, str]
    selection_metric: str
    best_algorithm: str
    best_params: dict[str, Any]
    metrics: dict[str, float]
    best_per_algorithm: dict[str, dict[str, Any]]
    reference: dict[str, float] | None
    n_trials_degenerate: int
    leaderboard: list[dict[str, Any]]


def _degenerate(result: TrialResult) -> str | None:
    return degenerate_reason(result.scores)


class ClusterFamily:
    """The clustering search over one table."""

    kind: ClassVar[str] = "cluster"
    warm_modules: ClassVar[tuple[str, ...]] = ("sklearn.cluster",)
    registry_modules: ClassVar[tuple[str, ...]] = (
        "mlflow.sklearn",
        "zygarde.serialization",  # skops.io
        "matplotlib.pyplot",
    )
    summary_type: ClassVar[type[BaseModel]] = ClusterSummary

    def __init__(self, config: ClusterRunConfig) -> None:
        self.config = config

    def data_paths(self) -> list[Path]:
        """The user's table (none for the built-in)."""
        return [] if self.config.dataset == FASTFOOD else [Path(self.config.dataset).expanduser()]

    def preflight(self) -> None:
        """Read and filter the table; check the features, the rows against clusters and the memory limit."""
        table = self.load()
        check_size(len(table.frame), list(self.config.algorithms), get_settings().pairwise_memory_share)

    def describe(self) -> str | None:
        """Nothing to say before the run: it does what the user asked."""
        return None

    def load(self, client: Any = None) -> ClusterTable:
        """The chosen restaurant's rows (or all) and the feature columns (read here: ``client`` unused)."""
        config = self.config
        features = STUDY["features"] if config.preset == "study" else config.features or None
        table = read_cluster_table(config.dataset, get_settings().data_root, config.restaurant, features)
        check_rows(len(table.frame), config.max_clusters)
        return table

    def identify(self, table: ClusterTable) -> Identity:
        """Registered per table, rows and features: silhouettes of different feature sets do not compare."""
        name = f"zygarde-{table.name}" + ("-study" if self.config.preset == "study" else "")
        if not table.builtin:
            name += "-" + digest(list(table.features), 8)
        params = {"features_resolved": json.dumps(table.features), "dropped_columns": json.dumps(table.dropped)}
        return Identity(table.name, str(table.source), name, params)

    def validate(self, table: ClusterTable, expectations_dir: Path) -> ValidationReport:
        """The shipped table's suite (``fastfood``) plus what any table to cluster needs: more rows than clusters."""
        stored = load_suite(expectations_dir, FASTFOOD) if table.builtin else None
        minimum = [expect("table_row_count_to_be_between", min_value=self.config.max_clusters + 1)]
        return run_suite(
            table.frame, with_baseline(stored, {"name": f"{table.name}-baseline", "expectations": minimum})
        )

    def prepare(self, table: ClusterTable) -> Prepared[ScaledTable, ClusterTable]:
        """Impute and standardise all rows; the evaluation view is the same rows, unscaled (no labels, no holdout)."""
        check_size(len(table.frame), list(self.config.algorithms), get_settings().pairwise_memory_share)
        X = np.asarray(build_scaler().fit_transform(table.X))
        facts: dict[str, float] = {"n_rows": len(table.frame), "n_features": len(table.features)}
        profile = {"data/profile.json": data_profile(table.frame)}
        inputs = [DataInput(table.frame, table.name, str(table.source))]
        return Prepared(ScaledTable(X, table.X), table, facts, artifacts=profile, inputs=inputs)

    def plan(self, prepared: Prepared[ScaledTable, ClusterTable]) -> Plan:
        """The preset's one configuration, or every algorithm's space (grid or random)."""
        config, objective = self.config, ClusteringObjective(self.config.seed)

        def draw(search: SearchKind) -> list[TrialSpec]:
            if config.preset == "study":
                return [TrialSpec(0, "kmeans", dict(STUDY["params"]))]
            return plan_cluster_trials(list(config.algorithms), search, config.trials, config.seed, prepared.search.X,
                                       config.max_clusters)  # fmt: skip

        sampler = make_sampler(config.search, spaces={}, draw=draw, n_trials=config.trials, metric=objective.metric,
                               greater_is_better=objective.greater_is_better, seed=config.seed)  # fmt: skip
        return Plan(objective, sampler, scored_on=ROWS, cv_names=False)

    def select(self, results: list[TrialResult], prepared: Prepared[ScaledTable, Any]) -> TrialResult:
        """Highest silhouette among trials that are not degenerate."""
        return best_result(results, "silhouette", True, eligible=_degenerate)

    def finalize(self, prepared: Prepared[ScaledTable, Any], best: TrialResult, client: Any) -> Trained:
        """Imputer + scaler + the winner's predictor, fitted on all rows."""
        spec = TrialSpec(best.trial_id, best.algorithm, best.params)
        return Trained(cluster_model(spec, self.config.seed).fit(prepared.search.raw))

    def evaluate(
        self, model: Any, prepared: Prepared[ScaledTable, ClusterTable], best: TrialResult, results: list[TrialResult]
    ) -> Evaluation:
        """Plots and profiles of the best overall and of the best per algorithm; the leaderboard."""
        table, X = prepared.evaluation, prepared.search.X
        shown, per_algorithm = {"best": best}, {}
        for algorithm in dict.fromkeys(r.algorithm for r in results):
            try:
                shown[algorithm] = best_result(
                    [r for r in results if r.algorithm == algorithm], "silhouette", True, _degenerate
                )
                per_algorithm[algorithm] = {"usable": True, "params": shown[algorithm].params,
                                            "metrics": shown[algorithm].scores}  # fmt: skip
            except ZygardeError as exc:  # every trial of this algorithm was degenerate: say so, show the rest
                per_algorithm[algorithm] = {"usable": False, "reason": str(exc)}
        figures, profiles = {}, {}
        for key, trial in shown.items():
            labels = fit_labels(TrialSpec(trial.trial_id, trial.algorithm, trial.params), X, self.config.seed)
            title = f"{table.name}: {trial.algorithm} ({key})\n{describe_params(trial.params)}"
            figures[f"clusters/{key}/pca.png"] = pca_scatter(X, labels, table.names, title)
            figures[f"clusters/{key}/silhouette.png"] = silhouette_plot(X, labels, title)
            profiles[key] = cluster_profile(table, labels).to_dict(orient="records")
        board = leaderboard(results, "silhouette", True, columns=BOARD_COLUMNS, eligible=_degenerate)
        rows = board.to_dict(orient="records")
        reference = study_reference(table, self.config.seed)
        best_json = {"algorithm": best.algorithm, "params": best.params, "child_run_id": best.run_id}
        study = {"study_silhouette": reference["silhouette"]} if reference else {}
        return Evaluation(
            dict(best.scores) | study,
            prefix="table_",
            figures=figures,
            json={
                "leaderboard.json": rows,
                "best.json": {**best_json, "metrics": best.scores},
                "per_algorithm.json": per_algorithm,
                **{f"clusters/{key}/profile.json": profile for key, profile in profiles.items()},
                "reference.json": reference,
            },
            tables={
                "cluster-leaderboard": ("Usable clusterings by silhouette on all rows (degenerate ones: not listed)",
                                        rows),
                "cluster-profile": (f"Clusters of {best.algorithm} {best.params}: size, feature means, examples",
                                    profiles["best"]),
            },
        )  # fmt: skip

    def explain(
        self, model: Any, prepared: Prepared[ScaledTable, ClusterTable], best: TrialResult, results: list[TrialResult]
    ) -> Explanation:
        """What sets each cluster of the registered pipeline apart (``zygarde.explain.cluster``)."""
        table = prepared.evaluation
        return explain_clusters(model, table.frame, table.X, DEFAULT_SECONDS)

    def champion_rule(self, prepared: Prepared[Any, Any]) -> ChampionRule:
        """Silhouette (noise counted as 0) of the registered pipeline's labels on all rows."""
        return ChampionRule("silhouette", True, "rows of the table")

    def score(self, model: Any, prepared: Prepared[Any, ClusterTable]) -> float:
        """Silhouette of ``model``'s labels on this run's rows; a degenerate labelling scores minus infinity."""
        raw = prepared.evaluation.X
        metrics = cluster_metrics(np.asarray(model[:-1].transform(raw)), np.asarray(model.predict(raw)))
        return float("-inf") if degenerate_reason(metrics) else metrics["silhouette"]

    def log_model(self, model: Any, prepared: Prepared[ScaledTable, Any], tracking_uri: str, run_id: str) -> str:
        """The pipeline (imputer, scaler, predictor) with signature and an input example."""
        from zygarde.registry import log_sklearn

        return log_sklearn(tracking_uri, run_id, model, prepared.search.raw)

    def load_model(self, model_uri: str) -> Any:
        """A registered clustering pipeline."""
        import mlflow.sklearn

        return mlflow.sklearn.load_model(model_uri)

    def reference(self, prepared: Prepared[ScaledTable, Any]) -> Reference:
        """The clustered rows' raw features (a seeded sample)."""
        raw = prepared.search.raw
        return Reference(raw.sample(min(len(raw), Reference.MAX_ROWS), random_state=self.config.seed))

    def summarize(
        self,
        table: ClusterTable,
        prepared: Prepared[Any, Any],
        best: TrialResult,
        evaluation: Evaluation,
        results: list[TrialResult],
    ) -> dict[str, Any]:
        """The clustering fields of the summary."""
        return {
            "dataset": table.name,
            "restaurant": table.restaurant,
            "n_rows": len(table.frame),
            "features": table.features,
            "dropped_columns": table.dropped,
            "selection_metric": "silhouette",
            "best_algorithm": best.algorithm,
            "best_params": best.params,
            "metrics": best.scores,
            "best_per_algorithm": evaluation.json["per_algorithm.json"],
            "reference": evaluation.json["reference.json"],
            "n_trials_degenerate": sum(r.error is None and _degenerate(r) is not None for r in results),
            "leaderboard": evaluation.json["leaderboard.json"],
        }
