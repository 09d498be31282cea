"""The final network on the test split: probabilities, metrics (overall and per class) and the figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from sklearn import metrics as skm
from torch import nn

from zygarde.vision.data import HeldOutImages


def probabilities(model: nn.Module, test: HeldOutImages, batch: int = 512) -> np.ndarray:
    """Class probabilities of a registered-style model (floats in [0, 1] in, logits out) on the test images."""
    model.eval()
    with torch.no_grad():
        return torch.cat(
            [model(test.x[i : i + batch].float() / 255).softmax(1) for i in range(0, len(test.x), batch)]
        ).numpy()


def accuracy(model: nn.Module, test: HeldOutImages) -> float:
    """Accuracy on the test images: the champion rule of the vision family."""
    return float((probabilities(model, test).argmax(1) == test.y.numpy()).mean())


def score_predictions(predicted: np.ndarray, test: HeldOutImages) -> tuple[dict[str, float], list[dict[str, object]]]:
    """Accuracy, balanced accuracy, and precision/recall per class."""
    truth = test.y.numpy()
    metrics = {
        "accuracy": float(skm.accuracy_score(truth, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(truth, predicted)),
    }
    precision, recall, _, support = skm.precision_recall_fscore_support(
        truth, predicted, labels=range(len(test.class_names)), zero_division=0
    )
    per_class = [
        {"class": name, "precision": float(p), "recall": float(r), "support": int(n)}
        for name, p, r, n in zip(test.class_names, precision, recall, support, strict=True)
    ]
    for name, p, r in zip(test.class_names, precision, recall, strict=True):
        metrics[f"precision_{name}"], metrics[f"recall_{name}"] = float(p), float(r)
    return metrics, per_class


def confusion_figure(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> Figure:
    figure, axis = plt.subplots(figsize=(4.5, 4))
    skm.ConfusionMatrixDisplay.from_predictions(truth, predicted, display_labels=classes, ax=axis, colorbar=False)
    axis.set_title("Test split")
    figure.tight_layout()
    return figure


def sample_figure(test: HeldOutImages, predicted: np.ndarray, probabilities: np.ndarray, shown: int = 24) -> Figure:
    """A grid of test images with predicted (and true) class: misclassified first, most confident first."""
    truth = test.y.numpy()
    wrong = predicted != truth
    order = np.lexsort((-probabilities.max(1), ~wrong))[:shown]
    columns = 6
    figure, axes = plt.subplots(
        (len(order) + columns - 1) // columns, columns, figsize=(10, 1.9 * len(order) / columns + 0.5)
    )
    for axis in np.ravel(axes):
        axis.axis("off")
    for axis, index in zip(np.ravel(axes), order, strict=False):
        image = test.x[index].permute(1, 2, 0).numpy()
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        colour = "red" if wrong[index] else "green"
        label = f"{test.class_names[predicted[index]]} {probabilities[index].max():.2f}"
        label += f"\n(true {test.class_names[truth[index]]})" if wrong[index] else ""
        axis.set_title(label, fontsize=7, color=colour)
    figure.suptitle("Test predictions: mistakes first (red), then correct (green)")
    figure.tight_layout()
    return figure
