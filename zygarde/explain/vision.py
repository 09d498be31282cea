"""Where the CNN looks: Grad-CAM (the last convolution's activations weighted by the class score's gradient,
through hooks; torchvision-free) on the most confident right and wrong test images."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from zygarde.explain import Deadline, Explanation, Steps

SHOWN = 4  # right and wrong images each


def last_convolution(model: nn.Module) -> nn.Conv2d:
    """The network's last 2-d convolution (Grad-CAM's layer)."""
    found = [module for module in model.modules() if isinstance(module, nn.Conv2d)]
    if not found:
        raise ValueError("the network has no 2-d convolution to take Grad-CAM from")
    return found[-1]


def grad_cam(model: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> np.ndarray:
    """Heat maps (N x H x W, each scaled to [0, 1]) of where ``images`` (floats in [0, 1]) support ``classes``."""
    layer = last_convolution(model)
    kept: dict[str, torch.Tensor] = {}

    def forward_hook(_: nn.Module, __: Any, output: torch.Tensor) -> None:
        kept["activations"] = output
        output.register_hook(lambda gradient: kept.__setitem__("gradients", gradient))

    handle = layer.register_forward_hook(forward_hook)
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(images.clone().requires_grad_(True))
            logits.gather(1, classes.view(-1, 1)).sum().backward()
    finally:
        handle.remove()
    weights = kept["gradients"].mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * kept["activations"]).sum(dim=1, keepdim=True))
    cam = torch.nn.functional.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    top = cam.flatten(1).max(dim=1).values.clamp_min(1e-12).view(-1, 1, 1)
    return (cam / top).detach().numpy()


def explain_images(model: nn.Module, test: Any, proba: np.ndarray, seconds: float) -> Explanation:
    """Grad-CAM on the ``SHOWN`` most confident right and wrong test images (``proba``: the test probabilities)."""
    explanation = Explanation(method="Grad-CAM on the last convolution (test split)")
    steps = Steps(seconds, explanation)
    predicted = proba.argmax(1)
    truth = test.y.numpy()
    confidence = proba.max(1)
    right = [int(i) for i in np.argsort(-confidence) if predicted[i] == truth[i]][:SHOWN]
    wrong = [int(i) for i in np.argsort(-confidence) if predicted[i] != truth[i]][:SHOWN]

    def cams(deadline: Deadline) -> None:
        chosen = right + wrong
        images = test.x[chosen].float() / 255
        maps = grad_cam(model, images, torch.as_tensor(predicted[chosen]))
        deadline.check()
        explanation.rows = len(chosen)
        explanation.figures["explain/grad_cam.png"] = _figure(images, maps, chosen, predicted, truth, proba, test)
        explanation.json["explain/grad_cam.json"] = [
            {"path": test.paths[i] if test.paths else str(i), "predicted": test.class_names[predicted[i]],
             "true": test.class_names[truth[i]], "confidence": float(confidence[i])} for i in chosen]  # fmt: skip

    steps.run("Grad-CAM", cams)
    explanation.notes.insert(0, f"{explanation.method}; {len(right)} right and {len(wrong)} wrong images")
    return explanation


def _figure(images: torch.Tensor, maps: np.ndarray, chosen: list[int], predicted: np.ndarray, truth: np.ndarray,
            proba: np.ndarray, test: Any) -> Figure:  # fmt: skip
    figure, axes = plt.subplots(2, len(chosen), figsize=(1.8 * len(chosen), 4), squeeze=False)
    for column, (index, image, heat) in enumerate(zip(chosen, images, maps, strict=True)):
        pixels = image.permute(1, 2, 0).numpy()
        pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
        colour = "green" if predicted[index] == truth[index] else "red"
        for row, overlay in enumerate((False, True)):
            axis = axes[row][column]
            axis.imshow(pixels, cmap="gray")
            if overlay:
                axis.imshow(heat, cmap="jet", alpha=0.45)
            axis.axis("off")
        label = f"{test.class_names[predicted[index]]} {proba[index].max():.2f}"
        if colour == "red":
            label += f"\n(true {test.class_names[truth[index]]})"
        axes[0][column].set_title(label, fontsize=7, color=colour)
    figure.suptitle("Grad-CAM: most confident right (green) and wrong (red) test images", fontsize=9)
    figure.tight_layout()
    return figure
