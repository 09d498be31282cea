"""Trials as child runs of the parent run: written by the workers or by one thread beside the search
(docs/decisions/0002-one-sqlite-writer.md), looked up by trial key so a resumed search writes none twice."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from mlflow.entities import Metric, Param, RunTag

from zygarde.search.trials import TrialResult, trial_key
from zygarde.tracking.store import get_client, now_ms, param_text

log = logging.getLogger(__name__)
SLOW_WRITE_SECONDS = 10.0  # a child run's write that took this long met a tracking store that did not answer


@dataclass(frozen=True)
class TrialLogger:
    """Picklable handle that logs a trial as a child run of the flow's parent run.

    ``writers``: how many threads beside the search write child runs as results complete (``writers_for``: one
    for a SQLite store, several for a tracking server).
    """

    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    writers: int = 1
    scored_on: str = "cv on training split"
    cv_names: bool = True  # cv_<metric>_mean/_std; False: the metric's own name (no folds, e.g. clustering)

    def log(self, result: TrialResult) -> str | None:
        """Create the child run with params, CV metrics, usage; returns its run id.

        MLflow's client retries a tracking server that does not answer (for about two minutes): a write that
        waited ``SLOW_WRITE_SECONDS`` or more says so in ``result.note``. An outage past the retries loses the
        child run, never the trial: it warns, notes it, and returns None, and the search goes on with the result
        in hand.
        """
        started = time.monotonic()
        try:
            run_id = self._log(result)
        except Exception as exc:  # MLflow, HTTP or SQLite errors alike: the result itself is safe
            log.warning("trial %s was not tracked (%s: %s)", result.trial_id, type(exc).__name__, exc)
            result.note = (f"the tracking store {self.tracking_uri} failed ({type(exc).__name__}); trial "
                           f"{result.trial_id} ran but has no child run")  # fmt: skip
            return None
        waited = time.monotonic() - started
        if waited >= SLOW_WRITE_SECONDS:
            result.note = (f"the tracking store {self.tracking_uri} did not answer for {waited:.0f} s; the trials "
                           "finished meanwhile were written when it came back")  # fmt: skip
        return run_id

    def _log(self, result: TrialResult) -> str:
        client = get_client(self.tracking_uri)
        key = trial_key(result.algorithm, result.trial_id, result.params)  # the trial, whatever its rung
        found = client.search_runs(  # a trial logged before a crash (or by a worker that then died): no twin
            [self.experiment_id],
            f"tags.mlflow.parentRunId = '{self.parent_run_id}' and tags.`zygarde.trial_key` = '{key}'",
            max_results=1,
        )
        logged_rung = int(found[0].data.tags.get("zygarde.rung", 0)) if found else -1
        if found and found[0].info.status in ("FINISHED", "FAILED") and logged_rung >= result.rung:
            return found[0].info.run_id
        # one left half-written (a crash between its creation and its end) is completed, with the same values;
        # a successive-halving rung above the one logged goes on in the same run, at the step of its budget
        run_id = found[0].info.run_id if found else client.create_run(
            self.experiment_id, run_name=f"{result.algorithm} #{result.trial_id}",
            tags={"mlflow.parentRunId": self.parent_run_id, "zygarde.trial_key": key}).info.run_id  # fmt: skip
        logged_steps = int(found[0].data.tags.get("zygarde.budget", 0)) if found and logged_rung < result.rung else 0
        stamp, step = now_ms(), result.budget or 0
        metrics = {
            **{f"cv_{k}_mean" if self.cv_names else k: v for k, v in result.scores.items()},
            **{f"cv_{k}_std": v for k, v in result.score_std.items()},
            **result.usage,
        }
        curves = [
            Metric(f"epoch_{name}", float(value), stamp, epoch)
            for name, values in result.curves.items()
            for epoch, value in enumerate(values)
            if epoch >= logged_steps  # the epochs of this rung (earlier rungs logged theirs)
        ]
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), stamp, step) for k, v in metrics.items()] + curves,
            params=[Param(k, param_text(v)) for k, v in result.params.items()],
            tags=[RunTag(k, v) for k, v in self._tags(result).items()],
        )
        client.set_terminated(run_id, status="FAILED" if result.error else "FINISHED")
        return run_id

    def _tags(self, result: TrialResult) -> dict[str, str]:
        return {
            "zygarde.params_json": json.dumps(result.params, sort_keys=True, default=str)[:5000],
            "zygarde.algorithm": result.algorithm,
            "zygarde.trial_id": str(result.trial_id),
            "zygarde.worker": result.worker,
            "zygarde.split": self.scored_on,
            "zygarde.rung": str(result.rung),
            **({"zygarde.budget": str(result.budget)} if result.budget is not None else {}),
            **({"zygarde.error": result.error[:5000]} if result.error else {}),
        }


def finished_trials(tracking_uri: str, experiment_id: str, parent_run_id: str) -> dict[str, TrialResult]:
    """The trials a run finished before (its FINISHED child runs), rebuilt as results, by trial key."""
    client = get_client(tracking_uri)
    runs = client.search_runs(
        [experiment_id],
        f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'FINISHED'",
        max_results=50_000,
    )
    done = {}
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        if "zygarde.trial_key" not in tags or "zygarde.params_json" not in tags:
            continue
        mean = {k[3:-5]: v for k, v in metrics.items() if k.startswith("cv_") and k.endswith("_mean")}
        std = {k[3:-4]: v for k, v in metrics.items() if k.startswith("cv_") and k.endswith("_std")}
        usage = {k: metrics[k] for k in ("wall_seconds", "cpu_seconds", "cpu_percent", "peak_rss_mb") if k in metrics}
        result = TrialResult(int(tags["zygarde.trial_id"]), tags["zygarde.algorithm"], json.loads(
            tags["zygarde.params_json"]), int(tags.get("zygarde.rung", 0)), scores=mean, score_std=std, usage=usage,
            worker=tags.get("zygarde.worker", ""), run_id=run.info.run_id)  # fmt: skip
        if not mean:  # metrics under their own names (no folds): every metric that is not a usage figure
            result.scores = {k: v for k, v in metrics.items() if k not in usage and not k.startswith("epoch_")}
        done[tags["zygarde.trial_key"]] = result
    return done


SERVER_WRITERS = 8  # child runs written at once to a tracking server: its round trips overlap


def writers_for(tracking_uri: str) -> int:
    """Threads that write child runs: one for a SQLite store, which takes one writer; ``SERVER_WRITERS`` for a
    tracking server (docs/decisions/0002-one-sqlite-writer.md)."""
    return 1 if tracking_uri.startswith("sqlite:") else SERVER_WRITERS
