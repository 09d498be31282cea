"""Where trials run. An ``Engine`` takes an objective, a sampler and the search view of the data, and returns
the scored trials; ``DaskEngine`` runs them as plain Dask futures (not Prefect tasks) in a bounded window, so a
search is one Prefect task that fans its trials out on the flow's cluster
(docs/decisions/0001-trials-are-dask-futures.md).
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from distributed import Client, as_completed, get_worker

from zygarde.errors import ZygardeError, option
from zygarde.resources import ResourceMeter
from zygarde.search.objective import Objective
from zygarde.search.samplers.base import Sampler
from zygarde.search.trials import TrialResult, TrialSpec

if TYPE_CHECKING:  # a worker that only runs trials never imports MLflow unless it logs them itself
    from zygarde.tracking import TrialLogger

log = logging.getLogger(__name__)
PROGRESS_TOPIC = "zygarde-progress"
MAX_ATTEMPTS = 3  # a trial whose input is lost with a worker runs again, up to this many more times


class Engine(Protocol):
    """Runs the trials a sampler hands out, in parallel, and returns their results in completion order."""

    def run(
        self,
        objective: Objective,
        sampler: Sampler,
        data: Any,
        *,
        logger: TrialLogger | None = None,
        on_result: Callable[[TrialResult], None] | None = None,
        completed: dict[str, TrialResult] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> list[TrialResult]:
        """Score what ``sampler`` asks for until it is finished (``completed``: trials an earlier attempt
        finished, by trial key, for the sampler to ``restore``); results in completion order. ``on_note``: what
        happened to the tracking of a trial (a store that did not answer for a while), as it happens."""
        ...


def execute_trial(objective: Objective, spec: TrialSpec, data: Any) -> TrialResult:
    """Run one trial where it lands (a Dask worker) and measure it."""
    return _measured(lambda: objective(spec, data), spec)


def execute_rung(
    objective: Objective, spec: TrialSpec, data: Any, previous: tuple[Any, Any] | None
) -> tuple[TrialResult, Any]:
    """One rung of a trial (``objective.grow``): its result, and the state the next rung continues from
    (``previous``: what the trial's last rung returned; None to start from scratch)."""
    kept: list[Any] = [None]

    def rung() -> tuple[Any, ...]:
        *scored, kept[0] = objective.grow(spec, data, previous[1] if previous is not None else None)
        return tuple(scored)

    return _measured(rung, spec), kept[0]


def first(pair: tuple[Any, Any]) -> Any:
    """The first of a pair (a rung's result, leaving its state where it was computed)."""
    return pair[0]


def _measured(score: Callable[[], tuple[Any, ...]], spec: TrialSpec) -> TrialResult:
    result = TrialResult.of(spec, worker=_worker_address())
    meter = ResourceMeter()
    try:
        with meter:
            scored = score()
        result.scores, result.score_std = scored[0], scored[1]
        if len(scored) > 2:
            result.curves = scored[2]
        if len(scored) > 3:
            result.predictions = scored[3]
    except Exception as exc:  # a bad configuration fails its trial, not the search
        result.error = f"{type(exc).__name__}: {exc}"
        log.debug("trial %s failed:\n%s", spec.trial_id, traceback.format_exc())
    result.usage = meter.usage.as_metrics()
    return result


def _worker_address() -> str:
    try:
        return get_worker().address
    except ValueError:
        return "local"


class WorkerCapacity:
    """The cluster's worker threads now, and the worker-seconds it has held since it was created (sampled when
    asked, at most once a second: what an adaptive cluster saves shows here)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.started = self._stamp = time.monotonic()
        self._threads = sum(client.nthreads().values()) or 1
        self._workers = len(client.nthreads())
        self.worker_seconds = 0.0
        self.most_workers = self._workers

    def threads(self) -> int:
        """Worker threads in the cluster (re-read from the scheduler at most once a second)."""
        now = time.monotonic()
        if now - self._stamp >= 1.0:
            self.worker_seconds += self._workers * (now - self._stamp)
            self._stamp = now
            nthreads = self.client.nthreads()
            self._threads, self._workers = sum(nthreads.values()) or 1, len(nthreads)
            self.most_workers = max(self.most_workers, self._workers)
        return self._threads

    def close(self) -> dict[str, float]:
        """Worker-seconds held and the most workers seen, up to now."""
        self.threads()
        self.worker_seconds += self._workers * (time.monotonic() - self._stamp)
        self._stamp = time.monotonic()
        return {"search_worker_seconds": self.worker_seconds, "search_workers_max": float(self.most_workers)}


class DaskEngine:
    """Trials as Dask futures on ``client``'s cluster, at most ``max_in_flight`` queued at a time.

    The search view is scattered once to every worker (a worker that joins later fetches it on first use).
    The window (default: 2 per worker thread, re-read as an adaptive cluster grows or shrinks) keeps the
    scheduler fed without flooding it, and lets an adaptive sampler see results before it asks again. Each
    trial becomes a child run, written here as results complete while the workers go on computing: by one thread
    for a SQLite store (it takes one writer), by ``logger.writers`` threads for a tracking server, whose round
    trips then cost no worker any time (docs/decisions/0002-one-sqlite-writer.md).
    """

    def __init__(self, client: Client, max_in_flight: int | None = None) -> None:
        self.client = client
        self.max_in_flight = max_in_flight
        self.capacity: dict[str, float] = {}  # after a run: the worker-seconds it held, the most workers

    def run(
        self,
        objective: Objective,
        sampler: Sampler,
        data: Any,
        *,
        logger: TrialLogger | None = None,
        on_result: Callable[[TrialResult], None] | None = None,
        completed: dict[str, TrialResult] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> list[TrialResult]:
        """Score what ``sampler`` asks for until it is finished; results in completion order.

        ``completed``: trials an earlier attempt of this search finished (by trial key); those the sampler
        ``restore``s are not handed out again, and their results come first.
        """
        client = self.client
        restored = sampler.restore(completed or {})
        for result in restored:
            if result.run_id is None and logger is not None:  # told to the journal, not yet tracked: now
                result.run_id = logger.log(result)
            if on_result is not None:
                on_result(result)
        capacity = WorkerCapacity(client)
        shared = [client.scatter(data, broadcast=True, hash=False)]
        running = as_completed(loop=client.loop)  # not the default client: the task runner's is not one
        token = uuid.uuid4().hex[:8]
        specs: dict[str, tuple[TrialSpec, int]] = {}  # future key -> (its trial, its attempt)
        states: dict[int, Any] = {}  # trial id -> the future holding its last rung's (result, state), on its worker
        # (dropped when the sampler releases the trial: its worker frees the models then, not at the search's end)

        def submit(spec: TrialSpec, attempt: int = 0) -> None:
            key = f"trial-{spec.algorithm}-{spec.trial_id}-{spec.rung}-{token}" + (f"-{attempt}" if attempt else "")
            if spec.budget is not None:  # a rung: continue from the trial's state (lost: from scratch)
                previous = states.pop(spec.trial_id, None) if not attempt else None
                held = client.submit(execute_rung, objective, spec, shared[0], previous, pure=False,
                                     key=f"{key}-state")  # fmt: skip
                states[spec.trial_id] = held
                future = client.submit(first, held, pure=False, key=key)  # only the result travels here
            else:
                future = client.submit(execute_trial, objective, spec, shared[0], pure=False, key=key)
            running.add(future)
            specs[key] = (spec, attempt)

        def fill() -> None:
            # re-read: an adaptive cluster grows. Under a time budget, none queued behind a running trial: at the
            # deadline only the running ones go on (a queued one would start after it and run whole)
            window = self.max_in_flight or (1 if sampler.budget_seconds else 2) * capacity.threads()
            while running.count() < window:
                spec = sampler.ask()
                if spec is None:
                    return
                submit(spec)

        fill()
        if running.is_empty() and restored:
            self.capacity = capacity.close()
            return restored  # every trial was finished before
        if running.is_empty():
            raise ZygardeError(
                "The search has no trials to run; check "
                f"{option('algorithms')}, {option('search')} and {option('space')}."
            )
        results: list[TrialResult] = list(restored)

        def log_one(result: TrialResult) -> str | None:
            assert logger is not None
            run_id = logger.log(result)
            if result.note and on_note is not None:
                on_note(result.note)
            return run_id

        # each trial's child runs by one writer, in order (a successive-halving trial's rungs go on in one run)
        writers = [ThreadPoolExecutor(1, thread_name_prefix="zygarde-trial-log") for _ in range(logger.writers)] \
            if logger is not None else []  # fmt: skip
        try:
            logged: list[Future[str | None]] = []
            for future in running:
                spec, attempt = specs.pop(future.key)
                try:
                    result = future.result()
                except CancelledError:
                    # its input died with a worker: Dask's memory manager keeps one replica of the scattered
                    # search view, and it can be on the worker that died. Scatter it again and rerun the trial.
                    if attempt >= MAX_ATTEMPTS:
                        raise ZygardeError(f"Trial {spec.trial_id} lost its workers {attempt + 1} times.") from None
                    log.warning("trial %s lost its input with a worker; running it again", spec.trial_id)
                    if shared[0].status != "finished":
                        shared[0] = client.scatter(data, broadcast=True, hash=False)
                    submit(spec, attempt + 1)
                    continue
                results.append(result)
                sampler.tell(result)
                for trial_id in sampler.released():  # no rung will continue them: free them
                    states.pop(trial_id, None)
                if writers:
                    logged.append(writers[result.trial_id % len(writers)].submit(log_one, result))
                if on_result is not None:
                    on_result(result)
                fill()
            for result, run_id in zip(results[len(restored) :] if writers else [], logged, strict=True):
                result.run_id = run_id.result()
        finally:
            for writer in writers:
                writer.shutdown(wait=True)
        self.capacity = capacity.close()
        return results
