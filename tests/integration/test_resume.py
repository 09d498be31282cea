"""A search killed mid-way (`kill -9` of the CLI's whole process tree) and continued with `--resume RUN_ID`:
the trials finished before the kill are kept and not run again, the ones it interrupted run once, and the run
ends with as many child runs as an uninterrupted one, one per trial key, in the same parent run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import zygarde

pytestmark = [pytest.mark.slow, pytest.mark.integration]

TPE = ["run", "diabetes", "--search", "tpe", "--algorithms", "rf", "--trials", "10", "--cv", "3"]
# every family by ECI, each its own TPE study; the budget goes on from where the kill left it
AUTO = ["run", "diabetes", "--algorithms", "auto", "--time-budget", "20s", "--cv", "3"]


def _finished_children(db: Path) -> list[object]:
    from mlflow import MlflowClient

    try:
        runs = MlflowClient(f"sqlite:///{db}").search_runs(["1"], "attributes.status = 'FINISHED'", max_results=500)
    except Exception:  # the store is still being created by the run
        return []
    return [r for r in runs if "mlflow.parentRunId" in r.data.tags]


@pytest.mark.parametrize("args", [TPE, AUTO], ids=["tpe", "auto"])
def test_a_killed_search_resumes_without_repeating_or_duplicating_trials(tmp_path: Path, args: list[str]) -> None:
    env = {**os.environ, "ZYGARDE_WORK_DIR": str(tmp_path), "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)  # a run of its own, as a user starts it
    script = str(Path(sys.executable).with_name("zygarde"))
    first = subprocess.Popen([script, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)  # fmt: skip
    db = tmp_path / "mlflow.db"
    try:
        deadline = time.monotonic() + 240
        while len(before := _finished_children(db)) < 3:
            assert time.monotonic() < deadline and first.poll() is None, "the search never got going"
            time.sleep(0.3)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the CLI, its Prefect API and its Dask workers, at once
        first.wait()
    parent = before[0].data.tags["mlflow.parentRunId"]
    kept = {r.data.tags["zygarde.trial_key"]: r.info.run_id for r in before}
    folds = tmp_path / "runs" / parent / "folds"
    assert len(list(folds.glob("*.json"))) >= 3 * len(before)  # every finished fold kept (until the search ends)

    resumed = zygarde(*args, "--resume", parent, "--json", env={"ZYGARDE_WORK_DIR": str(tmp_path)})
    assert resumed.code == 0, resumed.output
    summary = json.loads(resumed.stdout)
    trials = 10 if args is TPE else summary["n_trials"]  # auto: what the budget allowed
    assert summary["mlflow"]["parent_run_id"] == parent and summary["n_trials"] == trials
    children = _finished_children(db)
    keys = [r.data.tags["zygarde.trial_key"] for r in children]
    assert len(children) == trials == len(set(keys))  # as many as the search counts: no twin, none lost
    assert all(kept[k] == run for k, run in ((r.data.tags["zygarde.trial_key"], r.info.run_id)
                                               for r in children) if k in kept)  # fmt: skip
    assert set(kept) <= set(keys)  # every trial finished before the kill is kept, not run again
    assert not folds.exists()  # the search ended: its trials are in the store, the fold checkpoints gone
    if args is AUTO:  # a journal per family, and the budget's clock
        kept_files = {p.name for p in (tmp_path / "runs" / parent).iterdir()}
        assert {"study.journal.linear", "study.journal.rf", "study.journal.clock"} <= kept_files, kept_files
    from mlflow import MlflowClient

    assert MlflowClient(f"sqlite:///{db}").get_run(parent).info.status == "FINISHED"


def test_resuming_with_other_search_parameters_is_refused_naming_them(tmp_path: Path) -> None:
    done = zygarde("run", "diabetes", "--algorithms", "rf", "--trials", "1", "--cv", "2", "--json",
                   env={"ZYGARDE_WORK_DIR": str(tmp_path)})  # fmt: skip
    parent = json.loads(done.stdout)["mlflow"]["parent_run_id"]
    other = zygarde("run", "diabetes", "--algorithms", "rf", "--trials", "2", "--cv", "2", "--resume", parent,
                    env={"ZYGARDE_WORK_DIR": str(tmp_path)})  # fmt: skip
    assert other.code == 1 and f"--resume: run {parent} searched differently: trials was 1, now 2" in " ".join(
        other.output.split()
    ), other.output


def test_resuming_a_run_that_does_not_exist_fails_before_any_service_starts(tmp_path: Path) -> None:
    """It took the services' start (41 s here) to say so: now the input check names it, and no run log (made as
    the services start) is written."""
    from tests.helpers import assert_one_clear_error

    run = zygarde("run", "diabetes", "--resume", "0123456789abcdef", env={"ZYGARDE_WORK_DIR": str(tmp_path)})
    assert_one_clear_error(run, "--resume: no run 0123456789abcdef: there is no MLflow store at")
    assert "full log" not in run.output and not list(tmp_path.glob("**/*.log")), run.output
    assert not (tmp_path / "mlflow.db").exists() and "INFO" not in run.output  # no store made to say so
