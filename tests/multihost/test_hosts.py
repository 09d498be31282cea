"""zygarde across hosts: network namespaces on a bridge of their own (``deploy/multihost/harness.py``), no shared
disk, every service on a host of its own, zygarde from a wheel. Skipped, saying why, only where this machine
cannot create namespaces."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import REPO, multihost_harness
from zygarde.memory import services_floor

pytestmark = [pytest.mark.slow, pytest.mark.multihost]


mh = multihost_harness()


@pytest.fixture(scope="module")
def hosts() -> Iterator[Any]:
    """The hosts up with their services; afterwards, nothing of them left (checked)."""
    reason = mh.can_create_namespaces()
    if reason:
        pytest.skip(f"multi-host tests not run: {reason}")
    harness = mh.up()
    try:
        yield harness
    finally:
        mh.down()
        assert mh.leftovers() == []


def _python(hosts: Any, host: str, code: str, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` with the hosts' python on ``host``; the JSON it prints last."""
    done = hosts.run(host, [str(mh.SOFTWARE / "venv" / "bin" / "python"), "-c", code], env)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


DRIVER_WORK = "/srv/driver-work"  # the driver's work dir, on the driver's own disk
ABOVE_FLOOR = f"{services_floor(2) // 2**20 + 64}MiB"  # 64 MiB for data: a table of 35 MiB in pandas is over it


def test_a_run_from_the_driver_trains_on_both_worker_hosts_through_the_servers(hosts: Any) -> None:
    run = hosts.run("driver", ["zygarde", "run", "diabetes", "--algorithms", "rf,xgboost", "--trials", "3", "--cv",
                               "3", "--json"], {"ZYGARDE_WORK_DIR": DRIVER_WORK})  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    parent = summary["mlflow"]["parent_run_id"]
    assert summary["mlflow"]["tracking_uri"] == mh.ENV["MLFLOW_TRACKING_URI"] and summary["n_trials"] == 6
    facts = _python(hosts, "driver", f"""
import json, mlflow, pandas as pd
from mlflow import MlflowClient
from prefect.client.orchestration import get_client
from zygarde.settings import get_settings
client = MlflowClient()
run = client.get_run({parent!r})
children = client.search_runs([run.info.experiment_id], "tags.mlflow.parentRunId = '{parent}'")
model = mlflow.pyfunc.load_model("models:/zygarde-diabetes@champion")
rows = pd.read_csv(get_settings().data_root / "diabetes.csv").drop(columns="Outcome").head(3).astype(float)
with get_client(sync_client=True) as prefect:
    flow_run = prefect.read_flow_run(run.data.tags["prefect.flow_run_id"])
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    tasks = prefect.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
print(json.dumps({{"workers": sorted({{c.data.tags["zygarde.worker"] for c in children}}),
    "uris": [run.info.artifact_uri] + [c.info.artifact_uri for c in children],
    "model_source": client.get_model_version_by_alias("zygarde-diabetes", "champion").source,
    "predicted": len(model.predict(rows)), "flow_state": flow_run.state.type.value,
    "tasks": sorted({{t.name.split()[0] for t in tasks if t.state.is_completed()}})}}))
""")  # fmt: skip
    assert {w.split("://")[1].split(":")[0] for w in facts["workers"]} == {mh.address("worker1"), mh.address("worker2")}
    assert all(uri.startswith("mlflow-artifacts:") for uri in facts["uris"]), facts["uris"]
    assert facts["model_source"].startswith(("mlflow-artifacts:", "models:/")) and facts["predicted"] == 3
    stages = {"load", "validate", "prepare", "search", "train", "evaluate", "explain", "register"}
    assert facts["flow_state"] == "COMPLETED" and stages <= set(facts["tasks"]), facts["tasks"]
    # no worker host can open the driver's paths: its work dir, the repository, the driver's temp dir
    for path in (DRIVER_WORK, str(REPO / "pyproject.toml")):
        assert hosts.run("worker1", ["test", "-e", path]).returncode == 1, path
    assert hosts.run("driver", ["test", "-d", DRIVER_WORK]).returncode == 0
    # the fold checkpoints lived on each worker's own disk, and went with the search
    for worker in ("worker1", "worker2"):
        left = hosts.run(worker, ["find", f"/srv/dask-{worker}", "-path", f"*zygarde-runs/{parent}*"])
        assert left.returncode == 0 and left.stdout == "", left.stdout


def test_a_worker_host_with_another_version_of_the_stack_is_one_error_naming_it(hosts: Any) -> None:
    """worker2 restarted with another PyYAML first on its path (zygarde pins pyyaml==6.0.4)."""
    overlay = mh.SOFTWARE / "overlay"
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(overlay),
                    "pyyaml==6.0.2"], check=True, capture_output=True)  # fmt: skip
    hosts.stop("worker2")
    hosts.start("worker2-other", "worker2", ["dask", "worker", mh.ENV["ZYGARDE_DASK_ADDRESS"], "--host",
                                             mh.address("worker2"), "--name", "worker2", "--nthreads", "1",
                                             "--no-dashboard"], {"PYTHONPATH": str(overlay)})  # fmt: skip
    try:
        scheduler = mh.ENV["ZYGARDE_DASK_ADDRESS"]
        _python(hosts, "driver", f"import json\nfrom distributed import Client\nc = Client({scheduler!r})\n"
                "c.wait_for_workers(2, timeout=60)\nprint(json.dumps(1))")  # fmt: skip
        run = hosts.run("driver", ["zygarde", "run", "diabetes", "--trials", "1"], {"ZYGARDE_WORK_DIR": DRIVER_WORK})
        output = run.stdout + run.stderr
        errors = [line for line in output.splitlines() if line.startswith("error:")]
        assert run.returncode == 1 and len(errors) == 1, output
        assert "worker2 on 10.77.0.22 has pyyaml 6.0.2, this host 6.0.4" in errors[0], output
        assert "Traceback" not in output
    finally:
        hosts.stop("worker2-other")
        mh.start_worker(hosts, "worker2")


def test_an_unreachable_scheduler_is_one_error_within_the_connect_timeout(hosts: Any) -> None:
    extra = {"ZYGARDE_WORK_DIR": DRIVER_WORK, "ZYGARDE_DASK_ADDRESS": f"tcp://{mh.address('spark-worker')}:8786",
             "ZYGARDE_DASK_CONNECT_TIMEOUT": "5"}  # fmt: skip
    run = hosts.run("driver", ["zygarde", "run", "diabetes", "--trials", "1"], extra, timeout=120)
    output = run.stdout + run.stderr
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert run.returncode == 1 and len(errors) == 1, output
    assert f"Could not reach the Dask scheduler at tcp://{mh.address('spark-worker')}:8786 within 5 s" in errors[0]


def _trials(hosts: Any, parent: str) -> list[dict[str, str]]:
    """The child runs of ``parent``: trial key and worker of each (asked from the driver)."""
    return _python(hosts, "driver", f"""
import json
from mlflow import MlflowClient
client = MlflowClient()
run = client.get_run({parent!r})
children = client.search_runs([run.info.experiment_id], "tags.mlflow.parentRunId = '{parent}'", max_results=1000)
print(json.dumps([{{"key": c.data.tags["zygarde.trial_key"], "worker": c.data.tags["zygarde.worker"]}}
                  for c in children]))
""")  # fmt: skip


CONNECT = f"""
import json, socket, time
started = time.perf_counter()
socket.create_connection(("dask-scheduler", {mh.PORTS["dask-scheduler"]}), 10).close()
print(json.dumps(time.perf_counter() - started))
"""


def test_a_run_completes_with_50_ms_on_every_link(hosts: Any) -> None:
    if not mh.can_delay():
        pytest.skip("this machine has neither netem (`tc qdisc ... netem`) nor iptables' NFQUEUE: no latency to add")
    mh.latency(hosts, 50)
    try:
        handshake = _python(hosts, "driver", CONNECT)  # SYN out of the driver, SYN-ACK out of the scheduler
        argv = ["zygarde", "run", "diabetes", "--algorithms", "xgboost", "--trials", "4", "--cv", "3", "--json"]
        run = hosts.run("driver", argv, {"ZYGARDE_WORK_DIR": DRIVER_WORK})
    finally:
        mh.latency(hosts, 0)
    assert handshake >= 0.095, handshake
    assert _python(hosts, "driver", CONNECT) < 0.05  # and none once removed
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["n_trials"] == 4 and summary["n_trials_failed"] == 0


def _search_under_way(hosts: Any, argv: list[str], done: str) -> Any:
    """``argv`` started on the driver in the background, returned once its log says ``done`` (e.g. 4/12 trials)."""
    import subprocess
    import time

    logs = mh.STATE / "disks" / "driver" / DRIVER_WORK.removeprefix("/srv/") / "logs"
    before = set(logs.glob("*.log")) if logs.exists() else set()
    env = hosts.environment("driver", {"ZYGARDE_WORK_DIR": DRIVER_WORK})
    run = subprocess.Popen(mh.host_argv("driver", argv), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and run.poll() is None:
        new = [p for p in logs.glob("*.log") if p not in before] if logs.exists() else []
        if new and done in new[0].read_text():
            return run
        time.sleep(0.5)
    run.kill()
    raise AssertionError(f"the search never reported {done!r}: {run.communicate()}")


def _finished_once(hosts: Any, out: str, trials: int) -> list[dict[str, str]]:
    """The run's summary says ``trials`` trials, and MLflow holds each of them once."""
    summary = json.loads(out.strip().splitlines()[-1])
    logged = _trials(hosts, summary["mlflow"]["parent_run_id"])
    assert summary["n_trials"] == trials and len(logged) == trials  # none lost
    assert len({t["key"] for t in logged}) == trials  # none logged twice
    return logged


ARGV = ["zygarde", "run", "diabetes", "--algorithms", "rf", "--trials", "12", "--cv", "3", "--json"]


def test_a_worker_host_cut_off_mid_search_loses_no_finished_trial(hosts: Any) -> None:
    """worker2's cable pulled once the search is under way: the scheduler gives it up after the harness's worker
    TTL, its trials rerun on worker1, and every trial is logged once."""
    run = _search_under_way(hosts, ARGV, "4/12 trials done")  # some on each worker host, by now
    try:
        mh.link("worker2", up=False)
        out, err = run.communicate(timeout=420)
    finally:
        mh.link("worker2", up=True)
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out[-3000:] + err[-5000:]
    logged = _finished_once(hosts, out, 12)
    assert {t["worker"].split("://")[1].split(":")[0] for t in logged} == {mh.address("worker1"), mh.address("worker2")}


def test_the_tracking_server_restarted_mid_search_loses_no_finished_trial(hosts: Any) -> None:
    run = _search_under_way(hosts, ARGV, "3/12 trials done")
    try:
        hosts.stop("mlflow")
        mh.start_mlflow(hosts)
        out, err = run.communicate(timeout=420)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out[-3000:] + err[-5000:]
    _finished_once(hosts, out, 12)
    said = [line for line in err.splitlines() if "did not answer" in line]  # the terminal: one line, no traceback
    assert len(said) == 1 and said[0].startswith(f"note: the tracking store {mh.ENV['MLFLOW_TRACKING_URI']} did not "
                                                 "answer for"), err[-3000:]  # fmt: skip
    assert "Traceback" not in err


@pytest.mark.timeout(900)  # a JVM per Dask worker and the flow's own, on 2 cores
def test_the_spark_engine_runs_its_trials_on_the_spark_worker_host(hosts: Any) -> None:
    """Each Dask worker's Spark driver advertises its worker's address to a ``spark://`` master on another host,
    whose worker host runs the executors: MLlib's trials, and xgboost.spark's barrier job."""
    if "spark-master" not in hosts.processes:
        mh.start_spark(hosts)
    argv = ["zygarde", "run", "diabetes", "--engine", "spark", "--algorithms", "rf,xgboost", "--trials", "1", "--cv",
            "2", "--json"]  # fmt: skip
    run = hosts.run("driver", argv, {"ZYGARDE_WORK_DIR": DRIVER_WORK}, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["n_trials"] == 2 and summary["n_trials_failed"] == 0
    # the executors ran on the Spark worker host, for the Spark drivers of both Dask workers (trials) and of the
    # flow's process (the refit), each registered from its own host's address
    applications = list((mh.STATE / "disks" / "spark-worker" / "spark-work").glob("app-*"))
    assert len(applications) >= 2, applications
    master_log = (mh.STATE / "logs" / "spark-master.log").read_text()
    drivers = {h for h in ("worker1", "worker2", "driver") if f"{mh.address(h)}:" in master_log}
    assert {"driver"} < drivers, drivers  # the refit's, and at least one trial's from a worker host


@pytest.mark.timeout(900)
def test_spark_reads_a_table_over_the_budget_itself_and_its_model_predicts_on_the_driver(hosts: Any) -> None:
    """``--engine spark`` on a Parquet table in the folder every host mounts: the Spark worker host's executors read
    and cache it; the registered Spark pipeline predicts on the driver through ``zygarde predict``."""
    if "spark-master" not in hosts.processes:
        mh.start_spark(hosts)
    table = f"{mh.SHARED}/big"
    _python(hosts, "driver", f"""
import json, pandas as pd
from pathlib import Path
from zygarde.synthetic import make_table
make_table(Path({table!r}), 400_000, 10, seed=3, rows_per_part=100_000)
pd.read_parquet({table!r} + "/part-00000.parquet").drop(columns="label").head(4).to_csv("/srv/rows.csv", index=False)
print(json.dumps({{}}))
""")  # fmt: skip
    space = "gbt: {maxIter: [8], maxDepth: [3], stepSize: [0.3]}\n"
    (mh.STATE / "disks" / "driver" / "space.yml").write_text(space)
    argv = ["zygarde", "run", "--data", table, "--target", "label", "--engine", "spark", "--algorithms", "gbt",
            "--search", "grid", "--space", "/srv/space.yml", "--memory-limit", ABOVE_FLOOR, "--json"]  # fmt: skip
    run = hosts.run("driver", argv, {"ZYGARDE_WORK_DIR": DRIVER_WORK}, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert f"Spark reads the table itself on {mh.ENV['ZYGARDE_SPARK_MASTER']}" in summary["out_of_core"]
    assert summary["n_trials"] == 1 and summary["n_trials_failed"] == 0 and summary["test_metrics"]["roc_auc"] > 0.7
    # the executors on the Spark worker host read the table: their task logs name its part files
    executor_logs = " ".join(p.read_text(errors="replace") for p in
                             (mh.STATE / "disks" / "spark-worker" / "spark-work").glob("app-*/*/stderr"))  # fmt: skip
    assert f"Reading File path: file://{table}/part-00000.parquet" in executor_logs, executor_logs[-2000:]
    predicted = hosts.run("driver", ["zygarde", "predict", summary["model"]["name"], "--input", "/srv/rows.csv",
                                     "--output", "/srv/predicted.csv"], {"ZYGARDE_WORK_DIR": DRIVER_WORK})  # fmt: skip
    assert predicted.returncode == 0, predicted.stdout[-3000:] + predicted.stderr[-3000:]
    rows = (mh.STATE / "disks" / "driver" / "predicted.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].endswith(",prediction,probability_0,probability_1"), rows


@pytest.mark.timeout(900)
def test_the_scaling_benchmark_runs_on_the_hosts_in_its_quick_mode(hosts: Any, capsys: pytest.CaptureFixture) -> None:
    """``benchmarks/multihost.py``'s measurement on this module's hosts (its quick mode: one run a layout), the
    usual two workers back afterwards. Last in the module: it restarts the Dask workers."""
    import importlib.util

    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("multihost_benchmark", REPO / "benchmarks" / "multihost.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rates = bench.scaling(hosts, [1, 2], trials=1, rounds=1, settle=2)
    bench.report(rates, [1, 2])
    shown = capsys.readouterr().out
    assert set(rates) >= {"1 host", "2 hosts", "2 workers on 1 host"} and all(r > 0 for r in rates.values())
    assert "efficiency at 2 hosts:" in shown and "2 hosts / 2 workers on 1 host" in shown, shown
    workers = [entry["host"] for entry in hosts.processes.values() if entry["argv"][:2] == ["dask", "worker"]]
    assert sorted(workers) == ["worker1", "worker2"]
