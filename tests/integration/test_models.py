"""Using the registry's models: history of champion decisions, `zygarde predict`, `mlflow models serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from prefect_dask import DaskTaskRunner

from tests.helpers import DATA, assert_one_clear_error, free_port, stop_process, zygarde
from zygarde.flows.tabular import train_tabular
from zygarde.tabular.config import parse_config

pytestmark = [pytest.mark.slow, pytest.mark.integration]
NAME = "zygarde-diabetes"


@pytest.fixture(scope="module")
def registry(dask_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A work dir whose registry holds a champion (v1) and a weaker challenger (v2) of zygarde-diabetes."""
    work = tmp_path_factory.mktemp("models-work")
    previous = os.environ["ZYGARDE_WORK_DIR"]
    os.environ["ZYGARDE_WORK_DIR"] = str(work)
    flow = train_tabular.with_options(task_runner=DaskTaskRunner(address=dask_address))
    try:
        flow(config=parse_config(algorithms=["rf"], trials=1, cv=3, seed=3))
        weak = {"gbt": {"n_estimators": [1], "max_depth": [1], "learning_rate": [0.01]}}
        flow(config=parse_config(algorithms=["gbt"], search="grid", cv=3, seed=3, space=weak))
    finally:
        os.environ["ZYGARDE_WORK_DIR"] = previous
    yield {"ZYGARDE_WORK_DIR": str(work), "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}


def test_history_records_every_decision(registry: dict[str, str]) -> None:
    run = zygarde("models", "history", NAME, "--json", env=registry)
    assert run.code == 0, run.output
    moves = json.loads(run.stdout)
    assert [(m["version"], m["alias"]) for m in moves] == [("1", "champion"), ("2", "challenger")]
    assert moves[0]["reason"].startswith("first champion") and "does not beat champion v1" in moves[1]["reason"]
    assert all(m["at"] and m["run_id"] and m["score"].startswith("roc_auc=") for m in moves)
    shown = zygarde("models", "history", NAME, env=registry)
    assert shown.code == 0 and "challenger" in shown.output, shown.output
    listed = zygarde("models", "list", "--json", env=registry)
    assert {"name": NAME, "champion": "1", "challenger": "2"} in json.loads(listed.stdout), listed.output
    assert_one_clear_error(zygarde("models", "history", "nope", env=registry), "No registered model 'nope'")


def test_predict_uses_one_recorded_version_and_names_a_missing_column(registry: dict[str, str], tmp_path: Path) -> None:
    rows = pd.read_csv(DATA / "diabetes.csv").drop(columns="Outcome").head(50)
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    output = tmp_path / "out" / "predicted.parquet"
    run = zygarde("predict", NAME, "--input", str(source), "--output", str(output), env=registry)
    assert run.code == 0, run.output
    assert "50 predictions by zygarde-diabetes v1 (@champion)" in run.output, run.output
    predicted = pd.read_parquet(output)
    assert len(predicted) == 50 and set(predicted["prediction"]) <= {"0", "1"}  # the class names
    probabilities = predicted[["probability_0", "probability_1"]]
    assert (probabilities.sum(axis=1) - 1).abs().max() < 1e-6
    assert (predicted["prediction"] == probabilities.idxmax(axis=1).str.removeprefix("probability_")).all()
    record = json.loads(output.with_name("predicted.parquet.json").read_text())
    assert record["version"] == "1" and record["alias"] == "champion" and record["rows"] == 50

    broken = tmp_path / "broken.csv"
    rows.drop(columns="Glucose").to_csv(broken, index=False)
    missing = zygarde("predict", NAME, "--input", str(broken), "--output", str(tmp_path / "no.csv"), env=registry)
    assert_one_clear_error(missing, "missing the model input column(s) 'Glucose'")
    assert not (tmp_path / "no.csv").exists()


def test_predict_takes_the_name_the_user_trained_with(registry: dict[str, str], tmp_path: Path) -> None:
    """`zygarde run diabetes` registers zygarde-diabetes; `zygarde predict diabetes` said it had no champion."""
    source = tmp_path / "rows.csv"
    pd.read_csv(DATA / "diabetes.csv").drop(columns="Outcome").head(5).to_csv(source, index=False)
    run = zygarde("predict", "diabetes", "--input", str(source), "--output", str(tmp_path / "p.csv"), env=registry)
    assert run.code == 0 and "5 predictions by zygarde-diabetes v1 (@champion)" in run.output, run.output
    typo = zygarde("predict", "diabets", "--input", str(source), "--output", str(tmp_path / "q.csv"), env=registry)
    assert_one_clear_error(typo, "No registered model 'diabets' (nor zygarde-diabets)")
    assert "Did you mean zygarde-diabetes" in typo.output, typo.output


def test_mlflow_models_serve_answers_one_rest_request(registry: dict[str, str]) -> None:
    port = free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow_cli), "models", "serve", "-m", f"models:/{NAME}@champion", "--env-manager", "local",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]  # fmt: skip
    # MLflow execs `uvicorn` by name: the environment's bin folder must be on PATH (as in an activated venv)
    path = f"{mlflow_cli.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, **registry, "PATH": path}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "mlflow models serve did not answer within 120 s"
                time.sleep(0.5)
        rows = pd.read_csv(DATA / "diabetes.csv").drop(columns="Outcome").head(3)
        body = {"dataframe_split": rows.to_dict(orient="split", index=False)}
        answer = httpx.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        served = answer.json()["predictions"]  # a classifier is served by its predict_proba: one per class
        assert len(served) == 3 and all(len(row) == 2 and abs(sum(row) - 1) < 1e-6 for row in served), served
    finally:
        stop_process(server)


def test_explain_writes_each_rows_top_columns_and_names_a_missing_one(registry: dict[str, str], tmp_path: Path) -> None:
    rows = pd.read_csv(DATA / "diabetes.csv").drop(columns="Outcome").head(20)
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    run = zygarde("explain", "diabetes", "--input", str(source), "--top", "2", env=registry)
    assert run.code == 0 and "20 rows explained by zygarde-diabetes v1 (@champion)" in run.output, run.output
    assert "exact TreeSHAP (scikit-learn), in probability" in run.output, run.output  # the champion is a forest
    explained = pd.read_csv(tmp_path / "rows.explained.csv")
    assert list(explained.columns[-4:]) == ["top_1_column", "top_1_contribution", "top_2_column", "top_2_contribution"]
    assert set(explained["top_1_column"]) <= set(rows.columns) and "Glucose" in set(explained["top_1_column"])
    assert (explained["top_1_contribution"].abs() >= explained["top_2_contribution"].abs()).all()
    record = json.loads((tmp_path / "rows.explained.csv.json").read_text())
    assert record["method"].startswith("exact TreeSHAP") and record["version"] == "1"

    broken = tmp_path / "broken.csv"
    rows.drop(columns="BMI").to_csv(broken, index=False)
    missing = zygarde("explain", "diabetes", "--input", str(broken), "--output", str(tmp_path / "no.csv"), env=registry)
    assert_one_clear_error(missing, "missing the model input column(s) 'BMI'")
    assert not (tmp_path / "no.csv").exists()


def test_each_run_logs_its_table_as_the_mlflow_dataset_input(registry: dict[str, str]) -> None:
    from mlflow.data.pandas_dataset import from_pandas

    from zygarde.tabular.datasets import load_dataset
    from zygarde.tracking import get_client

    client = get_client(registry["MLFLOW_TRACKING_URI"])
    version = client.get_model_version(NAME, "1")
    inputs = client.get_run(version.run_id).inputs.dataset_inputs
    assert len(inputs) == 1 and inputs[0].tags[0].value == "training"
    dataset = inputs[0].dataset
    table = load_dataset("diabetes", data_root=DATA).frame
    assert dataset.name == "diabetes" and dataset.digest == from_pandas(table).digest
    assert "diabetes.csv" in dataset.source and "Glucose" in dataset.schema
    experiment = client.get_experiment(client.get_run(version.run_id).info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the Model training view
