"""The clustering flow: load -> validate -> standardise -> search (Dask futures) -> present -> register."""

from __future__ import annotations

import json

from prefect import flow

from zygarde.clustering import cluster_leaderboard, degenerate_reason
from zygarde.config import ClusterRunConfig
from zygarde.summary import ClusterSummary, finished
from zygarde.tasks.cluster import load_cluster_data, plan_clustering, present_clusters, scale_table
from zygarde.tasks.register import register_clusterer
from zygarde.tasks.search import search_trials
from zygarde.tasks.track import close_run, open_run
from zygarde.tasks.validate import validate_cluster

from .tabular import dask_task_runner

SCORED_ON = "all rows of the table (unsupervised)"


@flow(name="cluster", task_runner=dask_task_runner(), log_prints=True)
def cluster(config: ClusterRunConfig = ClusterRunConfig()) -> ClusterSummary:  # noqa: B008 (form default)
    """Find the best clustering of a table (default: the Burger King menu's nutrition).

    Steps: load and filter -> validate (great-expectations) -> impute and standardise -> search K-means,
    DBSCAN and Agglomerative configurations in parallel (one task; trials are Dask futures), scored by
    silhouette with degenerate results logged but never selected -> PCA scatter, silhouette plot and cluster
    profiles of the best per algorithm and overall -> register a predictor, moving `champion` only if better.
    """
    table = load_cluster_data(config)
    run = open_run(
        config,
        table.name,
        str(table.source),
        {"features_resolved": json.dumps(table.features), "dropped_columns": json.dumps(table.dropped)},
    )
    try:
        validate_cluster(table, config.max_clusters, run)
        data = scale_table(table, config, run)
        objective, specs = plan_clustering(data, config)
        logger = run.trial_logger(scored_on=SCORED_ON, cv_names=False)
        outcome = search_trials.submit(data, objective, specs, run, logger, len(specs)).result()
        model, best, per_algorithm, reference = present_clusters(table, data, objective, outcome, run)
        # silhouettes of different feature sets do not compare: the preset's model has a registry name of its own
        name = f"zygarde-{table.name}" + ("-study" if config.preset == "study" else "")
        registered = register_clusterer(model, table, best.cv_mean["silhouette"], name, run)
    except BaseException:
        close_run(run, "FAILED")
        raise
    close_run(run, "FINISHED")

    return ClusterSummary(
        dataset=table.name,
        restaurant=table.restaurant,
        n_rows=len(table.frame),
        features=table.features,
        dropped_columns=table.dropped,
        selection_metric=objective.metric,
        best_algorithm=best.algorithm,
        best_params=best.params,
        metrics=best.cv_mean,
        best_per_algorithm=per_algorithm,
        reference=reference,
        n_trials_degenerate=sum(r.error is None and degenerate_reason(r.cv_mean) is not None for r in outcome.results),
        leaderboard=cluster_leaderboard(outcome.results).to_dict(orient="records"),
        **finished(outcome, run, registered),
    )
