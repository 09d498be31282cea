"""``--engine spark`` on a Parquet table beyond the memory budget: Spark reads the table itself (parts by a seeded
hash of file and row number, cached memory-and-disk), trials fit and are scored in Spark with scikit-learn's
metric definitions, and the registered Spark model predicts on pandas rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prefect_dask import DaskTaskRunner
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from tests.helpers import assert_one_clear_error, zygarde
from zygarde.flows.tabular import train_tabular
from zygarde.memory import services_floor
from zygarde.settings import get_settings
from zygarde.tabular.config import parse_config
from zygarde.tabular.evaluate import prediction_metrics
from zygarde.tabular.spark.table import SparkSplit
from zygarde.tracking import fluent_tracking_uri, get_client

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.spark]

ABOVE_FLOOR = f"{services_floor(2) // 2**20 + 8}MiB"  # 8 MiB for data: any table here goes past it


def _table(folder: Path, rows: int, classes: int, seed: int) -> Path:
    """Two Parquet parts: 3 numeric columns, a category, and a target of ``classes`` classes (0: a quantity)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3))
    signal = X @ np.array([1.5, -1.0, 0.5]) + rng.normal(scale=0.7, size=rows)
    target = signal if classes == 0 else np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1]))
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(city=rng.choice(["x", "y", "z"], rows), target=target)
    folder.mkdir(parents=True)
    half = rows // 2
    frame.iloc[:half].to_parquet(folder / "part-0.parquet")
    frame.iloc[half:].to_parquet(folder / "part-1.parquet")
    return folder


def _split(folder: Path, task: str, values: tuple[object, ...]) -> SparkSplit:
    files = tuple(str(p) for p in sorted(folder.glob("*.parquet")))
    return SparkSplit(files, ("a", "b", "c"), "target", task, values, seed=4, test_size=0.2, validation_size=0.1,
                      batch_rows=10_000, scratch="", table_rows=6_000)  # fmt: skip


@pytest.mark.parametrize("classes", [2, 3, 0], ids=["binary", "multiclass", "regression"])
def test_spark_scores_any_model_on_its_parts_exactly_as_scikit_learn_would(
    spark: object, tmp_path: Path, classes: int
) -> None:
    folder = _table(tmp_path / "t", 6_000, classes, seed=classes)
    task = "regression" if classes == 0 else "classification"
    split = _split(folder, task, tuple(range(classes)))
    counts = split.count_parts()
    assert sum(counts.values()) == 6_000 and 0.17 < counts["test"] / 6_000 < 0.23
    assert 0.08 < counts["validation"] / 6_000 < 0.12
    train = split.part("train").toPandas()
    assert len(train) == counts["train"] and list(train.columns) == ["a", "b", "c", "label", "__u"]
    again = SparkSplit(*(getattr(split, f) for f in ("files", "features", "target", "task", "class_values")), seed=4,
                       test_size=0.2, validation_size=0.1, batch_rows=99, scratch="x", table_rows=6_000)  # fmt: skip
    assert again.part("test").toPandas()["__u"].sort_values().tolist() == sorted(
        split.part("test").toPandas()["__u"]
    )  # a row's part depends on the seed, its file and its row number only
    model = (RandomForestRegressor if task == "regression" else RandomForestClassifier)(20, random_state=0)
    model.fit(train[["a", "b", "c"]], train["label"])
    metrics, y, output = split.scored(model, "test")
    test = split.part("test").toPandas()
    X_test = test[["a", "b", "c"]]
    expected = prediction_metrics(
        test["label"].to_numpy(), model.predict(X_test) if task == "regression" else model.predict_proba(X_test), task
    )
    assert metrics.keys() == expected.keys()
    assert all(abs(metrics[k] - expected[k]) < 1e-9 for k in expected), (metrics, expected)
    assert len(y) == counts["test"] and len(output) == len(y)  # under FIGURE_ROWS: every row drawn


def test_the_spark_engine_trains_a_table_over_the_budget_reading_it_itself(
    dask_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zygarde.tabular.family import tabular_family
    from zygarde.tabular.spark.table import SparkTableFamily

    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path))
    folder = _table(tmp_path / "table", 60_000, 2, seed=9)
    space = {"gbt": {"maxIter": [10], "maxDepth": [3], "stepSize": [0.3]}}
    config = parse_config(dataset=str(folder), target="target", memory_limit=ABOVE_FLOOR, engine="spark",
                          algorithms=["gbt"], search="grid", space=space, seed=2)  # fmt: skip
    family = tabular_family(config)
    assert isinstance(family, SparkTableFamily) and "Spark reads the table itself" in family.describe()
    summary = train_tabular.with_options(task_runner=DaskTaskRunner(address=dask_address))(config=config)
    fields = summary.model_dump()
    assert summary.best_algorithm == "gbt" and 0.8 < fields["validation_metrics"]["roc_auc"] <= 1
    assert 0.8 < summary.test_metrics["roc_auc"] <= 1 and summary.model["became_champion"]
    client = get_client(get_settings().mlflow_tracking_uri)
    parent = client.get_run(summary.mlflow["parent_run_id"])
    assert sum(parent.data.metrics[f"rows_{k}"] for k in ("train", "validation", "test")) == 60_000
    (child,) = client.search_runs(
        [summary.mlflow["experiment_id"]], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert child.data.tags["zygarde.split"].startswith("validation part")
    with fluent_tracking_uri(get_settings().mlflow_tracking_uri):
        model = family.load_model(f"models:/{summary.model['name']}@champion")
    rows = pd.read_parquet(folder / "part-0.parquet").drop(columns="target").head(5)
    assert model.predict_proba(rows).shape == (5, 2)  # the user's own columns, category included


def test_xgboost_on_spark_with_a_text_column_is_refused_before_any_service(tmp_path: Path) -> None:
    folder = _table(tmp_path / "text", 60_000, 2, seed=1)
    env = {"ZYGARDE_WORK_DIR": str(tmp_path)}
    refused = zygarde("run", "--data", str(folder), "--target", "target", "--memory-limit", ABOVE_FLOOR,
                      "--engine", "spark", "--algorithms", "xgboost", env=env)  # fmt: skip
    assert_one_clear_error(refused, "--algorithms: xgboost on Spark takes numeric columns; 'city' is not")
    assert not (tmp_path / "mlflow.db").exists()
