"""The search engine: trials fan out as plain Dask futures (not Prefect tasks) with a bounded window."""

from __future__ import annotations

import logging
import traceback
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from distributed import Client, as_completed, get_worker

from zygarde.errors import ZygardeError
from zygarde.monitoring import ResourceMonitor
from zygarde.tracking import TrialLogger
from zygarde.trials import TrialResult, TrialSpec

log = logging.getLogger(__name__)
PROGRESS_TOPIC = "zygarde-progress"


class Objective(Protocol):
    """Anything that scores a trial on data: returns (mean, std) of its metrics by name."""

    metric: str
    greater_is_better: bool

    def __call__(self, spec: TrialSpec, data: Any) -> tuple[dict[str, float], dict[str, float]]: ...


def execute_trial(objective: Objective, spec: TrialSpec, data: Any, logger: TrialLogger | None) -> TrialResult:
    """Run one trial where it lands (a Dask worker), measure it, and log it as a child run if given a logger."""
    result = TrialResult(trial_id=spec.trial_id, algorithm=spec.algorithm, params=spec.params, worker=_worker_address())
    monitor = ResourceMonitor()
    try:
        with monitor:
            result.cv_mean, result.cv_std = objective(spec, data)
    except Exception as exc:  # a bad configuration fails its trial, not the search
        result.error = f"{type(exc).__name__}: {exc}"
        log.debug("trial %s failed:\n%s", spec.trial_id, traceback.format_exc())
    result.usage = monitor.usage.as_metrics()
    if logger is not None:
        result.run_id = logger.log(result)
    return result


def _worker_address() -> str:
    try:
        return get_worker().address
    except ValueError:
        return "local"


def run_trials(
    client: Client,
    objective: Objective,
    specs: list[TrialSpec],
    data: Any,
    *,
    logger: TrialLogger | None = None,
    on_result: Callable[[TrialResult], None] | None = None,
    max_in_flight: int | None = None,
) -> list[TrialResult]:
    """Score every spec on the cluster; returns results in completion order.

    Data is scattered once to every worker. At most ``max_in_flight`` trials are queued at a time
    (default: 2 per worker thread), so a long random search does not flood the scheduler. Each trial
    becomes a child run: logged by its worker (``logger.from_workers``), or by one thread here that drains
    results as they complete while the workers go on computing.
    """
    if not specs:
        raise ZygardeError("The search has no trials to run; check --algorithms, --search and --space.")
    threads = sum(client.nthreads().values()) or 1
    window = max_in_flight or 2 * threads
    shared = client.scatter(data, broadcast=True, hash=False)
    pending: Iterator[TrialSpec] = iter(specs)
    running = as_completed()
    token = uuid.uuid4().hex[:8]
    drain = logger is not None and not logger.from_workers
    worker_logger = None if drain else logger

    def submit_next() -> None:
        spec = next(pending, None)
        if spec is not None:
            running.add(
                client.submit(
                    execute_trial,
                    objective,
                    spec,
                    shared,
                    worker_logger,
                    pure=False,
                    key=f"trial-{spec.algorithm}-{spec.trial_id}-{token}",
                )
            )

    for _ in range(window):
        submit_next()
    results: list[TrialResult] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zygarde-trial-log") as writer:
        logged: list[Future[str]] = []
        for future in running:
            result = future.result()
            results.append(result)
            if drain and logger is not None:
                logged.append(writer.submit(logger.log, result))
            if on_result is not None:
                on_result(result)
            submit_next()
        for result, run_id in zip(results if drain else [], logged, strict=True):
            result.run_id = run_id.result()
    return results


def best_result(results: list[TrialResult], metric: str, greater_is_better: bool) -> TrialResult:
    """The successful trial with the best CV mean of ``metric``; all failed -> error with the first reason."""
    scored = [r for r in results if r.error is None and metric in r.cv_mean]
    if not scored:
        reason = next((r.error for r in results if r.error), "no trial reported the metric")
        raise ZygardeError(f"Every trial failed ({len(results)} tried); first error: {reason}")
    sign = 1 if greater_is_better else -1
    return max(scored, key=lambda r: (sign * r.cv_mean[metric], -r.trial_id))
