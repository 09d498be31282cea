"""`zygarde serve` as a user runs it: a real process serving the flows to the session's Prefect API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import stop_process

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture
def served(prefect_api: str, dask_address: str, tmp_path: Path) -> Iterator[None]:
    """`zygarde serve` in its own process, on the session's API and cluster; stopped after the test."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api, "ZYGARDE_DASK_ADDRESS": dask_address}
    env["ZYGARDE_WORK_DIR"] = str(tmp_path)
    cli = Path(sys.executable).with_name("zygarde")
    process = subprocess.Popen([str(cli), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        stop_process(process)


def _registered(name: str, timeout: float = 60) -> Any:
    """Deployment ``name`` once `zygarde serve` has registered it (it registers them one after another)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            try:
                return client.read_deployment_by_name(name)
            except ObjectNotFound:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def test_served_flow_shows_its_form_and_a_run_started_through_the_api_completes(served: None) -> None:
    from prefect.deployments import run_deployment

    deployment = _registered("train-tabular/train-tabular")
    # what the UI renders as the run form: every field of TabularRunConfig, typed and bounded
    form = deployment.parameter_openapi_schema["definitions"]["TabularRunConfig"]["properties"]
    assert {"dataset", "target", "algorithms", "search", "trials", "cv", "seed", "space", "profile"} <= set(form)
    assert form["trials"]["minimum"] == 1 and form["search"]["enum"] == ["grid", "random", "tpe", "gp", "asha"]
    assert {"memory_limit", "time_budget", "resume", "brackets"} <= set(form)
    assert form["engine"]["enum"] == ["dask", "spark"] and form["dataset"]["examples"] == ["diabetes"]
    job = _registered("train-job/job").parameter_openapi_schema["definitions"]
    drift = _registered("monitor-drift/monitor-drift").parameter_openapi_schema
    assert {"kind", "data", "algorithms", "spaces", "min_workers", "max_workers", "notify"} <= set(
        job["JobSpec"]["properties"]
    )
    assert {"model", "batch", "psi_threshold", "drift_share"} <= set(drift["definitions"]["DriftCheck"]["properties"])

    config = {"algorithms": ["rf"], "trials": 1, "cv": 3, "experiment": "served"}
    flow_run = run_deployment("train-tabular/train-tabular", parameters={"config": config}, timeout=180)
    assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state.message


def test_a_form_path_outside_the_data_root_is_refused(served: None, tmp_path_factory: pytest.TempPathFactory) -> None:
    from prefect.deployments import run_deployment

    outside = tmp_path_factory.mktemp("elsewhere") / "table.csv"
    outside.write_text("a,b\n1,0\n2,1\n")
    config = {"dataset": str(outside), "target": "b", "algorithms": ["rf"], "trials": 1, "cv": 2}
    flow_run = run_deployment("train-tabular/train-tabular", parameters={"config": config}, timeout=180)
    assert flow_run.state is not None and flow_run.state.is_failed(), flow_run.state
    assert "is outside the data root" in str(flow_run.state.message), flow_run.state.message


def test_a_form_run_of_a_missing_file_says_so_in_the_forms_words(served: None) -> None:
    from prefect.deployments import run_deployment

    from zygarde.settings import get_settings

    missing = get_settings().data_root / "no-such-table.csv"
    config = {"dataset": str(missing), "algorithms": ["rf"], "trials": 1, "cv": 2}
    flow_run = run_deployment("train-tabular/train-tabular", parameters={"config": config}, timeout=180)
    assert flow_run.state is not None and flow_run.state.is_failed(), flow_run.state
    message = str(flow_run.state.message)
    assert f"Data file not found: {missing}" in message and "--" not in message, message
