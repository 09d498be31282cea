"""`zygarde up` / `zygarde down` as a user runs them: a warm Prefect API, Dask cluster and runner that the next
training commands of the work dir use, whose bad input still reads as one clear error, all stopped by `down`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.helpers import assert_one_clear_error, zygarde

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_up_serves_the_next_runs_and_down_stops_everything(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PREFECT_API_URL", "ZYGARDE_DASK_ADDRESS", "MLFLOW_TRACKING_URI")}  # fmt: skip
    env |= {"ZYGARDE_WORK_DIR": str(tmp_path), "COLUMNS": "200"}
    up = subprocess.run([str(Path(sys.executable).with_name("zygarde")), "up"], env=env, capture_output=True,
                        text=True, timeout=300)  # fmt: skip
    state = tmp_path / "services" / "services.json"
    pids: list[int] = []
    try:
        assert up.returncode == 0 and state.exists(), up.stdout + up.stderr
        pids = json.loads(state.read_text())["pids"]
        assert len(pids) == 3 and all(psutil.pid_exists(pid) for pid in pids)
        script = [str(Path(sys.executable).with_name("zygarde")), "run", "diabetes", "--algorithms", "rf",
                  "--trials", "2", "--cv", "2"]  # fmt: skip
        client = subprocess.Popen(script, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output, _ = client.communicate(timeout=300)
        assert client.returncode == 0, output
        assert "on the services `zygarde up` started" in " ".join(output.split()), output
        log_file = next((tmp_path / "logs").glob("*-run-*.log"))
        assert not log_file.stem.endswith(f"-{client.pid}")  # it ran in the warm runner's child, not the client
        logged = log_file.read_text()
        assert "launched a local Prefect API" not in logged and "Finished in state Completed" in logged
        assert "INFO" not in output and "Traceback" not in output  # Prefect's logs in the file, not on the terminal
        missing = zygarde("run", "--data", str(tmp_path / "nowhere.csv"), "--target", "y", env=env)
        assert_one_clear_error(missing, "nowhere.csv")
    finally:
        down = zygarde("down", env=env)
    assert down.code == 0 and "stopped" in down.output, down.output
    assert not any(psutil.pid_exists(pid) for pid in pids) and not state.exists()
