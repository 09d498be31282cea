"""The stages every flow runs, over one ``Family``: each flow module is this call and its own typed form."""

from __future__ import annotations

from typing import Any

from prefect import Flow
from prefect_dask import DaskTaskRunner
from pydantic import BaseModel

from zygarde.family import Family
from zygarde.orchestration import local_cluster_options
from zygarde.settings import get_settings
from zygarde.summary import finished
from zygarde.tasks.evaluate import evaluate, publish_outcome
from zygarde.tasks.explain import explain
from zygarde.tasks.preprocess import prepare
from zygarde.tasks.register import register_model
from zygarde.tasks.search import plan_search, search
from zygarde.tasks.track import closing_run, open_run, training_slot
from zygarde.tasks.train import finalize
from zygarde.tasks.validate import load, validate


def train(family: Family) -> BaseModel:
    """load -> open the MLflow run -> validate -> prepare (search and evaluation views) -> plan -> search ->
    select and train the winner -> evaluate on the held-out view -> explain it -> register and promote -> summary."""
    loaded = load(family)
    with training_slot(family.identify(loaded).registry_name), closing_run(open_run(family, loaded)) as run:
        validate(family, loaded, run)
        prepared = prepare(family, loaded, run)
        plan = plan_search(family, prepared)
        # one Prefect task for the whole search, driven from this process: its trials run in parallel as Dask
        # futures on the task runner's cluster (the workers' cores and GIL are the trials' alone)
        outcome = search(plan, prepared.search, run)
        best, model = finalize(family, prepared.without_evaluation(), outcome, run)
        evaluation = evaluate(family, model, prepared, best, outcome, run)
        explanation = explain(family, model, prepared, best, outcome, run)
        registered = register_model(family, model, prepared, run)
    publish_outcome(family, prepared, best, evaluation, explanation, registered, run)
    fields = family.summarize(loaded, prepared, best, evaluation, outcome.results)
    return family.summary_type(**fields, **finished(outcome, run, registered))


def dask_task_runner(
    address: str | None = None, min_workers: int | None = None, max_workers: int | None = None
) -> DaskTaskRunner:
    """The flow's Dask cluster: ``address`` (or ZYGARDE_DASK_ADDRESS), else a LocalCluster of 1-thread workers,
    ``min_workers`` of them growing to ``max_workers`` with the load (Dask's adaptive scaling)."""
    settings = get_settings()
    address = address or settings.dask_address
    if address:
        return DaskTaskRunner(address=address)
    start = min_workers or settings.dask_workers
    adapt = {"minimum": start, "maximum": max_workers} if max_workers and max_workers > start else None
    return DaskTaskRunner(
        cluster_class="zygarde.orchestration.local_cluster",  # a LocalCluster, glibc's allocator left adaptive
        cluster_kwargs=local_cluster_options(settings, start),
        adapt_kwargs=adapt,
    )


def training_flow(kind: str) -> Flow[..., Any]:
    """The training flow of a family kind (``zygarde.families``), imported when asked for."""
    from zygarde.families import family_kind

    return family_kind(kind).training_flow()
