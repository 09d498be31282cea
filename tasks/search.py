"""Stage 3: the hyperparameter search, one Prefect task whose trials fan out as Dask futures."""

from __future__ import annotations

import time
from typing import Any

from distributed import worker_client
from prefect import get_run_logger, task

from zygarde.config import TabularRunConfig
from zygarde.datasets import TabularDataset
from zygarde.objectives import CrossValidationObjective
from zygarde.preprocess import HoldoutSplit
from zygarde.search import PROGRESS_TOPIC, Objective, run_trials, successive_halving
from zygarde.tracking import RunContext, TrialLogger, log_metrics
from zygarde.trials import SearchOutcome, TrialResult, TrialSpec, plan_trials

from ._stage import stage


@task(name="search", task_run_name="search {objective.metric} over {n_trials} trials")
def search_trials(
    data: Any,
    objective: Objective,
    specs: list[TrialSpec],
    run: RunContext,
    trial_logger: TrialLogger,
    n_trials: int,
    budgets: list[int] | None = None,
) -> SearchOutcome:
    """Score every trial on the flow's Dask cluster, each an MLflow child run; ``data`` is scattered once.

    With ``budgets`` (epochs), the configurations race by successive halving instead of all running once.
    """
    logger = get_run_logger()
    started = time.perf_counter()
    with stage("search", run), worker_client() as client:  # secedes, so this task's worker slot runs trials too

        def report(result: TrialResult) -> None:
            done = len(results_so_far) + 1
            results_so_far.append(result)
            client.log_event(
                PROGRESS_TOPIC,
                {
                    "done": done,
                    "total": n_trials,
                    "algorithm": result.algorithm,
                    "score": result.cv_mean.get(objective.metric),
                    "run": run.run_id,
                },
            )
            if done % max(1, n_trials // 10) == 0 or done == n_trials:
                logger.info("%d/%d trials done", done, n_trials)

        results_so_far: list[TrialResult] = []
        if budgets:
            results = successive_halving(client, objective, specs, data, budgets, logger=trial_logger, on_result=report)
        else:
            results = run_trials(client, objective, specs, data, logger=trial_logger, on_result=report)
    outcome = SearchOutcome(results=results, wall_seconds=time.perf_counter() - started)
    failed = sum(r.error is not None for r in results)
    log_metrics(
        run.tracking_uri,
        run.run_id,
        {
            "n_trials": len(results),
            "n_trials_failed": failed,
            "search_wall_seconds": outcome.wall_seconds,
            "trial_fit_seconds": outcome.fit_seconds,
        },
    )
    return outcome


@task(name="plan-search", task_run_name="plan {config.search} search")
def plan_search(
    dataset: TabularDataset, split: HoldoutSplit, config: TabularRunConfig
) -> tuple[CrossValidationObjective, list[TrialSpec]]:
    """The objective (K-fold CV of the pipeline) and the trial list from the algorithms' spaces."""
    objective = CrossValidationObjective(
        task=dataset.task,
        n_classes=len(split.classes),
        cv=config.cv,
        seed=config.seed,
        zero_as_missing=dataset.zero_as_missing,
    )
    specs = plan_trials(list(config.algorithms), config.search, config.trials, config.seed, config.space)
    return objective, specs
