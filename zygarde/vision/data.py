"""Images as tensors: decoded and resized once into uint8, split (stratified) into a search view (training and
validation images) and an evaluation view (test images) that no trial receives."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from PIL import Image

from zygarde.errors import ZygardeError, option
from zygarde.vision.manifest import GREY_MODES, ImageManifest


def to_array(image: Image.Image, channels: int, size: int) -> np.ndarray:
    """One image as uint8 ``channels x size x size``: palette and alpha composited on white, CMYK to RGB."""
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    if image.mode in ("I", "I;16", "F"):
        image = image.point(lambda v: v / 256).convert("L") if image.mode != "F" else image.convert("L")
    image = image.convert("L" if channels == 1 else "RGB").resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if channels == 1 else array.transpose(2, 0, 1)


def load_images(paths: list[str], channels: int, size: int) -> torch.Tensor:
    """Decode and resize every image once: a uint8 tensor ``N x C x size x size``."""
    out = np.empty((len(paths), channels, size, size), dtype=np.uint8)
    for index, path in enumerate(paths):
        with Image.open(path) as image:
            out[index] = to_array(image, channels, size)
    return torch.from_numpy(out)


def channels_of(manifest: ImageManifest) -> int:
    """1 when every usable image is greyscale, else 3."""
    return 1 if set(manifest.usable["mode"]) <= GREY_MODES else 3


@dataclass
class ImageData:
    """The search view: training and validation tensors (uint8) and labels, normalisation from training only."""

    class_names: list[str]
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    mean: torch.Tensor = field(default_factory=lambda: torch.zeros(1))
    std: torch.Tensor = field(default_factory=lambda: torch.ones(1))

    def __post_init__(self) -> None:
        pixels = self.train_x.float().div_(255)
        self.mean = pixels.mean(dim=(0, 2, 3))
        self.std = pixels.std(dim=(0, 2, 3)).clamp_min(1e-3)

    def with_validation_in_training(self) -> ImageData:
        """The final fit's data: training and validation rows together (statistics recomputed on both)."""
        return ImageData(
            self.class_names,
            torch.cat([self.train_x, self.val_x]),
            torch.cat([self.train_y, self.val_y]),
            self.val_x,
            self.val_y,
        )

    @property
    def channels(self) -> int:
        """Colour channels of every tensor."""
        return int(self.train_x.shape[1])

    @property
    def size(self) -> int:
        """Side of the (square) images."""
        return int(self.train_x.shape[-1])


@dataclass
class HeldOutImages:
    """The evaluation view: test images (uint8), labels and paths; never sent to a trial."""

    class_names: list[str]
    x: torch.Tensor
    y: torch.Tensor
    paths: list[str] = field(default_factory=list)


def split_images(
    manifest: ImageManifest, size: int, seed: int, test_size: float = 0.2, val_size: float = 0.15,
    max_per_class: int | None = None,
) -> tuple[ImageData, HeldOutImages]:  # fmt: skip
    """Stratified splits of the usable images (the folder's own test split when it has one)."""
    from sklearn.model_selection import train_test_split

    usable = manifest.usable
    if max_per_class:
        usable = usable.groupby(["split", "label"], group_keys=False).head(max_per_class)
    index = {name: i for i, name in enumerate(manifest.class_names)}
    train = usable[usable["split"] == "train"]
    try:
        if manifest.has_test_split:
            test = usable[usable["split"] == "test"]
        else:
            train, test = train_test_split(train, test_size=test_size, stratify=train["label"], random_state=seed)
        train, val = train_test_split(train, test_size=val_size, stratify=train["label"], random_state=seed)
    except ValueError as exc:
        counts = train["label"].value_counts().to_dict()
        raise ZygardeError(
            f"{manifest.root}: too few readable images per class ({counts}) to set aside stratified validation "
            f"and test images ({exc}). Add images, or lower {option('test_size')}."
        ) from None
    channels = channels_of(manifest)

    def tensors(rows: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.tensor([index[label] for label in rows["label"]], dtype=torch.long)
        return load_images(rows["path"].tolist(), channels, size), labels

    (train_x, train_y), (val_x, val_y), (test_x, test_y) = tensors(train), tensors(val), tensors(test)
    return (
        ImageData(manifest.class_names, train_x, train_y, val_x, val_y),
        HeldOutImages(manifest.class_names, test_x, test_y, test["path"].tolist()),
    )
