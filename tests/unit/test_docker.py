"""The compose stack, checked without a Docker engine: the schema (as CI's lint lane does), and what it promises."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import REPO, multihost_harness

COMPOSE = REPO / "docker" / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_compose_file_matches_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_services_wait_for_healthy_dependencies_and_publish_on_loopback() -> None:
    services = _compose()["services"]
    assert {"postgres", "prefect-server", "prefect-worker", "mlflow", "dask-scheduler", "dask-worker"} <= set(services)
    for name in ("postgres", "prefect-server", "mlflow", "dask-scheduler", "prefect-worker"):
        assert "healthcheck" in services[name], name
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services and condition["condition"].startswith("service_"), (name, dependency)
        for port in service.get("ports", []):
            assert port.startswith("${BIND:-127.0.0.1}:"), (name, port)
    # the flow's Dask client (in the Prefect worker) and the Dask processes run one image: the same versions
    project = {services[n]["image"] for n in ("prefect-worker", "dask-scheduler", "dask-worker", "mlflow")}
    assert project == {"${ZYGARDE_IMAGE:-zygarde:latest}"}
    mlflow = " ".join(services["mlflow"]["command"])
    assert "postgresql://" in mlflow and "--artifacts-destination=/mlartifacts" in mlflow
    assert re.search(r"--allowed-hosts=\S*mlflow:5000", mlflow), mlflow


def test_every_required_setting_is_in_env_example() -> None:
    text = COMPOSE.read_text()
    example = (REPO / "docker" / ".env.example").read_text()
    defined = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert used <= defined, used - defined


def test_the_image_copies_every_package_folder() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    for folder in ("zygarde", "flows", "tasks", "expectations", "deployments", "data"):
        assert f"COPY {folder} ./{folder}" in dockerfile, folder


def test_the_compose_stack_uses_the_settings_the_multihost_harness_proves() -> None:
    """deploy/multihost/harness.py runs these services on hosts of their own (tests/multihost): the same service
    names and addresses, the tracking server's artifact proxy, the scheduler's worker TTL."""
    harness = multihost_harness()
    compose = _compose()
    environment = compose["x-zygarde"]["environment"]
    for name in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI", "ZYGARDE_DASK_ADDRESS"):
        assert environment[name] == harness.ENV[name], name
    assert {"prefect-server", "mlflow", "dask-scheduler"} <= set(harness.HOSTS) & set(compose["services"])
    mlflow = " ".join(compose["services"]["mlflow"]["command"])
    assert "--serve-artifacts" in mlflow and "--artifacts-destination=" in mlflow
    scheduler = compose["services"]["dask-scheduler"]["environment"]
    assert scheduler["DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL"] == harness.WORKER_TTL
    assert scheduler["ZYGARDE_DASK_ADDRESS"] == environment["ZYGARDE_DASK_ADDRESS"]  # the shared ones kept
