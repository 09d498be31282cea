"""Shared, expensive fixtures: one Prefect harness, one LocalCluster, one MLflow work dir per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import DATA


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A session work dir: the MLflow SQLite store and artifacts of every test live here."""
    path = tmp_path_factory.mktemp("zygarde-work")
    previous = os.environ.get("ZYGARDE_WORK_DIR")
    os.environ["ZYGARDE_WORK_DIR"] = str(path)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield path
    if previous is None:
        os.environ.pop("ZYGARDE_WORK_DIR", None)


@pytest.fixture(scope="session")
def prefect_api(work_dir: Path) -> Iterator[str]:
    """One ``prefect_test_harness`` for the session, its URL exported so Dask workers report to it."""
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        url = PREFECT_API_URL.value()
        os.environ["PREFECT_API_URL"] = url
        yield url
        os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def dask_address(prefect_api: str) -> Iterator[str]:
    """One real LocalCluster (2 one-thread worker processes), started after the Prefect URL is exported."""
    from zygarde.orchestration import local_cluster

    with local_cluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """The test session's one local Spark session (a JVM start costs 5-10 s here), stopped at the end."""
    from zygarde.tabular.spark.session import SparkConfig, spark_session, stop_session

    yield spark_session(SparkConfig.from_settings())  # what the flow's process would create
    stop_session()


@pytest.fixture
def diabetes() -> pd.DataFrame:
    """The shipped diabetes table."""
    return pd.read_csv(DATA / "diabetes.csv")


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    """A fresh, real MLflow SQLite store for one test."""
    return f"sqlite:///{tmp_path / 'mlflow.db'}"
