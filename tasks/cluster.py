"""Clustering stages: load and filter, scale, plan the search, and present the results (plots, profiles)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.artifacts import create_table_artifact
from sklearn.pipeline import Pipeline

from zygarde.cluster_plots import pca_scatter, silhouette_plot
from zygarde.clustering import (
    STUDY,
    ClusteringObjective,
    ClusterTable,
    ScaledTable,
    best_clustering,
    build_clusterer,
    build_scaler,
    check_rows,
    check_size,
    cluster_leaderboard,
    cluster_model,
    cluster_profile,
    load_cluster_table,
    plan_cluster_trials,
    study_reference,
)
from zygarde.config import ClusterRunConfig
from zygarde.errors import ZygardeError
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, log_figure, log_json, log_metrics, log_text
from zygarde.trials import SearchOutcome, TrialResult, TrialSpec

from ._stage import stage


@task(name="load-table", task_run_name="load {config.dataset}")
def load_cluster_data(config: ClusterRunConfig) -> ClusterTable:
    """Read the table, keep the chosen restaurant's rows and the feature columns."""
    features = STUDY["features"] if config.preset == "study" else config.features or None
    table = load_cluster_table(config.dataset, get_settings().data_root, config.restaurant, features)
    check_rows(len(table.frame), config.max_clusters)
    return table


@task(name="preprocess", task_run_name="impute and standardise {table.name}")
def scale_table(table: ClusterTable, config: ClusterRunConfig, run: RunContext) -> ScaledTable:
    """Refuse O(n^2) algorithms on tables too large for memory, then impute and standardise all rows."""
    with stage("preprocess", run):
        check_size(len(table.frame), list(config.algorithms), get_settings().pairwise_memory_share)
        X = build_scaler().fit_transform(table.X)
    log_metrics(run.tracking_uri, run.run_id, {"n_rows": len(table.frame), "n_features": len(table.features)})
    return ScaledTable(np.asarray(X))


@task(name="plan-search", task_run_name="plan {config.search} clustering search")
def plan_clustering(data: ScaledTable, config: ClusterRunConfig) -> tuple[ClusteringObjective, list[TrialSpec]]:
    """The objective and the trials: the preset's one configuration, or every algorithm's space."""
    objective = ClusteringObjective(seed=config.seed)
    if config.preset == "study":
        return objective, [TrialSpec(0, "kmeans", dict(STUDY["params"]))]
    algorithms = list(config.algorithms)
    specs = plan_cluster_trials(algorithms, config.search, config.trials, config.seed, data.X, config.max_clusters)
    return objective, specs


@task(name="evaluate", task_run_name="present the best clusterings")
def present_clusters(
    table: ClusterTable, data: ScaledTable, objective: ClusteringObjective, outcome: SearchOutcome, run: RunContext
) -> tuple[Pipeline, TrialResult, dict[str, dict[str, Any]], dict[str, float] | None]:
    """Refit the winner as a predictor; plots and profiles of the best overall and per algorithm.

    Returns (model, best trial, best metrics per algorithm, the study's reference configuration).
    """
    best = best_clustering(outcome.results)
    per_algorithm: dict[str, dict[str, Any]] = {}
    with stage("evaluate", run):
        shown = {"best": best}
        for algorithm in dict.fromkeys(r.algorithm for r in outcome.results):
            try:
                shown[algorithm] = best_clustering(outcome.results, algorithm)
            except ZygardeError as exc:  # every trial of this algorithm was degenerate: say so, show the rest
                per_algorithm[algorithm] = {"usable": False, "reason": str(exc)}
        profiles = {key: _present(key, trial, table, data, objective, run) for key, trial in shown.items()}
        for key, trial in shown.items():
            if key != "best":
                per_algorithm[key] = {"usable": True, "params": trial.params, "metrics": trial.cv_mean}
        model = cluster_model(best, table, objective.seed).fit(table.X)
        reference = study_reference(table, objective.seed)
    board = cluster_leaderboard(outcome.results)
    log_metrics(
        run.tracking_uri,
        run.run_id,
        {
            **{f"best_{k}": v for k, v in best.cv_mean.items()},
            **({"reference_study_silhouette": reference["silhouette"]} if reference else {}),
        },
    )
    log_json(run.tracking_uri, run.run_id, board.to_dict(orient="records"), "leaderboard.json")
    log_json(
        run.tracking_uri,
        run.run_id,
        {"algorithm": best.algorithm, "params": best.params, "child_run_id": best.run_id, "metrics": best.cv_mean},
        "best.json",
    )
    create_table_artifact(
        key="cluster-leaderboard",
        table=board.round(4).to_dict(orient="records"),
        description="Usable clusterings by silhouette on all rows (degenerate results are logged, never listed)",
    )
    create_table_artifact(
        key="cluster-profile",
        table=profiles["best"].to_dict(orient="records"),
        description=f"Clusters of {best.algorithm} {best.params}: size, mean of each feature, example items",
    )
    return model, best, per_algorithm, reference


def _present(
    key: str,
    trial: TrialResult,
    table: ClusterTable,
    data: ScaledTable,
    objective: ClusteringObjective,
    run: RunContext,
) -> pd.DataFrame:
    """Plots and profile table of one trial's clustering, logged under ``clusters/<key>/``."""
    labels = np.asarray(build_clusterer(trial.algorithm, trial.params, objective.seed).fit_predict(data.X))
    params = ", ".join(f"{k}={v}" for k, v in sorted(trial.params.items()))
    title = f"{table.name}: {trial.algorithm} ({key})\n{params}"
    log_figure(run.tracking_uri, run.run_id, pca_scatter(data.X, labels, table.names, title), f"clusters/{key}/pca.png")
    log_figure(run.tracking_uri, run.run_id, silhouette_plot(data.X, labels, title), f"clusters/{key}/silhouette.png")
    profile = cluster_profile(table, labels)
    log_text(run.tracking_uri, run.run_id, profile.to_csv(index=False), f"clusters/{key}/profile.csv")
    return profile
