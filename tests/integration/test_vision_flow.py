"""The vision flow end to end on a small copy of the shipped shirts (with broken files added), data-parallel
training equivalence on the session's Dask workers, and the bad inputs from the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from distributed import Client
from PIL import Image
from prefect_dask import DaskTaskRunner

from tests.helpers import DATA, assert_one_clear_error, report_in_browser, zygarde
from zygarde.flows.vision import train_vision
from zygarde.settings import get_settings
from zygarde.tracking import get_client
from zygarde.vision.config import parse_vision_config
from zygarde.vision.data import split_images
from zygarde.vision.manifest import build_manifest
from zygarde.vision.model import build_model
from zygarde.vision.parallel import run_on_workers
from zygarde.vision.train import train_model, train_rank

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def small_shirts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 train + 15 test images per class of the shipped set, plus a corrupt and an empty file."""
    root = tmp_path_factory.mktemp("images") / "shirts_small"
    for split, keep in (("train", 30), ("test", 15)):
        for label in ("shirt", "tshirt"):
            target = root / split / label
            target.mkdir(parents=True)
            for path in sorted((DATA / "shirts" / split / label).iterdir())[:keep]:
                shutil.copy(path, target / path.name)
    (root / "train" / "shirt" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "train" / "tshirt" / "empty.png").write_bytes(b"")
    return root


def test_data_parallel_training_matches_one_process(dask_address: str, small_shirts: Path) -> None:
    data, _ = split_images(build_manifest(small_shirts), 28, 0)
    params = {"lr": 1e-3, "batch_size": 16, "width": 8, "blocks": 2, "dropout": 0.0, "epochs": 2, "augment": True}
    torch.manual_seed(5)
    single = build_model(params, data.channels, 2, data.size)
    train_model(single, data, params, 5)
    with Client(dask_address) as client:
        results = run_on_workers(client, train_rank, 2, data, params, 5)
    assert len(results) == 2 and results[1][0] is None
    state = results[0][0]
    gap = max(float((state[name] - value).abs().max()) for name, value in single.state_dict().items())
    assert gap < 1e-4, gap  # the same global batches: equal up to floating-point reduction order


def test_vision_flow_quarantines_races_trains_and_registers(
    dask_address: str, small_shirts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path))
    config = parse_vision_config(
        dataset=str(small_shirts), epochs=2, search="random", trials=3, experiment="e2e-vision"
    )
    summary = train_vision.with_options(task_runner=DaskTaskRunner(address=dask_address))(config=config)

    assert summary.quarantined["count"] == 2
    assert {Path(f["path"]).name for f in summary.quarantined["files"]} == {"broken.png", "empty.png"}
    assert summary.n_test == 30 and summary.class_names == ["shirt", "tshirt"]
    assert summary.n_trials == 3 + 1  # successive halving: 3 configurations at 1 epoch, the best on to 2
    assert 0.0 <= summary.test_metrics["accuracy"] <= 1.0 and "recall_tshirt" in summary.test_metrics
    client = get_client(get_settings().mlflow_tracking_uri)
    parent = summary.mlflow["parent_run_id"]
    children = client.search_runs([summary.mlflow["experiment_id"]], f"tags.mlflow.parentRunId = '{parent}'")
    assert len(children) == 3  # one child run per configuration; the promoted one trained on, in its own run
    promoted = next(c for c in children if c.data.tags["zygarde.rung"] == "1")
    curve = client.get_metric_history(promoted.info.run_id, "epoch_val_accuracy")
    assert [m.step for m in curve] == [0, 1]  # its second epoch continued the first: each epoch logged once
    assert promoted.data.tags["zygarde.halving"] == "ran the full budget (2)"
    metrics = client.get_run(parent).data.metrics
    assert metrics["final_processes"] == 2 and metrics["n_quarantined"] == 2
    assert metrics["final_train_rows"] == summary.n_train + summary.n_val  # the refit sees the validation rows
    plots = {a.path for a in client.list_artifacts(parent, "plots")}
    assert plots == {"plots/confusion_matrix.png", "plots/predictions.png"}
    headings = ("Class balance of label", "Why the champion predicts what it does", "Grad-CAM on the last convolution",
                "How the champion errs", "Per class")  # fmt: skip
    dom = report_in_browser(parent, tmp_path, headings)
    assert 'alt="explain/grad_cam.png"' in dom and 'alt="plots/confusion_matrix.png"' in dom
    assert "<td>tshirt</td>" in dom  # the per-class table carries the classes' numbers
    name = summary.model["name"]
    assert name.startswith("zygarde-shirts-small-") and summary.model["became_champion"]
    assert str(client.get_model_version_by_alias(name, "champion").version) == summary.model["version"]


def _folder(tmp_path: Path, case: str, source: Path) -> Path:
    root = tmp_path / case
    if case == "one_class":
        shutil.copytree(source / "train" / "shirt", root / "shirt")
    elif case == "empty_class":
        shutil.copytree(source / "train" / "shirt", root / "shirt")
        (root / "tshirt").mkdir()
    elif case == "three_per_class":
        for label in ("shirt", "tshirt"):
            (root / label).mkdir(parents=True)
            for path in sorted((source / "train" / label).glob("*.png"))[:3]:
                shutil.copy(path, root / label / path.name)
    elif case == "test_class_not_in_train":
        shutil.copytree(source, root)
        shutil.copytree(source / "test" / "shirt", root / "test" / "dress")
    elif case == "all_corrupt":
        for label in ("cat", "dog"):
            (root / label).mkdir(parents=True)
            for i in range(10):
                (root / label / f"{i}.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return root


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("one_class", [], "needs at least 2 class folders"),
        ("empty_class", [], "too few images to train and test on (tshirt: 0)"),
        ("three_per_class", [], "too few images to train and test on (shirt: 3, tshirt: 3)"),
        ("test_class_not_in_train", [], "class folder(s) dress have no counterpart"),
        ("absent", [], "Image folder not found"),
        ("small", ["--image-size", "0"], "--image-size"),
    ],
)
def test_bad_vision_input_fails_before_any_service_starts(
    case: str, extra: list[str], message: str, small_shirts: Path, tmp_path: Path
) -> None:
    folder = small_shirts if case == "small" else _folder(tmp_path, case, small_shirts)
    args = ["vision", "--data", str(folder), "--epochs", "1", "--search", "random", "--trials", "1", *extra]
    assert_one_clear_error(zygarde(*args, env={"ZYGARDE_DASK_ADDRESS": "tcp://127.0.0.1:9"}), message)


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("all_corrupt", [], "none of the 20 files is a readable image"),
        ("small", ["--batch-size", "5000"], "--batch-size 5000 is larger than the training split"),
    ],
)
def test_vision_errors_found_by_the_flow_are_one_line(
    case: str, extra: list[str], message: str, dask_address: str, small_shirts: Path, tmp_path: Path
) -> None:
    folder = small_shirts if case == "small" else _folder(tmp_path, case, small_shirts)
    versions = len(get_client(get_settings().mlflow_tracking_uri).search_model_versions())
    args = ["vision", "--data", str(folder), "--epochs", "1", "--search", "random", "--trials", "1", *extra]
    assert_one_clear_error(zygarde(*args, env={"ZYGARDE_DASK_ADDRESS": dask_address}), message)
    assert len(get_client(get_settings().mlflow_tracking_uri).search_model_versions()) == versions


def test_an_image_that_trips_the_decompression_bomb_guard_is_quarantined(tmp_path: Path) -> None:
    root = tmp_path / "bomb"
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        Image.new("L", (12, 12), 128).save(root / label / "fine.png")
    Image.new("1", (10_000, 10_000)).save(root / "a" / "huge.png")  # 100 M pixels: above Pillow's limit
    manifest = build_manifest(root)
    huge = manifest.frame.set_index("path").loc[str(root / "a" / "huge.png")]
    assert not huge["decodable"] and "decompression-bomb" in huge["problem"]
    assert len(manifest.usable) == 2


def test_the_manifest_is_decoded_on_the_cluster_in_chunks_with_the_same_result(
    dask_address: str, small_shirts: Path
) -> None:
    import pandas as pd

    from zygarde.vision.manifest import inspect_on_cluster

    here = build_manifest(small_shirts)
    with Client(dask_address) as client:
        spread = build_manifest(small_shirts, lambda paths: inspect_on_cluster(client, paths, chunk=8))
        prefixes = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    pd.testing.assert_frame_equal(here.frame, spread.frame)
    assert len(here.frame) > 8 and "inspect_images" in prefixes  # decoded by the workers, 8 files a task
