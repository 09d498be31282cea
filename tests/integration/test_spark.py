"""Spark inside zygarde: one lazy session per process, exact metrics, Spark subtasks on Dask workers, and the
clear errors a missing Java or an unreachable master give."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.helpers import free_port, stop_process
from zygarde.errors import ZygardeError
from zygarde.tabular.spark.session import SparkConfig, check_master, java_version, spark_session

pytestmark = [pytest.mark.spark, pytest.mark.integration]


def test_the_session_is_reused_binds_loopback_and_refuses_a_changed_static_setting(spark: object) -> None:
    from pyspark.sql import SparkSession

    assert isinstance(spark, SparkSession)
    assert spark_session(SparkConfig.from_settings()) is spark
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.ui.enabled") == "false" and conf.get("spark.driver.bindAddress") == "127.0.0.1"
    with pytest.raises(ZygardeError, match="driver memory 1g; 3g was asked"):
        spark_session(SparkConfig(SparkConfig.from_settings().master, driver_memory="3g"))


def test_auc_is_exact_and_agrees_with_scikit_learn(spark: object) -> None:
    from pyspark.ml.linalg import Vectors

    from zygarde.tabular.spark.metrics import binary_auc

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2000)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 2)  # rounded: many tied scores, as trees give
    rows = [(float(y), Vectors.dense([-s, s])) for y, s in zip(labels, scores, strict=True)]
    frame = spark.createDataFrame(rows, ["label", "rawPrediction"])  # type: ignore[attr-defined]
    assert abs(binary_auc(frame) - roc_auc_score(labels, scores)) < 1e-6


def _rows_on_worker(path: str) -> tuple[int, int, bool]:
    """A Spark subtask: this worker's own session reads a file (a path travels, never a session)."""
    from zygarde.tabular.spark.session import has_session, spark_session

    had_one = has_session()
    return spark_session().read.csv(path, header=True).count(), os.getpid(), had_one


def _has_session() -> bool:
    from zygarde.tabular.spark.session import has_session

    return has_session()


def test_a_spark_subtask_runs_on_a_dask_worker_with_the_workers_own_session(dask_address: str) -> None:
    from distributed import Client

    from zygarde.tabular.spark.session import stop_sessions_with_workers

    data = Path(__file__).resolve().parents[2] / "data" / "raw" / "diabetes.csv"
    with Client(dask_address) as client:
        stop_sessions_with_workers(client)
        worker = next(iter(client.scheduler_info()["workers"]))
        first = client.submit(_rows_on_worker, str(data), workers=[worker], pure=False).result()
        again = client.submit(_rows_on_worker, str(data), workers=[worker], pure=False).result()
        assert first[0] == again[0] == 768 and first[1] == again[1] != os.getpid()
        assert not first[2] and again[2]  # created lazily by the first subtask, reused by the next
        others = [w for w in client.scheduler_info()["workers"] if w != worker]
        assert not client.run(
            lambda: __import__("zygarde.tabular.spark.session").tabular.spark.session.has_session(), workers=others
        )[others[0]]


@pytest.mark.timeout(120)  # a hang guard: Spark alone would retry for minutes
def test_an_unreachable_master_is_a_clear_error_within_seconds() -> None:
    with pytest.raises(ZygardeError, match=r"The Spark master spark://127\.0\.0\.1:9 does not answer"):
        check_master("spark://127.0.0.1:9", timeout=5)


def test_java_missing_or_too_old_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "java"
    old.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    old.chmod(0o755)
    with pytest.raises(ZygardeError, match=r"Spark needs Java 17 or newer; .* is Java 11"):
        java_version(str(old))
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(ZygardeError, match="no `java` was found"):
        java_version()
    monkeypatch.delenv("JAVA_HOME")
    assert java_version() >= 17


def test_the_spark_engine_searches_registers_and_its_model_round_trips(
    spark: object, dask_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd
    from mlflow.models import get_model_info
    from prefect_dask import DaskTaskRunner

    from zygarde.drift import champion_on_batch
    from zygarde.flows.tabular import train_tabular
    from zygarde.registry import load_reference
    from zygarde.settings import get_settings
    from zygarde.tabular.config import parse_config
    from zygarde.tabular.family import TabularFamily
    from zygarde.tabular.spark.tabular import SparkTabularModel
    from zygarde.tracking import fluent_tracking_uri, get_client

    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path))
    config = parse_config(engine="spark", trials=1, cv=2, seed=3, experiment="spark-e2e")
    assert config.algorithms == ["rf", "gbt"]
    summary = train_tabular.with_options(task_runner=DaskTaskRunner(address=dask_address))(config=config)
    uri = get_settings().mlflow_tracking_uri
    children = get_client(uri).search_runs(
        [summary.mlflow["experiment_id"]], f"tags.mlflow.parentRunId = '{summary.mlflow['parent_run_id']}'"
    )
    assert len(children) == 2 and all("zygarde.error" not in c.data.tags for c in children), children
    assert all(0.6 < c.data.metrics["cv_roc_auc_mean"] <= 1 for c in children)
    assert summary.model["became_champion"] and 0.6 < summary.test_metrics["roc_auc"] <= 1
    model_uri = f"models:/{summary.model['name']}/{summary.model['version']}"
    with fluent_tracking_uri(uri):
        assert "spark" in get_model_info(model_uri).flavors
        model = TabularFamily(config).load_model(model_uri)
    rows = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "raw" / "diabetes.csv").drop(columns="Outcome")
    assert isinstance(model, SparkTabularModel)
    assert len(model.predict(rows.head(10))) == 10 and model.predict_proba(rows.head(10)).shape == (10, 2)
    # `zygarde predict` writes a Spark classifier's class names and probabilities, as a scikit-learn one's
    from zygarde.serving import predict_file

    rows.head(4).to_csv(tmp_path / "rows.csv", index=False)
    predict_file(uri, summary.model["name"], tmp_path / "rows.csv", tmp_path / "predicted.csv")
    predicted = pd.read_csv(tmp_path / "predicted.csv")
    probabilities = predicted[["probability_0", "probability_1"]].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1) and set(predicted["prediction"]) <= {0, 1}
    assert (predicted["prediction"] == probabilities.argmax(axis=1)).all()
    # the drift check scores a Spark champion on a labelled batch through Spark (it loaded every one as sklearn's)
    labelled = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "raw" / "diabetes.csv").head(60)
    on_batch = champion_on_batch(uri, load_reference(uri, summary.model["name"]), labelled)
    assert on_batch is not None and 0.5 < on_batch["roc_auc"] <= 1


def test_a_standalone_master_and_worker_from_the_wheel_run_a_session(tmp_path: Path) -> None:
    """`spark-class` master and worker (bound to 127.0.0.1), a session on spark://, both stopped afterwards."""
    import subprocess
    import sys

    import pyspark

    home = Path(pyspark.__file__).parent
    port = free_port()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    master_url = f"spark://127.0.0.1:{port}"
    spark_class = [str(home / "bin" / "spark-class")]
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("master", "worker")}
    master = subprocess.Popen([*spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", "0"], env=env, stdout=logs["master"],
                              stderr=subprocess.STDOUT)  # fmt: skip
    worker = None
    try:
        check_deadline = time.monotonic() + 60
        while True:
            try:
                check_master(master_url, timeout=1)
                break
            except ZygardeError:
                assert time.monotonic() < check_deadline, (tmp_path / "master.log").read_text()
                time.sleep(0.5)
        worker = subprocess.Popen([*spark_class, "org.apache.spark.deploy.worker.Worker", master_url, "--host",
                                   "127.0.0.1", "--cores", "1", "--memory", "1g", "--webui-port", "0"], env=env,
                                  stdout=logs["worker"], stderr=subprocess.STDOUT)  # fmt: skip
        while b"Successfully registered with master" not in (tmp_path / "worker.log").read_bytes():
            assert time.monotonic() < check_deadline + 60 and worker.poll() is None, (
                tmp_path / "worker.log"
            ).read_text()
            time.sleep(0.5)
        probe_code = (
            "from zygarde.tabular.spark.session import spark_session; s = spark_session(); c = s.sparkContext; "
            "print(s.range(1000).count(), c.master, c.getConf().get('spark.driver.host'))"
        )
        done = subprocess.run([sys.executable, "-c", probe_code], env={**env, "ZYGARDE_SPARK_MASTER": master_url},
                              capture_output=True, text=True, timeout=180)  # fmt: skip
        assert done.stdout.split() == ["1000", master_url, "127.0.0.1"], done.stdout + done.stderr
    finally:
        stop_process(worker)
        stop_process(master)
        for log in logs.values():
            log.close()


def test_xgboost_on_spark_is_served_without_a_jvm_with_the_predictions_spark_made(
    spark: object, tmp_path: Path
) -> None:
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import get_model_info

    from zygarde.registry import log_sklearn
    from zygarde.search.trials import TrialSpec
    from zygarde.tabular.spark.tabular import ROW, SparkCrossValidationObjective, local_xgboost, spark_frame
    from zygarde.tracking import fluent_tracking_uri, get_client

    table = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "raw" / "diabetes.csv")
    X, y = table.drop(columns="Outcome"), table["Outcome"].to_numpy()
    zeros = ("Glucose", "BloodPressure", "BMI")
    objective = SparkCrossValidationObjective("classification", 2, 2, 7, zeros)
    spec = TrialSpec(0, "xgboost", {"n_estimators": 30, "max_depth": 3})
    fitted = objective.fit(spec, X.iloc[:600], y[:600])
    rows = X.iloc[600:].copy()
    rows.loc[rows.index[:5], "Glucose"] = 0  # "not measured": both sides must read it as missing
    by_spark = fitted.transform(spark_frame(rows)).select(ROW, "probability").toPandas().sort_values(ROW)
    local = local_xgboost(fitted, X.iloc[:600], zeros, "classification")
    expected = np.array([p.toArray()[1] for p in by_spark["probability"]])
    assert np.abs(local.predict_proba(rows)[:, 1] - expected).max() < 1e-6

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = get_client(uri)
    run = client.create_run(client.create_experiment("xgb-spark", artifact_location=str(tmp_path / "a")))
    model_uri = log_sklearn(uri, run.info.run_id, local, X)
    with fluent_tracking_uri(uri):
        assert "spark" not in get_model_info(model_uri).flavors
        loaded = mlflow.sklearn.load_model(model_uri)
    assert np.abs(loaded.predict_proba(rows)[:, 1] - expected).max() < 1e-6


@pytest.mark.timeout(120)  # a hang guard: Spark alone would retry the barrier job for about ten minutes
def test_an_xgboost_fit_wider_than_the_sessions_slots_is_refused_before_it_starts(spark: object) -> None:
    from zygarde.tabular.spark.algorithms import check_slots

    slots = spark.sparkContext.defaultParallelism  # type: ignore[attr-defined]
    check_slots(slots)
    with pytest.raises(ZygardeError, match=rf"barrier job of {slots + 3} tasks .* has {slots} task slots"):
        check_slots(slots + 3)
