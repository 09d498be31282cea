"""The clustering flow end to end on the shipped Burger King menu, and its bad inputs from the CLI."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from prefect_dask import DaskTaskRunner

from tests.helpers import DATA, assert_one_clear_error, report_in_browser, zygarde
from zygarde.cluster.config import parse_cluster_config
from zygarde.cluster.family import ClusterFamily
from zygarde.flows.cluster import cluster
from zygarde.settings import get_settings
from zygarde.tracking import fluent_tracking_uri, get_client

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_cluster_flow_searches_presents_and_registers_a_predictor(
    dask_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path))
    config = parse_cluster_config(max_clusters=4, experiment="e2e-cluster")
    summary = cluster.with_options(task_runner=DaskTaskRunner(address=dask_address))(config=config)

    assert summary.n_rows == 70 and set(summary.dropped_columns) == {"vit_a", "vit_c", "calcium"}
    assert summary.n_trials_degenerate > 0 and summary.n_trials_failed == 0
    assert summary.metrics["silhouette"] == max(row["silhouette"] for row in summary.leaderboard)
    assert set(summary.best_per_algorithm) == {"kmeans", "dbscan", "agglomerative"}
    assert summary.reference is not None and summary.reference["study_silhouette"] == 0.529
    client = get_client(get_settings().mlflow_tracking_uri)
    parent = summary.mlflow["parent_run_id"]
    children = client.search_runs(
        [summary.mlflow["experiment_id"]], f"tags.mlflow.parentRunId = '{parent}'", max_results=500
    )
    assert len(children) == summary.n_trials
    degenerate = [c for c in children if c.data.metrics["degenerate"] == 1.0]
    assert len(degenerate) == summary.n_trials_degenerate
    assert all("silhouette" in c.data.metrics for c in children if c.data.metrics["n_clusters"] >= 2)
    assert {c.data.tags["zygarde.split"] for c in children} == {"all rows of the table (unsupervised)"}
    artifacts = {a.path for a in client.list_artifacts(parent, "clusters/best")}
    assert artifacts == {f"clusters/best/{f}" for f in ("pca.png", "silhouette.png", "profile.json")}
    dom = report_in_browser(parent, tmp_path, ("Data", "70 rows", "Why the champion predicts what it does",
                                               "Importance: ANOVA F of each feature across the clusters"))  # fmt: skip
    assert 'alt="explain/cluster_means.png"' in dom and 'alt="clusters/best/pca.png"' in dom

    name = summary.model["name"]
    assert name == "zygarde-fastfood-burger-king" and summary.model["became_champion"]
    assert str(client.get_model_version_by_alias(name, "champion").version) == summary.model["version"]
    with fluent_tracking_uri(get_settings().mlflow_tracking_uri):
        model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    menu = pd.read_csv(DATA / "fastfood_nutrition.csv")
    new_items = menu[menu.restaurant == "Mcdonalds"][summary.features].head(5).astype("float64")
    labels = np.asarray(model.predict(new_items))
    assert labels.shape == (5,) and set(labels.tolist()) <= set(range(-1, 4))
    # the registered pipeline scores on these rows exactly what its trial scored: one model, one labelling
    family = ClusterFamily(config)
    table = family.load()
    with fluent_tracking_uri(get_settings().mlflow_tracking_uri):
        registered = family.load_model(f"models:/{name}@champion")
    assert family.score(registered, family.prepare(table)) == pytest.approx(summary.metrics["silhouette"])

    # a weaker search (DBSCAN only, its noise counted) leaves the champion where it is
    weaker = cluster.with_options(task_runner=DaskTaskRunner(address=dask_address))(
        config=parse_cluster_config(algorithms=["dbscan"], max_clusters=4, experiment="e2e-cluster")
    )
    assert weaker.metrics["silhouette"] < summary.metrics["silhouette"]
    assert not weaker.model["became_champion"] and "does not beat" in weaker.model["reason"]
    assert "re-scored on this run's rows of the table" in weaker.model["reason"]
    assert str(client.get_model_version_by_alias(name, "champion").version) == summary.model["version"]

    # the study's preset: its one configuration, on two features, registered under a name of its own
    preset = cluster.with_options(task_runner=DaskTaskRunner(address=dask_address))(
        config=parse_cluster_config(preset="study", experiment="e2e-cluster")
    )
    assert preset.n_trials == 1 and preset.features == ["total_fat", "total_carb"]
    assert preset.metrics["silhouette"] == pytest.approx(preset.reference["silhouette"])
    assert preset.model["name"] == f"{name}-study" and preset.model["became_champion"]
    assert str(client.get_model_version_by_alias(name, "champion").version) == summary.model["version"]


@pytest.mark.parametrize(
    ("table", "args", "env", "message"),
    [
        ("words", [], {}, "no numeric feature columns"),
        ("tiny", [], {}, "Fewer rows than clusters: 4 rows"),
        ("holes", ["--features", "f,g"], {}, "every chosen feature column is entirely empty"),
        (None, ["--restaurant", "Burger Queen"], {}, "valid: Arbys, Burger King"),
        (None, ["--algorithms", "kmeans,dbscan"], {"ZYGARDE_PAIRWISE_MEMORY_SHARE": "1e-9"}, "dbscan need about"),
        (None, ["--algorithms", "spectral"], {}, "--algorithms"),
    ],
)
def test_bad_cluster_input_is_one_clear_error_and_registers_nothing(
    table: str | None, args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    frames = {
        "words": pd.DataFrame({"item": ["a", "b", "c"], "kind": ["x", "y", "z"]}),
        "tiny": pd.DataFrame({"item": list("abcd"), "f": [1.0, 2.0, 3.0, 4.0]}),
        "holes": pd.DataFrame({"item": list("abcdefghij"), "f": [np.nan] * 10, "g": [np.nan] * 10, "h": range(10)}),
    }
    data: list[str] = []
    if table is not None:
        path = tmp_path / f"{table}.csv"
        frames[table].to_csv(path, index=False)
        data = ["--data", str(path)]
    versions = len(get_client(get_settings().mlflow_tracking_uri).search_model_versions())
    run = zygarde("cluster", *data, *args, env={"ZYGARDE_DASK_ADDRESS": "tcp://127.0.0.1:9", **env})
    assert_one_clear_error(run, message)  # all of them found before any service starts (the address is dead)
    assert len(get_client(get_settings().mlflow_tracking_uri).search_model_versions()) == versions
