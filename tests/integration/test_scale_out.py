"""Point the flow at a real multi-process Dask cluster (scheduler + 2 workers started here) by address."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client
from typer.testing import CliRunner

from zygarde.cli import app
from zygarde.settings import get_settings
from zygarde.tracking import get_client

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def external_cluster(prefect_api: str) -> Iterator[tuple[str, set[str]]]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1; stopped when the test ends."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    dask = [sys.executable, "-m", "dask"]
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
            env=os.environ.copy(),
        )
    ]
    procs += [
        subprocess.Popen(
            [*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"], env=os.environ.copy()
        )
        for i in range(2)
    ]
    try:
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            workers = set(client.scheduler_info()["workers"])
        yield address, workers
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_trials_run_on_the_external_workers(
    external_cluster: tuple[str, set[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    address, workers = external_cluster
    monkeypatch.setenv("ZYGARDE_DASK_ADDRESS", address)
    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path))  # its own registry, so other tests' champions are untouched
    started = time.perf_counter()
    args = ["run", "diabetes", "--algorithms", "xgboost", "--trials", "4", "--cv", "3", "--experiment", "scale-out"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert time.perf_counter() - started > summary["search_wall_seconds"]
    children = get_client(get_settings().mlflow_tracking_uri).search_runs(
        [summary["mlflow"]["experiment_id"]], f"tags.mlflow.parentRunId = '{summary['mlflow']['parent_run_id']}'"
    )
    ran_on = {c.data.tags["zygarde.worker"] for c in children}
    assert len(children) == 4 and ran_on <= workers and ran_on
