"""Stage 3: the hyperparameter search, one Prefect task whose trials fan out as Dask futures."""

from __future__ import annotations

import time

from distributed import worker_client
from prefect import get_run_logger, task

from zygarde.config import TabularRunConfig
from zygarde.datasets import TabularDataset
from zygarde.objectives import CrossValidationObjective, TrialData
from zygarde.preprocess import HoldoutSplit
from zygarde.search import PROGRESS_TOPIC, run_trials
from zygarde.tracking import RunContext, log_metrics
from zygarde.trials import SearchOutcome, TrialResult, TrialSpec, plan_trials

from ._stage import stage


@task(name="search", task_run_name="search {objective.metric} over {n_trials} trials")
def search_trials(
    split: HoldoutSplit, objective: CrossValidationObjective, specs: list[TrialSpec], run: RunContext, n_trials: int
) -> SearchOutcome:
    """Score every trial on the flow's Dask cluster; each trial is an MLflow child run, logged by its worker."""
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
        results = run_trials(
            client,
            objective,
            specs,
            TrialData(split.X_train, split.y_train),
            logger=run.trial_logger(),
            on_result=report,
        )
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
