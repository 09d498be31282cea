"""The tabular flow end to end: Prefect harness, real LocalCluster, real MLflow SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from prefect_dask import DaskTaskRunner

from tests.helpers import CliRun, assert_one_clear_error, zygarde
from zygarde.flows.tabular import train_tabular
from zygarde.settings import get_settings
from zygarde.synthetic import churn_table
from zygarde.tabular.config import parse_config
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
    for metric in ("test_accuracy", "test_roc_auc", "test_f1", "search_wall_seconds", "stage_search_peak_rss_mb",
                   "stage_explain_wall_seconds"):  # fmt: skip
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
    assert "re-scored on this run's test split" in second.model["reason"]
    assert str(client.get_model_version_by_alias("zygarde-diabetes", "champion").version) == str(version.version)

    # the run page says the outcome: the winner, its test metrics, the version, the decision, the MLflow links
    page = _latest_artifact("outcome")
    for fact in (f"zygarde-diabetes v{second.model['version']} stays a **challenger**", "`gbt`", "test_roc_auc",
                 second.model["reason"], f"/runs/{second.mlflow['parent_run_id']}?workflowType=machine_learning",
                 f"/#/models/zygarde-diabetes/versions/{second.model['version']}", "**What drives it** (permutation "
                 "importance", "| Glucose |"):  # fmt: skip
        assert fact in page, page
    assert client.download_artifacts(second.mlflow["parent_run_id"], "outcome.md")


def _latest_artifact(key: str) -> str:
    from prefect.client.orchestration import get_client as prefect_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with prefect_client(sync_client=True) as prefect:
        found = prefect.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1
        )
    assert found, f"no {key} artifact"
    return str(found[0].data)


def _cli(args: list[str], dask_address: str) -> CliRun:
    return zygarde(*args, env={"ZYGARDE_DASK_ADDRESS": dask_address})


def _model_versions() -> int:
    return len(get_client(get_settings().mlflow_tracking_uri).search_model_versions())


@pytest.mark.filterwarnings("default::zygarde.tables.DataQualityWarning")
def test_cli_json_on_a_users_csv(dask_address: str, tmp_path: Path, diabetes: pd.DataFrame) -> None:
    path = tmp_path / "users_table.csv"
    diabetes.assign(patient=[f"p{i}" for i in range(len(diabetes))]).to_csv(path, index=False)
    run = _cli(
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
    )
    assert run.code == 0, run.output
    summary = json.loads(run.stdout)
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
    assert summary["model"]["name"].startswith("zygarde-users-table-outcome-") and summary["n_trials"] == 2
    assert summary["dropped_columns"] == {"patient": "an identifier (a distinct value on almost every row)"}
    mlflow = get_client(get_settings().mlflow_tracking_uri)
    profiles = {a.path for a in mlflow.list_artifacts(summary["mlflow"]["parent_run_id"], "profiles")}
    for stage in ("validate", "prepare", "search", "train", "evaluate", "register"):
        assert {f"profiles/{stage}.prof", f"profiles/{stage}.txt"} <= profiles, profiles
    top = Path(mlflow.download_artifacts(summary["mlflow"]["parent_run_id"], "profiles/search.txt", str(tmp_path)))
    assert "cumulative" in top.read_text()


def test_a_table_with_dates_trains_registers_and_predicts_csv_rows_with_date_strings(
    dask_address: str, tmp_path: Path
) -> None:
    table = churn_table(1500, seed=3)
    table.to_parquet(tmp_path / "churn.parquet")
    table.head(30).drop(columns="churned").to_csv(tmp_path / "new.csv", index=False)  # dates as text
    args = ["run", "--data", str(tmp_path / "churn.parquet"), "--target", "churned", "--algorithms", "xgboost"]
    run = _cli([*args, "--trials", "1", "--cv", "3"], dask_address)
    assert run.code == 0, run.output
    assert "many-level category  city (1" in run.output and "signup_date" in run.output  # the plan, before
    name = next(line.split()[1] for line in run.stdout.splitlines() if line.startswith("registered "))
    mlflow = get_client(get_settings().mlflow_tracking_uri)
    parent = mlflow.get_model_version(name, "1").run_id
    columns = json.loads(Path(mlflow.download_artifacts(parent, "columns.json", str(tmp_path))).read_text())
    assert {c["column"]: c["kind"] for c in columns}["signup_date"] == "datetime"

    out = tmp_path / "predicted.csv"
    predicted = zygarde("predict", name, "--input", str(tmp_path / "new.csv"), "--output", str(out))
    assert predicted.code == 0, predicted.output
    assert len(pd.read_csv(out)["prediction"].dropna()) == 30


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
        ("one_class", [], "has a single class ('1')"),
        ("few_rows", [], "fewer than the 5 cross-validation folds (--cv)"),
        ("ok", ["--algorithms", "svm"], "--algorithms"),
        ("ok", ["--search", "bayes"], "--search"),
        ("ok", ["--trials", "0"], "--trials"),
    ],
)
def test_bad_input_fails_before_any_service_starts(
    case: str, extra: list[str], message: str, tmp_path: Path, diabetes: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No Prefect API, no cluster: the scheduler address is unreachable and no log file is ever opened."""
    files = {
        "missing": lambda: tmp_path / "absent.csv",
        "empty": lambda: _write(tmp_path, "empty.csv", raw=b""),
        "garbled": lambda: _write(tmp_path, "garbled.csv", raw=b"a,b\n1,2\n1,2,3,4\n\xff\xfe"),
        "no_target": lambda: _write(tmp_path, "no_target.csv", diabetes.drop(columns=["Outcome"])),
        "one_class": lambda: _write(tmp_path, "one_class.csv", diabetes.assign(Outcome=1)),
        "few_rows": lambda: _write(tmp_path, "few_rows.csv", diabetes.head(6)),
        "ok": lambda: _write(tmp_path, "ok.csv", diabetes),
    }
    work = tmp_path / "work"
    args = ["run", "--data", str(files[case]()), "--target", "Outcome", "--trials", "1", "--cv", "5", *extra]
    run = zygarde(*args, env={"ZYGARDE_DASK_ADDRESS": "tcp://127.0.0.1:9", "ZYGARDE_WORK_DIR": str(work)})
    assert_one_clear_error(run, message)
    assert not (work / "logs").exists() and not (work / "mlflow.db").exists()  # refused before any service


def test_errors_inside_the_flow_are_one_line_naming_the_log(
    dask_address: str, tmp_path: Path, diabetes: pd.DataFrame
) -> None:
    """A failed validation of the shipped suite and a search whose every trial fails: found by the flow."""
    data_root = tmp_path / "data"
    data_root.mkdir()
    diabetes.assign(Glucose=diabetes["Glucose"].where(diabetes.index > 0, 999)).to_csv(
        data_root / "diabetes.csv", index=False
    )
    before = _model_versions()
    broken = zygarde(
        "run", "diabetes", "--algorithms", "rf", "--trials", "1", "--cv", "3",
        env={"ZYGARDE_DASK_ADDRESS": dask_address, "ZYGARDE_DATA_ROOT": str(data_root)},
    )  # fmt: skip
    assert_one_clear_error(broken, "failed validation")
    assert "expect_column_values_to_be_between on Glucose" in broken.output and "full log:" in broken.output
    log_file = Path(broken.output.split("full log: ")[1].split(")")[0].strip())
    assert "failed validation" in log_file.read_text()

    space = tmp_path / "space.yaml"
    space.write_text("rf: {max_depth: [-1]}\n")
    failing = _cli(["run", "diabetes", "--algorithms", "rf", "--search", "grid", "--space", str(space), "--cv", "3"],
                   dask_address)  # fmt: skip
    assert_one_clear_error(failing, "No usable trial among 1 tried")
    assert _model_versions() == before


def test_unreachable_scheduler_fails_fast_naming_it(prefect_api: str) -> None:
    run = zygarde("run", "--trials", "1", env={"ZYGARDE_DASK_ADDRESS": "tcp://127.0.0.1:9",
                                               "ZYGARDE_DASK_CONNECT_TIMEOUT": "3"})  # fmt: skip
    assert_one_clear_error(run, "Could not reach the Dask scheduler at tcp://127.0.0.1:9")


def test_a_prefect_api_set_in_the_active_profile_is_used(dask_address: str, prefect_api: str, tmp_path: Path) -> None:
    """`prefect config set PREFECT_API_URL=...` (a profile, no environment variable): runs report there."""
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(f'active = "zygarde-test"\n\n[profiles.zygarde-test]\nPREFECT_API_URL = "{prefect_api}"\n')
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env |= {"PREFECT_PROFILES_PATH": str(profiles), "ZYGARDE_DASK_ADDRESS": dask_address}
    env |= {"ZYGARDE_WORK_DIR": str(tmp_path / "work")}
    script = Path(sys.executable).with_name("zygarde")
    args = ["run", "diabetes", "--algorithms", "rf", "--trials", "1", "--cv", "3", "--json"]
    done = subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    tracking = get_client(f"sqlite:///{tmp_path / 'work' / 'mlflow.db'}")
    flow_run_id = tracking.get_run(summary["mlflow"]["parent_run_id"]).data.tags["prefect.flow_run_id"]
    from prefect.client.orchestration import get_client as prefect_client

    with prefect_client(sync_client=True) as prefect:  # the session's API knows the run: no second server
        assert prefect.read_flow_run(flow_run_id).state.is_completed()


def test_two_concurrent_runs_leave_the_better_model_champion(dask_address: str, tmp_path: Path) -> None:
    """Two `zygarde run` processes on the same data at once: whichever promotes first, the better one ends as
    champion (promote() re-reads and re-compares under its lock)."""
    spaces = {"weak": "gbt: {n_estimators: [1], max_depth: [1], learning_rate: [0.01]}\n",
              "strong": "rf: {n_estimators: [100], max_depth: [4]}\n"}  # fmt: skip
    env = {**os.environ, "ZYGARDE_DASK_ADDRESS": dask_address, "ZYGARDE_WORK_DIR": str(tmp_path / "work")}
    script = Path(sys.executable).with_name("zygarde")
    runs = {}
    for name, space in spaces.items():
        (tmp_path / f"{name}.yaml").write_text(space)
        algorithm = space.split(":")[0]
        args = [
            "run",
            "diabetes",
            "--algorithms",
            algorithm,
            "--search",
            "grid",
            "--space",
            str(tmp_path / f"{name}.yaml"),
        ]
        runs[name] = subprocess.Popen(
            [str(script), *args, "--cv", "3", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    summaries = {}
    for name, process in runs.items():
        out, err = process.communicate(timeout=280)
        assert process.returncode == 0, err
        summaries[name] = json.loads(out)
    weak, strong = summaries["weak"], summaries["strong"]
    assert strong["test_metrics"]["roc_auc"] > weak["test_metrics"]["roc_auc"]
    registry = get_client(f"sqlite:///{tmp_path / 'work' / 'mlflow.db'}")
    champion = registry.get_model_version_by_alias("zygarde-diabetes", "champion")
    assert str(champion.version) == strong["model"]["version"], (weak["model"], strong["model"])
    assert len(registry.search_model_versions("name = 'zygarde-diabetes'")) == 2
