"""The networks: a small CNN (searched), torchvision's ResNet-18 (untrained), and the registered wrapper that
takes images as floats in [0, 1] and normalises them with the training statistics."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zygarde.errors import ZygardeError, option


class SmallCNN(nn.Module):
    """Conv blocks (conv 3x3, optional GroupNorm, ReLU, max-pool; width doubling), dropout, linear head on the
    whole final map: where a collar or a sleeve is matters, not only whether it is there (a 1x1 pooled head
    lost 0.05 of accuracy on the shirts). GroupNorm, not BatchNorm: it normalises each image on its own, so
    data-parallel training over any split of a batch computes what one process computes on the whole batch.
    """

    def __init__(
        self, channels: int, n_classes: int, size: int, width: int = 32, blocks: int = 2, dropout: float = 0.25,
        norm: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        if size // 2**blocks < 1:
            raise ZygardeError(
                f"{option('image_size')} {size} is too small for {blocks} conv blocks; use at least {2**blocks}."
            )
        layers: list[nn.Module] = []
        current = channels
        for block in range(blocks):
            out = width * 2**block
            layers += [nn.Conv2d(current, out, 3, padding=1)]
            layers += [nn.GroupNorm(min(8, out), out)] if norm else []
            layers += [nn.ReLU(), nn.MaxPool2d(2)]
            current = out
        side = size // 2**blocks
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(current * side * side, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of normalised images."""
        return self.head(self.features(x))


class Normalized(nn.Module):
    """The registered model: takes images as floats in [0, 1], normalises with the training statistics."""

    def __init__(self, model: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", mean.view(1, -1, 1, 1).clone())
        self.register_buffer("std", std.view(1, -1, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for ``N x C x H x W`` images in [0, 1]."""
        return self.model((x - self.mean) / self.std)


def build_model(params: dict[str, Any], channels: int, n_classes: int, size: int) -> nn.Module:
    """``arch``: ``cnn`` (``SmallCNN`` with width/blocks/dropout) or ``resnet18`` (torchvision, no weights)."""
    if params.get("arch", "cnn") == "resnet18":
        from torchvision.models import resnet18

        model = resnet18(weights=None, num_classes=n_classes)
        if channels != 3:
            model.conv1 = nn.Conv2d(channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        return model
    return SmallCNN(
        channels, n_classes, size, params.get("width", 32), params.get("blocks", 2), params.get("dropout", 0.25),
        params.get("norm", False),
    )  # fmt: skip
