"""CLI messages (errors printed as written, even when they quote what looks like markup) and shipped inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import REPO
from zygarde.cli import app
from zygarde.errors import ZygardeError


def test_error_messages_keep_their_brackets(tmp_path: Path) -> None:
    space = tmp_path / "space[draft].yaml"
    space.write_text("xgboost: [unclosed")
    result = CliRunner().invoke(app, ["run", "--space", str(space)])
    assert result.exit_code == 1
    assert f"--space {space}: cannot read it as YAML" in " ".join(result.output.split()), result.output


def test_the_shipped_example_job_spec_is_valid() -> None:
    from zygarde.jobs import read_spec

    spec = read_spec(REPO / "deployments" / "job.example.yaml")
    assert spec.run_config().model_dump()["space"]["xgboost"]["max_depth"] == [2, 3, 4]


def test_a_jobs_worker_range_makes_the_local_cluster_adaptive(monkeypatch) -> None:
    from zygarde.flows.pipeline import dask_task_runner

    monkeypatch.delenv("ZYGARDE_DASK_ADDRESS", raising=False)
    runner = dask_task_runner(min_workers=1, max_workers=3)
    assert runner.cluster_kwargs["n_workers"] == 1 and runner.adapt_kwargs == {"minimum": 1, "maximum": 3}
    assert dask_task_runner(min_workers=2, max_workers=2).adapt_kwargs == {}


def test_xgboost_on_a_spark_connect_master_is_refused_naming_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from zygarde.tabular.config import parse_config

    monkeypatch.setenv("ZYGARDE_SPARK_MASTER", "sc://127.0.0.1:15002")
    with pytest.raises(ZygardeError, match=r"algorithms: xgboost.spark needs a classic Spark session.*sc://127"):
        parse_config(engine="spark", algorithms=["xgboost", "rf"])
    assert parse_config(engine="spark", algorithms=["rf"]).algorithms == ["rf"]


def test_a_spark_master_on_other_hosts_needs_a_shared_folder_for_its_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its executors write a model's files: saved to a local folder, they would land on the Spark hosts' disks."""
    from zygarde.tabular.config import parse_config
    from zygarde.tabular.spark.session import model_dir

    monkeypatch.setenv("ZYGARDE_SPARK_MASTER", "spark://spark-master:7077")
    monkeypatch.delenv("ZYGARDE_SPARK_SHARED_DIR", raising=False)
    with pytest.raises(ZygardeError, match=r"engine spark: ZYGARDE_SPARK_MASTER spark://spark-master:7077 is on other "
                       r"hosts.*set ZYGARDE_SPARK_SHARED_DIR"):  # fmt: skip
        parse_config(engine="spark")
    monkeypatch.setenv("ZYGARDE_SPARK_SHARED_DIR", "/mnt/nfs/spark")
    assert parse_config(engine="spark").engine == "spark" and model_dir() == "/mnt/nfs/spark"
    monkeypatch.setenv("ZYGARDE_SPARK_MASTER", "spark://127.0.0.1:7077")  # this host's: a local folder does
    assert model_dir() is None
