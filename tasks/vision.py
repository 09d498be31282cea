"""Vision stages: manifest and quarantine, splits, the data-parallel final training, test evaluation, registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from distributed import worker_client
from matplotlib.figure import Figure
from prefect import task
from prefect.artifacts import create_table_artifact
from sklearn import metrics as skm

from zygarde.config import VisionRunConfig
from zygarde.registry import RegisteredModel, log_and_register_torch
from zygarde.search import run_on_workers
from zygarde.settings import get_settings
from zygarde.tracking import RunContext, get_client, log_figure, log_json, log_metrics
from zygarde.trials import TrialResult
from zygarde.validation import ValidationReport, run_suite
from zygarde.vision import (
    SHIRTS,
    ImageData,
    ImageManifest,
    Normalized,
    accuracy_on_test,
    build_manifest,
    build_model,
    check_classes,
    image_suite,
    manifest_frames,
    split_images,
    train_rank,
)

from ._stage import stage
from .register import register_version
from .validate import publish_validation


def image_root(dataset: str) -> Path:
    """The folder of a built-in image set (``shirts``) or the user's folder."""
    return get_settings().data_root / SHIRTS if dataset == SHIRTS else Path(dataset).expanduser()


@task(name="manifest", task_run_name="manifest of {config.dataset}")
def scan_images(config: VisionRunConfig) -> ImageManifest:
    """Every file's class, split, size, mode and decodability; at least two classes with readable images."""
    manifest = build_manifest(image_root(config.dataset))
    check_classes(manifest)
    return manifest


@task(name="validate", task_run_name="validate the manifest")
def validate_manifest(manifest: ImageManifest, run: RunContext) -> ValidationReport:
    """The manifest's GX suite; quarantined files are listed (MLflow JSON, Prefect table), never fatal alone."""
    with stage("validate", run):
        frames, suites = manifest_frames(manifest), image_suite()
        reports = [run_suite(frames[key], {"name": f"images-{key}", "expectations": suites[key]}) for key in suites]
        report = ValidationReport(
            suite="images",
            evaluated=sum(r.evaluated for r in reports),
            failures=[f for r in reports for f in r.failures],
        )
    quarantined = manifest.quarantined[["path", "label", "bytes", "problem"]].to_dict(orient="records")
    log_json(run.tracking_uri, run.run_id, quarantined, "validation/quarantined.json")
    log_metrics(run.tracking_uri, run.run_id, {"n_files": len(manifest.frame), "n_quarantined": len(quarantined)})
    if quarantined:
        create_table_artifact(key="quarantined-images", table=quarantined[:500], description="Skipped files, and why")
    return publish_validation(report, manifest.root, run)


@task(name="preprocess", task_run_name="split and load images at {config.image_size}px")
def prepare_images(manifest: ImageManifest, config: VisionRunConfig, run: RunContext) -> ImageData:
    """Stratified splits, images decoded and resized once; normalisation statistics from the training split."""
    with stage("preprocess", run):
        data = split_images(
            manifest, config.image_size, config.seed, config.test_size, max_per_class=config.max_per_class
        )
    log_metrics(
        run.tracking_uri,
        run.run_id,
        {"n_train": len(data.train_y), "n_val": len(data.val_y), "n_test": len(data.test_y), "channels": data.channels},
    )
    log_json(
        run.tracking_uri,
        run.run_id,
        {"mean": data.mean.tolist(), "std": data.std.tolist(), "from": "training split"},
        "preprocess/normalisation.json",
    )
    return data


@task(name="train", task_run_name="train the best configuration on {processes} processes")
def train_final(
    data: ImageData, best: TrialResult, config: VisionRunConfig, processes: int, run: RunContext
) -> torch.nn.Module:
    """Refit the winner on training + validation rows for the epochs its search run needed to peak,
    data-parallel (torch.distributed, gloo), one rank per Dask worker."""
    epochs = int(best.cv_mean.get("best_epoch", config.epochs))
    params = {k: v for k, v in best.params.items() if k != "rung"} | {"epochs": epochs, "early_stopping": False}
    final = data.with_validation_in_training()
    with stage("train", run), worker_client() as client:
        results = run_on_workers(client, train_rank, processes, final, params, config.seed)
    state, history = results[0]
    model = build_model(params, data.channels, len(data.class_names), data.size)
    model.load_state_dict(state)
    client = get_client(run.tracking_uri)
    for name in ("train_loss", "train_accuracy"):  # validation rows are training rows now: no val curve
        for step, value in enumerate(history.curves[name]):
            client.log_metric(run.run_id, f"final_{name}", value, step=step)
    log_metrics(
        run.tracking_uri,
        run.run_id,
        {
            "final_processes": len(results),
            "final_images_per_second": sum(h.images_per_second for _, h in results),
            "final_epochs": epochs,
            "final_train_rows": len(final.train_y),
        },
    )
    log_json(run.tracking_uri, run.run_id, {"params": params, "curves": history.curves}, "final_training.json")
    return Normalized(model, final.mean, final.std)


@task(name="evaluate", task_run_name="evaluate on the test split")
def evaluate_network(model: torch.nn.Module, data: ImageData, run: RunContext) -> dict[str, float]:
    """Test accuracy, per-class precision/recall, confusion matrix, and sample predictions (mistakes first)."""
    with stage("evaluate", run):
        model.eval()
        with torch.no_grad():
            probabilities = torch.cat(
                [model(data.test_x[i : i + 512].float() / 255).softmax(1) for i in range(0, len(data.test_x), 512)]
            ).numpy()
        predicted, truth = probabilities.argmax(1), data.test_y.numpy()
        metrics = {
            "accuracy": float(skm.accuracy_score(truth, predicted)),
            "balanced_accuracy": float(skm.balanced_accuracy_score(truth, predicted)),
        }
        precision, recall, _, support = skm.precision_recall_fscore_support(
            truth, predicted, labels=range(len(data.class_names)), zero_division=0
        )
        per_class = [
            {"class": name, "precision": float(p), "recall": float(r), "support": int(n)}
            for name, p, r, n in zip(data.class_names, precision, recall, support, strict=True)
        ]
        for row in per_class:
            metrics[f"precision_{row['class']}"] = row["precision"]
            metrics[f"recall_{row['class']}"] = row["recall"]
        log_figure(
            run.tracking_uri, run.run_id, _confusion(truth, predicted, data.class_names), "plots/confusion_matrix.png"
        )
        log_figure(run.tracking_uri, run.run_id, _samples(data, predicted, probabilities), "plots/predictions.png")
    log_metrics(run.tracking_uri, run.run_id, {f"test_{k}": v for k, v in metrics.items()})
    log_json(run.tracking_uri, run.run_id, per_class, "per_class.json")
    create_table_artifact(
        key="test-per-class", table=per_class, description="Test split: precision and recall per class"
    )
    return metrics


def _confusion(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> Figure:
    figure, axis = plt.subplots(figsize=(4.5, 4))
    skm.ConfusionMatrixDisplay.from_predictions(truth, predicted, display_labels=classes, ax=axis, colorbar=False)
    axis.set_title("Test split")
    figure.tight_layout()
    return figure


def _samples(data: ImageData, predicted: np.ndarray, probabilities: np.ndarray, shown: int = 24) -> Figure:
    """A grid of test images with predicted (and true) class: misclassified first, most confident first."""
    truth = data.test_y.numpy()
    wrong = predicted != truth
    order = np.lexsort((-probabilities.max(1), ~wrong))[:shown]
    columns = 6
    figure, axes = plt.subplots(
        (len(order) + columns - 1) // columns, columns, figsize=(10, 1.9 * len(order) / columns + 0.5)
    )
    for axis in np.ravel(axes):
        axis.axis("off")
    for axis, index in zip(np.ravel(axes), order, strict=False):
        image = data.test_x[index].permute(1, 2, 0).numpy()
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        colour = "red" if wrong[index] else "green"
        label = f"{data.class_names[predicted[index]]} {probabilities[index].max():.2f}"
        label += f"\n(true {data.class_names[truth[index]]})" if wrong[index] else ""
        axis.set_title(label, fontsize=7, color=colour)
    figure.suptitle("Test predictions: mistakes first (red), then correct (green)")
    figure.tight_layout()
    return figure


@task(name="register", task_run_name="register {name}", retries=1, retry_delay_seconds=2)
def register_network(
    model: torch.nn.Module, data: ImageData, accuracy: float, name: str, run: RunContext
) -> RegisteredModel:
    """Log the network with ``mlflow.pytorch`` and register it; the champion is re-scored on this test split."""

    def score_champion(model_uri: str) -> float | None:
        import mlflow.pytorch

        return accuracy_on_test(mlflow.pytorch.load_model(model_uri, map_location="cpu"), data)

    example = (data.test_x[:4].float() / 255).numpy()
    return register_version(
        lambda: log_and_register_torch(run.tracking_uri, run.run_id, model, example, name),
        name, run, "accuracy", accuracy, True, score_champion, "test",
    )  # fmt: skip


def quarantine_summary(manifest: ImageManifest) -> dict[str, Any]:
    """Count and list of the skipped files, for the run's summary."""
    rows = manifest.quarantined[["path", "problem"]].to_dict(orient="records")
    return {"count": len(rows), "files": rows}
