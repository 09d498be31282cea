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
    """Anything that scores a trial on data: (mean, std) of its metrics by name, optionally per-epoch curves."""

    metric: str
    greater_is_better: bool

    def __call__(self, spec: TrialSpec, data: Any) -> tuple[dict[str, float], ...]: ...


def execute_trial(objective: Objective, spec: TrialSpec, data: Any, logger: TrialLogger | None) -> TrialResult:
    """Run one trial where it lands (a Dask worker), measure it, and log it as a child run if given a logger."""
    result = TrialResult(trial_id=spec.trial_id, algorithm=spec.algorithm, params=spec.params, worker=_worker_address())
    monitor = ResourceMonitor()
    try:
        with monitor:
            scored = objective(spec, data)
        result.cv_mean, result.cv_std = scored[0], scored[1]
        if len(scored) > 2:
            result.curves = scored[2]
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


def successive_halving(
    client: Client,
    objective: Objective,
    specs: list[TrialSpec],
    data: Any,
    budgets: list[int],
    *,
    budget_key: str = "epochs",
    eta: int = 3,
    logger: TrialLogger | None = None,
    on_result: Callable[[TrialResult], None] | None = None,
) -> list[TrialResult]:
    """Race configurations on growing budgets: all at ``budgets[0]``, the best 1/``eta`` at the next, ...

    Each rung is one parallel ``run_trials``; a promoted configuration is trained again from scratch
    on its larger budget (as sklearn's successive halving does), so rungs share no state.
    """
    if not budgets or any(b < 1 for b in budgets):
        raise ZygardeError(f"Successive halving needs budgets of at least 1, got {budgets}.")
    results: list[TrialResult] = []
    alive = specs
    for rung, budget in enumerate(budgets):
        rung_specs = [
            TrialSpec(len(results) + i, spec.algorithm, {**spec.params, budget_key: budget, "rung": rung})
            for i, spec in enumerate(alive)
        ]
        scored = run_trials(client, objective, rung_specs, data, logger=logger, on_result=on_result)
        results.extend(scored)
        ranked = sorted(
            (r for r in scored if r.error is None and objective.metric in r.cv_mean),
            key=lambda r: (r.cv_mean[objective.metric] * (1 if objective.greater_is_better else -1), -r.trial_id),
            reverse=True,
        )
        keep = max(1, len(ranked) // eta)
        alive = [TrialSpec(r.trial_id, r.algorithm, _without(r.params, budget_key, "rung")) for r in ranked[:keep]]
        if not alive:
            break
    return results


def halving_trials(n_configs: int, rungs: int, eta: int = 3) -> int:
    """How many trials successive halving runs for ``n_configs`` over ``rungs`` budgets (all succeeding)."""
    total, alive = 0, n_configs
    for _ in range(rungs):
        total += alive
        alive = max(1, alive // eta)
    return total


def _without(params: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in keys}


def run_on_workers(client: Client, function: Callable[..., Any], processes: int, data: Any, *args: Any) -> list[Any]:
    """Run ``function(rank, world, init_method, data, *args)`` on each of ``processes`` distinct workers at once;
    ``data`` is scattered to them once.

    For ``torch.distributed``: ``init_method`` is a TCP rendezvous on rank 0's host, on a port free there.
    Fewer workers than ``processes`` -> as many ranks as there are workers.
    """
    workers = list(client.scheduler_info()["workers"])[:processes]
    if not workers:
        raise ZygardeError("The Dask cluster has no workers to train on.")
    host = workers[0].split("://")[-1].rsplit(":", 1)[0]
    port = client.run(_free_port, workers=[workers[0]])[workers[0]]
    init_method = f"tcp://{host}:{port}"
    shared = client.scatter(data, broadcast=True, hash=False)
    futures = [
        client.submit(function, rank, len(workers), init_method, shared, *args, workers=[w], pure=False)
        for rank, w in enumerate(workers)
    ]
    return client.gather(futures)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])
