"""Every benchmark's ``--quick`` run, as a user starts it: it still runs to its last line (its figures are not
checked; they mean nothing at that size). A refactor that breaks a benchmark fails here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = [pytest.mark.slow, pytest.mark.benchmark]

# each benchmark, and a line its quick run prints at its end
QUICK = {
    "automl.py": "zygarde at least as good on",
    "broadcast.py": "median search wall",
    "elastic.py": "adaptive 1 -> 4 vs one worker",
    "engines.py scale": "slope of log(wall)",
    "engines.py diabetes": "spark / dask",
    "explain.py": "Spearman of the two rankings",
    "main_job.py": "repeated stratified CV of the chosen pipeline",
    "memory_budget.py": "peak/budget at most",
    "resume.py": "median extra over 1 repeats",
    "search_overhead.py": "largest |CV score difference|",
    "search_strategies.py": "median",
    "spark_table.py": "spark / dask rows per second of the search",
    "teardown.py": "os._exit after the exit handlers saves",
    "vision_device.py": "images/s",
    "vision_throughput.py": "(c) plain two-conv CNN",
}


@pytest.mark.parametrize("benchmark", list(QUICK))
def test_the_benchmark_runs_in_its_quick_mode(benchmark: str, tmp_path: Path) -> None:
    script, *command = benchmark.split()
    env = {**os.environ, "ZYGARDE_WORK_DIR": str(tmp_path), "PYTHONWARNINGS": "ignore"}
    for name in ("PREFECT_API_URL", "ZYGARDE_DASK_ADDRESS", "MLFLOW_TRACKING_URI"):  # its own services, as run
        env.pop(name, None)
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *command, "--quick"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert QUICK[benchmark] in done.stdout, done.stdout[-3000:]


ELSEWHERE = {"multihost.py": "tests/multihost/test_hosts.py, on the hosts that module has up"}


def test_every_benchmark_has_a_quick_run_in_ci() -> None:
    scripts = {p.name for p in (REPO / "benchmarks").glob("*.py") if not p.name.startswith("_")}
    assert scripts == {b.split()[0] for b in QUICK} | set(ELSEWHERE)
