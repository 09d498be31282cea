"""A table beyond the memory budget: the tabular flow trains XGBoost out of core (Parquet batches into external
memory), scores the search on a hold-out validation part, registers a model that predicts on pandas rows; and
the CLI refuses what the out-of-core path cannot do, before any service starts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from prefect_dask import DaskTaskRunner

from tests.helpers import assert_one_clear_error, zygarde
from zygarde.flows.tabular import train_tabular
from zygarde.memory import services_floor
from zygarde.settings import get_settings
from zygarde.synthetic import make_table
from zygarde.tabular.config import parse_config
from zygarde.tracking import fluent_tracking_uri, get_client

pytestmark = [pytest.mark.slow, pytest.mark.integration]

FLOOR_MIB = services_floor(2) // 2**20  # zygarde's own processes with the tests' 2 workers
ABOVE_FLOOR = f"{FLOOR_MIB + 8}MiB"  # 8 MiB for data
AT_FLOOR = f"{FLOOR_MIB}MiB"  # nothing for data: any Parquet table goes out of core


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60,000 rows x 8 features in 3 parts: about 4 MiB in pandas."""
    path = tmp_path_factory.mktemp("large") / "table"
    make_table(path, 60_000, 8, seed=5, rows_per_part=20_000)
    return path


def test_a_table_over_the_budget_trains_out_of_core_and_registers_a_pandas_model(
    table: Path, dask_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zygarde.tabular.family import tabular_family
    from zygarde.tabular.outofcore.family import LargeTabularFamily

    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path))
    config = parse_config(dataset=str(table), target="label", memory_limit=ABOVE_FLOOR, trials=2, seed=1)
    family = tabular_family(config)
    assert isinstance(family, LargeTabularFamily)  # 4 MiB in pandas x IN_MEMORY_SHARE > 8 MiB
    assert family.budget.batch_rows(9) < 20_000  # each part is read in more than one batch
    summary = train_tabular.with_options(task_runner=DaskTaskRunner(address=dask_address))(config=config)
    fields = summary.model_dump()
    assert fields["cv_metrics"] == {} and 0.7 < fields["validation_metrics"]["roc_auc"] <= 1
    assert 0.7 < summary.test_metrics["roc_auc"] <= 1 and summary.best_algorithm == "xgboost"
    client = get_client(get_settings().mlflow_tracking_uri)
    parent = client.get_run(summary.mlflow["parent_run_id"])
    rows = {k: parent.data.metrics[f"rows_{k}"] for k in ("train", "validation", "test")}
    assert sum(rows.values()) == 60_000 and 0.18 < rows["test"] / 60_000 < 0.22
    children = client.search_runs(
        [summary.mlflow["experiment_id"]], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == 2
    assert all(c.data.tags["zygarde.split"].startswith("validation part") and "roc_auc" in c.data.metrics
               for c in children)  # fmt: skip
    assert summary.model["became_champion"]
    with fluent_tracking_uri(get_settings().mlflow_tracking_uri):
        model = family.load_model(f"models:/{summary.model['name']}@champion")
    sample = pd.read_parquet(next(table.glob("*.parquet"))).drop(columns="label").head(5)
    assert model.predict_proba(sample).shape == (5, 2)


def test_k_fold_cv_out_of_core_when_asked(
    table: Path, dask_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path))
    config = parse_config(dataset=str(table), target="label", memory_limit=ABOVE_FLOOR, trials=1, cv=3, seed=1)
    summary = train_tabular.with_options(task_runner=DaskTaskRunner(address=dask_address))(config=config)
    fields = summary.model_dump()
    assert fields["validation_metrics"] == {} and 0.7 < summary.cv_metrics["roc_auc"] <= 1
    (child,) = get_client(get_settings().mlflow_tracking_uri).search_runs(
        [summary.mlflow["experiment_id"]], f"tags.mlflow.parentRunId = '{summary.mlflow['parent_run_id']}'"
    )
    assert child.data.tags["zygarde.split"] == "cv on the non-test rows (3 folds)"
    assert child.data.metrics["cv_roc_auc_std"] > 0 and "3-fold CV" in fields["out_of_core"]


def test_what_out_of_core_cannot_do_is_refused_before_any_service(table: Path, tmp_path: Path) -> None:
    env = {"ZYGARDE_WORK_DIR": str(tmp_path)}
    refused = zygarde("run", "--data", str(table), "--target", "label", "--memory-limit", ABOVE_FLOOR, "--algorithms",
                      "rf,xgboost", env=env)  # fmt: skip
    assert_one_clear_error(refused, "--algorithms: rf needs the table in memory")
    assert "pass --algorithms xgboost, or a larger --memory-limit" in " ".join(refused.output.split())
    wrong = zygarde("run", "--data", str(table), "--target", "label", "--memory-limit", "lots", env=env)
    assert_one_clear_error(wrong, "--memory-limit: 'lots' is not a size; write it like 2GiB")
    text = tmp_path / "text"
    text.mkdir()
    pd.DataFrame({"x": [1.0, 2.0] * 5000, "city": ["a", "b"] * 5000, "label": [0, 1] * 5000}).to_parquet(
        text / "part-0.parquet"
    )
    named = zygarde("run", "--data", str(text), "--target", "label", "--memory-limit", AT_FLOOR, env=env)
    assert_one_clear_error(named, "reads numeric features; 'city' (large_string) is not numeric")
    assert "out of core" not in named.output.split("error:")[0]  # nothing announced before the error
    assert not (tmp_path / "mlflow.db").exists()
