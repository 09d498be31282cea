"""Plan and search: the family's objective and sampler, then one Prefect task whose trials fan out as Dask futures."""

from __future__ import annotations

import time
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from zygarde.family import Family, Plan, Prepared
from zygarde.orchestration import cluster_on_this_host
from zygarde.search.checkpoints import remove as remove_checkpoints
from zygarde.search.engine import PROGRESS_TOPIC, DaskEngine
from zygarde.search.journal import Journal
from zygarde.search.trials import SearchOutcome, TrialResult, keep_best_predictions
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, finished_trials, log_metrics, log_tags

from ._stage import flow_cluster, stage


@task(name="plan-search", task_run_name="plan {family.config.search} search", cache_policy=NO_CACHE)
def plan_search(family: Family, prepared: Prepared[Any, Any]) -> Plan:
    """The objective and the sampler (grid, random, TPE, successive halving, auto) of the search."""
    return family.plan(prepared)


@task(
    name="search",
    task_run_name="search {plan.objective.metric} {plan.sampler.extent}",
    cache_policy=NO_CACHE,
    retries=1,  # a retry (or `zygarde run --resume`) continues the search: finished trials are not run again
)
def search(plan: Plan, data: Any, run: RunContext) -> SearchOutcome:
    """Score every trial the sampler asks for on the flow's Dask cluster, each an MLflow child run.

    The trials an earlier attempt of this run finished (its FINISHED child runs) are not run again; a TPE
    study, or successive halving's rung results, are kept in a journal file beside the run
    (``<work dir>/runs/<run id>/study.journal``), and the scores of every finished CV fold under ``folds/``
    there until the search ends (a trial the crash interrupted fits only the folds it had not finished).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    total, budget = plan.sampler.total, plan.sampler.budget_seconds  # a budget, not a count, may end it
    done: list[TrialResult] = []
    trial_logger = run.trial_logger(scored_on=plan.scored_on, cv_names=plan.cv_names)
    folder = get_settings().work_dir / "runs" / run.run_id
    plan.sampler.persist(Journal(folder / "study.journal"))
    # an interrupted trial keeps its finished folds: in the run's folder here, or on each remote worker's own disk
    checkpoints = str(folder / "folds") if cluster_on_this_host(get_settings()) else f"zygarde-runs/{run.run_id}"
    objective = plan.objective.with_checkpoints(checkpoints)
    finished = finished_trials(run.tracking_uri, run.experiment_id, run.run_id)
    if finished:
        logger.info("continuing: %d trials of this run were finished before", len(finished))
    with stage("search", run), flow_cluster() as client:
        objective.prepare_workers(client)

        def report(result: TrialResult) -> None:
            done.append(result)
            keep_best_predictions(done, result.algorithm, plan.objective.metric, plan.objective.greater_is_better)
            score = result.scores.get(plan.objective.metric)
            progress = {"done": len(done), "total": None if budget else total, "algorithm": result.algorithm,
                        "score": score, "budget_seconds": budget}  # fmt: skip
            client.log_event(PROGRESS_TOPIC, {**progress, "run": run.run_id})
            if budget is None and (len(done) % max(1, total // 10) == 0 or len(done) == total):
                logger.info("%d/%d trials done", len(done), total)
            elif budget is not None and len(done) % 10 == 0:
                logger.info("%d trials done (%s)", len(done), plan.sampler.extent)

        def note(text: str) -> None:  # a child run's write that waited or failed: one line on the terminal
            logger.warning("%s", text)
            client.log_event(PROGRESS_TOPIC, {"note": text, "run": run.run_id})

        engine = DaskEngine(client)
        results = engine.run(objective, plan.sampler, data, logger=trial_logger, on_result=report, completed=finished,
                             on_note=note)  # fmt: skip
        client.run(remove_checkpoints, checkpoints, on_error="ignore")  # every trial is in the store now; a worker
        # that died since keeps its folder (under its own local directory)
    remove_checkpoints(checkpoints)
    for trial_id, last in {r.trial_id: r for r in results}.items():  # a trial's last rung completes last
        ended = plan.sampler.outcome(trial_id)  # successive halving: where the trial's race ended
        if ended and last.run_id:
            log_tags(run.tracking_uri, last.run_id, {"zygarde.halving": ended})
    facts = {
        "search_cpu_seconds": sum(r.usage.get("cpu_seconds", 0.0) for r in results),  # the trials' own
        **engine.capacity,  # worker-seconds held: what an adaptive cluster saves
        **plan.sampler.report(),  # a time budget and its overshoot, rungs
    }
    outcome = SearchOutcome(results=results, wall_seconds=time.perf_counter() - started, facts=facts)
    metrics = {
        "n_trials": len(results),
        "n_trials_failed": outcome.n_failed,
        "search_wall_seconds": outcome.wall_seconds,
        **facts,
    }
    log_metrics(run.tracking_uri, run.run_id, {**metrics, "trial_fit_seconds": outcome.fit_seconds})
    rule = {"zygarde.selection_metric": plan.objective.metric,  # how `zygarde report` ranks the child runs
            "zygarde.greater_is_better": str(plan.objective.greater_is_better).lower(),
            "zygarde.metric_names": "cv" if plan.cv_names else "plain"}  # fmt: skip
    log_tags(run.tracking_uri, run.run_id, rule)
    return outcome
