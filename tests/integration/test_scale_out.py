"""Point the flow at a real multi-process Dask cluster (scheduler + 2 workers started here) by address."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

from tests.helpers import free_port, stop_process, zygarde
from zygarde.tracking import get_client

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture
def external_cluster(prefect_api: str) -> Iterator[tuple[str, set[str]]]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1; stopped when the test ends."""
    address = f"tcp://127.0.0.1:{free_port()}"
    dask = [sys.executable, "-m", "dask"]
    # workers as a user starts them: no PREFECT_API_URL of their own; the flow's settings must reach them
    bare = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
            env=os.environ.copy(),
        )
    ]
    procs += [
        subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"], env=bare)
        for i in range(2)
    ]
    try:
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            workers = set(client.scheduler_info()["workers"])
        yield address, workers
    finally:
        for proc in reversed(procs):
            stop_process(proc)


def test_trials_run_on_the_external_workers_and_the_stages_report_to_the_flows_api(
    external_cluster: tuple[str, set[str]], tmp_path: Path
) -> None:
    address, workers = external_cluster
    env = {"ZYGARDE_DASK_ADDRESS": address, "ZYGARDE_WORK_DIR": str(tmp_path)}  # its own registry
    args = ["run", "diabetes", "--algorithms", "xgboost", "--trials", "4", "--cv", "3", "--experiment", "scale-out"]
    run = zygarde(*args, "--json", env=env)
    assert run.code == 0, run.output
    summary = json.loads(run.stdout)
    last = Path(summary["log_file"]).read_text().rstrip().splitlines()[-1]
    assert "done in" in last and "services stopped" in last, last  # nothing after it: no wait at exit
    tracking = get_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parent = tracking.get_run(summary["mlflow"]["parent_run_id"])
    children = tracking.search_runs(
        [summary["mlflow"]["experiment_id"]], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    ran_on = {c.data.tags["zygarde.worker"] for c in children}
    assert len(children) == 4 and ran_on <= workers and ran_on

    # the stages were recorded by the flow's own Prefect API, the trials ran on the external workers
    from prefect.client.orchestration import get_client as prefect_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_run_id = parent.data.tags["prefect.flow_run_id"]
    with prefect_client(sync_client=True) as prefect:
        tasks = prefect.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    names = {t.name.split(" ")[0]: t for t in tasks}
    assert {"search", "train", "evaluate", "register"} <= set(names), sorted(names)
    assert names["search"].state is not None and names["search"].state.is_completed()


def _nap(spec: object, data: object) -> tuple[dict[str, float], dict[str, float]]:
    """A trial that takes a second and no CPU: the cluster's size, not its cores, sets the pace."""
    import time

    time.sleep(1.0)
    return {"score": 1.0}, {}


def test_an_adaptive_cluster_grows_past_twice_its_start_because_the_window_follows_it(prefect_api: str) -> None:
    """The window is re-read as workers join: sized once from the first worker, adapt stalls at about 2x."""
    from zygarde.orchestration import local_cluster
    from zygarde.search.engine import DaskEngine
    from zygarde.search.samplers.fixed import FixedSampler
    from zygarde.search.trials import TrialSpec

    class Nap:
        metric, greater_is_better = "score", True
        __call__ = staticmethod(_nap)

    with local_cluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        cluster.adapt(minimum=1, maximum=4, interval="200ms", wait_count=50, target_duration="1s")
        with Client(cluster) as client:
            engine = DaskEngine(client)
            results = engine.run(Nap(), FixedSampler([TrialSpec(i, "nap", {}) for i in range(40)]), None)
            trims = client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")  # workers adapt added keep glibc's
            assert set(trims.values()) == {None}, trims  # adaptive allocator too (see local_cluster)
    assert len(results) == 40 and all(r.error is None for r in results)
    assert engine.capacity["search_workers_max"] == 4, engine.capacity
    assert len({r.worker for r in results}) == 4
    # worker-seconds: more than one worker's share of the wall, fewer than four workers for all of it
    assert 10 < engine.capacity["search_worker_seconds"] < 4 * 40


def _marked_trial(spec: object, folder: str) -> tuple[dict[str, float], dict[str, float]]:
    """A 1.5-s trial that leaves a file when it starts and another when it finishes (named by trial and pid)."""
    import time

    trial = spec.trial_id  # type: ignore[attr-defined]
    (Path(folder) / f"start-{trial}-{os.getpid()}").touch()
    time.sleep(1.5)
    (Path(folder) / f"done-{trial}-{os.getpid()}").touch()
    return {"score": float(trial)}, {}


def test_a_worker_killed_mid_search_loses_no_trial_and_repeats_no_finished_one(
    external_cluster: tuple[str, set[str]], tmp_path: Path
) -> None:
    import signal
    import threading

    from zygarde.search.engine import DaskEngine
    from zygarde.search.samplers.fixed import FixedSampler
    from zygarde.search.trials import TrialSpec

    class Marked:
        metric, greater_is_better = "score", True
        __call__ = staticmethod(_marked_trial)

    address, _ = external_cluster
    killed: list[int] = []

    def kill_a_busy_worker() -> None:  # the worker running trial 2, while it runs
        import time

        while not (busy := list(tmp_path.glob("start-2-*"))):
            time.sleep(0.05)
        killed.append(int(busy[0].name.rsplit("-", 1)[1]))
        time.sleep(0.3)
        os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    with Client(address) as client:
        results = DaskEngine(client).run(Marked(), FixedSampler([TrialSpec(i, "mark", {}) for i in range(8)]),
                                         str(tmp_path))  # fmt: skip
    killer.join(timeout=5)
    assert sorted(r.trial_id for r in results) == list(range(8)) and not any(r.error for r in results)
    finished = [p.name.split("-")[1] for p in tmp_path.glob("done-*")]
    assert sorted(finished, key=int) == [str(i) for i in range(8)]  # each finished exactly once
    started = [p.name.split("-")[1] for p in tmp_path.glob("start-*")]
    assert killed and not (tmp_path / f"done-2-{killed[0]}").exists()  # trial 2 was cut short there ...
    assert len(started) == 9 and started.count("2") == 2  # ... and ran again, once, on a live worker
