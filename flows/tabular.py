"""The tabular training flow: validate -> split -> search (Dask futures) -> evaluate -> register."""

from __future__ import annotations

import json

from prefect import flow
from prefect_dask import DaskTaskRunner

from zygarde.config import TabularRunConfig
from zygarde.objectives import TrialData
from zygarde.settings import get_settings
from zygarde.summary import RunSummary, build_summary
from zygarde.tasks.evaluate import evaluate
from zygarde.tasks.preprocess import split_data
from zygarde.tasks.register import register
from zygarde.tasks.search import plan_search, search_trials
from zygarde.tasks.track import close_run, open_run
from zygarde.tasks.validate import load_table, validate


def dask_task_runner(address: str | None = None) -> DaskTaskRunner:
    """The flow's Dask cluster: ``address`` (or ZYGARDE_DASK_ADDRESS), else a LocalCluster of 1-thread workers."""
    settings = get_settings()
    address = address or settings.dask_address
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": settings.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        },
    )


@flow(name="train-tabular", task_runner=dask_task_runner(), log_prints=True)
def train_tabular(config: TabularRunConfig = TabularRunConfig()) -> RunSummary:  # noqa: B008 (form default)
    """Train the best model for a table.

    Steps: load -> validate (great-expectations) -> hold out a test split -> search every algorithm x
    configuration with K-fold CV (one task; trials are Dask futures) -> refit the best and score it on the
    test split -> register it in MLflow, moving `champion` only if it is better.
    """
    dataset = load_table(config)
    run = open_run(
        config,
        dataset.name,
        str(dataset.source),
        {"task_resolved": dataset.task, "dropped_columns": json.dumps(dataset.dropped)},
    )
    try:
        validate(dataset, config.cv, run)
        split = split_data(dataset, config, run)
        objective, specs = plan_search(dataset, split, config)
        # one Prefect task for the whole search: its trials run in parallel as Dask futures on this cluster
        data = TrialData(split.X_train, split.y_train)
        outcome = search_trials.submit(data, objective, specs, run, run.trial_logger(), len(specs)).result()
        model, best, test_metrics = evaluate(split, objective, outcome, run)
        registered = register(model, split, objective, test_metrics, f"zygarde-{dataset.name}", run)
    except BaseException:
        close_run(run, "FAILED")
        raise
    close_run(run, "FINISHED")
    return build_summary(dataset, objective, best, test_metrics, outcome, run, registered)
