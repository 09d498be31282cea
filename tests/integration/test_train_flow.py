"""The tabular flow end to end: Prefect harness, real LocalCluster, real MLflow SQLite store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from prefect_dask import DaskTaskRunner
from typer.testing import CliRunner

from zygarde.cli import app
from zygarde.config import parse_config
from zygarde.flows.tabular import train_tabular
from zygarde.settings import get_settings
from zygarde.tracking import get_client

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _flow(address: str):
    return train_tabular.with_options(task_runner=DaskTaskRunner(address=address))


def test_flow_tracks_trials_registers_and_guards_the_champion(
    dask_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path))  # a registry of its own: no champion yet
    config = parse_config(
        dataset="diabetes", algorithms=["xgboost", "rf"], trials=3, cv=3, seed=1, experiment="e2e-diabetes"
    )
    summary = _flow(dask_address)(config=config)
    client = get_client(get_settings().mlflow_tracking_uri)
    parent = client.get_run(summary.mlflow["parent_run_id"])
    assert parent.info.status == "FINISHED"
    for metric in ("test_accuracy", "test_roc_auc", "test_f1", "search_wall_seconds", "stage_search_peak_rss_mb"):
        assert metric in parent.data.metrics
    children = client.search_runs(
        [summary.mlflow["experiment_id"]], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == summary.n_trials == 6
    assert all("cv_roc_auc_mean" in c.data.metrics and "peak_rss_mb" in c.data.metrics for c in children)
    assert {c.data.tags["zygarde.algorithm"] for c in children} == {"xgboost", "rf"}
    assert 0.6 < summary.test_metrics["roc_auc"] <= 1.0
    version = client.get_model_version_by_alias("zygarde-diabetes", "champion")
    assert summary.model["became_champion"], summary.model["reason"]
    assert str(version.version) == summary.model["version"]

    # a deliberately weak configuration must not take the champion alias
    weak = parse_config(
        dataset="diabetes",
        algorithms=["gbt"],
        search="grid",
        cv=3,
        seed=1,
        space={"gbt": {"n_estimators": [1], "max_depth": [1], "learning_rate": [0.01]}},
    )
    second = _flow(dask_address)(config=weak)
    assert not second.model["became_champion"] and "does not beat" in second.model["reason"]
    assert "re-scored on this run's test rows" in second.model["reason"]
    assert str(client.get_model_version_by_alias("zygarde-diabetes", "champion").version) == str(version.version)


def _cli(args: list[str], dask_address: str, stdout_only: bool = False) -> tuple[int, str]:
    os.environ["ZYGARDE_DASK_ADDRESS"] = dask_address
    try:
        result = CliRunner().invoke(app, args)
    finally:
        os.environ.pop("ZYGARDE_DASK_ADDRESS")
    return result.exit_code, result.stdout if stdout_only else result.output


def _model_versions() -> int:
    return len(get_client(get_settings().mlflow_tracking_uri).search_model_versions())


@pytest.mark.filterwarnings("default::zygarde.datasets.DataQualityWarning")
def test_cli_json_on_a_users_csv(dask_address: str, tmp_path: Path, diabetes: pd.DataFrame) -> None:
    path = tmp_path / "users_table.csv"
    diabetes.assign(patient=[f"p{i}" for i in range(len(diabetes))]).to_csv(path, index=False)
    code, output = _cli(
        [
            "run",
            "--data",
            str(path),
            "--target",
            "Outcome",
            "--algorithms",
            "xgboost",
            "--trials",
            "2",
            "--cv",
            "3",
            "--profile",
            "--json",
        ],
        dask_address,
        stdout_only=True,
    )
    assert code == 0, output
    summary = json.loads(output)
    for key in (
        "best_algorithm",
        "best_params",
        "cv_metrics",
        "test_metrics",
        "mlflow",
        "model",
        "n_trials",
        "wall_seconds",
        "search_wall_seconds",
        "trial_fit_seconds",
    ):
        assert key in summary
    assert summary["model"]["name"] == "zygarde-users_table" and summary["n_trials"] == 2
    assert summary["dropped_columns"] == {
        "patient": "an identifier or free text (a distinct value on almost every row)"
    }
    mlflow = get_client(get_settings().mlflow_tracking_uri)
    profiles = {a.path for a in mlflow.list_artifacts(summary["mlflow"]["parent_run_id"], "profiles")}
    for stage in ("validate", "split", "search", "evaluate", "register"):
        assert {f"profiles/{stage}.prof", f"profiles/{stage}.txt"} <= profiles, profiles
    top = Path(mlflow.download_artifacts(summary["mlflow"]["parent_run_id"], "profiles/search.txt", str(tmp_path)))
    assert "cumulative" in top.read_text()


def test_failed_validation_is_a_failed_prefect_run_with_the_list(
    dask_address: str, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    from prefect.client.orchestration import get_client as prefect_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    path = _write(tmp_path, "one_class.csv", diabetes.assign(Outcome=1))
    config = parse_config(dataset=str(path), target="Outcome", algorithms=["rf"], trials=1, cv=3)
    before = _model_versions()
    state = _flow(dask_address)(config=config, return_state=True)
    assert state.is_failed() and "failed validation" in state.message
    with prefect_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
        )
    failures = [a for a in artifacts if a.key == "validation-failures"]
    assert failures and "expect_column_unique_value_count_to_be_between" in str(failures[0].data), artifacts
    assert _model_versions() == before


def _write(tmp_path: Path, name: str, frame: pd.DataFrame | None = None, raw: bytes | None = None) -> Path:
    path = tmp_path / name
    if frame is not None:
        frame.to_csv(path, index=False)
    elif raw is not None:
        path.write_bytes(raw)
    return path


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("missing", [], "Data file not found"),
        ("empty", [], "is empty (0 bytes)"),
        ("garbled", [], "could not be read as CSV"),
        ("no_target", [], "target column 'Outcome' not found"),
        ("one_class", [], "failed validation"),
        ("few_rows", [], "expect_table_row_count_to_be_between"),
        ("ok", ["--algorithms", "svm"], "--algorithms"),
        ("ok", ["--search", "bayes"], "--search"),
        ("ok", ["--trials", "0"], "--trials"),
    ],
)
def test_bad_input_is_one_clear_error_and_registers_nothing(
    case: str, extra: list[str], message: str, dask_address: str, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    files = {
        "missing": lambda: tmp_path / "absent.csv",
        "empty": lambda: _write(tmp_path, "empty.csv", raw=b""),
        "garbled": lambda: _write(tmp_path, "garbled.csv", raw=b"a,b\n1,2\n1,2,3,4\n\xff\xfe"),
        "no_target": lambda: _write(tmp_path, "no_target.csv", diabetes.drop(columns=["Outcome"])),
        "one_class": lambda: _write(tmp_path, "one_class.csv", diabetes.assign(Outcome=1)),
        "few_rows": lambda: _write(tmp_path, "few_rows.csv", diabetes.head(6)),
        "ok": lambda: _write(tmp_path, "ok.csv", diabetes),
    }
    before = _model_versions()
    code, output = _cli(
        ["run", "--data", str(files[case]()), "--target", "Outcome", "--trials", "1", "--cv", "5", *extra], dask_address
    )
    assert code == 1 and message in output, output
    assert "Traceback" not in output
    assert _model_versions() == before


def test_unreachable_scheduler_fails_fast_naming_it(prefect_api: str) -> None:
    os.environ["ZYGARDE_DASK_CONNECT_TIMEOUT"] = "3"
    try:
        code, output = _cli(["run", "--trials", "1"], "tcp://127.0.0.1:9")
    finally:
        os.environ.pop("ZYGARDE_DASK_CONNECT_TIMEOUT")
    assert code == 1 and "Could not reach the Dask scheduler at tcp://127.0.0.1:9" in output
