"""Explain: why the champion predicts what it does, on a sample of the evaluation view, within a time budget;
logged under ``explain/`` on the parent run (JSON and PNG)."""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from zygarde.explain import Explanation
from zygarde.family import Family, Prepared
from zygarde.search.trials import SearchOutcome, TrialResult
from zygarde.tracking import RunContext, log_json, log_outputs

from ._stage import stage


@task(name="explain", task_run_name="explain the winner", cache_policy=NO_CACHE)
def explain(
    family: Family, model: Any, prepared: Prepared[Any, Any], best: TrialResult, outcome: SearchOutcome, run: RunContext
) -> Explanation:
    """The family's explanation of the final model; each step's note in the flow's log."""
    with stage("explain", run):  # its figures drawn and logged included: what explanations add to a run
        explanation = family.explain(model, prepared, best, outcome.results)
        log_outputs(run.tracking_uri, run.run_id, explanation.figures, explanation.json)
        log_json(run.tracking_uri, run.run_id, explanation.summary(), "explain/summary.json")
    logger = get_run_logger()
    for note in explanation.notes:
        logger.info("explain: %s", note)
    explanation.figures = {}  # closed once logged
    return explanation
