"""The stages every flow runs, over one ``Family``: each flow module is this call and its own typed form."""

from __future__ import annotations

from prefect_dask import DaskTaskRunner
from pydantic import BaseModel

from zygarde.family import Family
from zygarde.settings import get_settings
from zygarde.summary import finished
from zygarde.tasks.evaluate import evaluate, publish_outcome
from zygarde.tasks.preprocess import prepare
from zygarde.tasks.register import register_model
from zygarde.tasks.search import plan_search, search
from zygarde.tasks.track import closing_run, open_run
from zygarde.tasks.train import finalize
from zygarde.tasks.validate import load, validate


def train(family: Family) -> BaseModel:
    """load -> open the MLflow run -> validate -> prepare (search and evaluation views) -> plan -> search ->
    select and train the winner -> evaluate on the held-out view -> register and promote -> summary."""
    loaded = load(family)
    with closing_run(open_run(family, loaded)) as run:
        validate(family, loaded, run)
        prepared = prepare(family, loaded, run)
        plan = plan_search(family, prepared)
        # one Prefect task for the whole search, driven from this process: its trials run in parallel as Dask
        # futures on the task runner's cluster (the workers' cores and GIL are the trials' alone)
        outcome = search(plan, prepared.search, run)
        best, model = finalize(family, prepared.without_evaluation(), outcome, run)
        evaluation = evaluate(family, model, prepared, best, outcome, run)
        registered = register_model(family, model, prepared, run)
    publish_outcome(family, prepared, best, evaluation, registered, run)
    fields = family.summarize(loaded, prepared, best, evaluation, outcome.results)
    return family.summary_type(**fields, **finished(outcome, run, registered))


def dask_task_runner(address: str | None = None) -> DaskTaskRunner:
    """The flow's Dask cluster: ``address`` (or ZYGARDE_DASK_ADDRESS), else a LocalCluster of 1-thread workers."""
    settings = get_settings()
    address = address or settings.dask_address
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_class="zygarde.orchestration.local_cluster",  # a LocalCluster, glibc's allocator left adaptive
        cluster_kwargs={
            "n_workers": settings.dask_workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        },
    )
