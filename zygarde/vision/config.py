"""The vision run's parameters: the image folder, the network, the epochs and how to search them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from zygarde.config import RunConfig, parse_run_config


class VisionRunConfig(RunConfig):
    """What images to learn from and how to search; every field is a form field in the Prefect UI."""

    dataset: str = Field(
        "shirts", description="A built-in image set (shirts) or a folder with one subfolder per class."
    )
    arch: Literal["cnn", "resnet18"] = Field(
        "cnn", description="cnn: the searched small CNN; resnet18: torchvision's, untrained (BatchNorm)."
    )
    epochs: int = Field(6, ge=1, le=200, description="Epochs of the final training; the search races up to this.")
    image_size: int = Field(28, ge=8, le=512, description="Images are resized to image_size x image_size.")
    trials: int = Field(6, ge=1, le=1000, description="CNN configurations raced by successive halving.")
    search: Literal["grid", "random"] = Field("grid", description="The 16-configuration grid, or random draws.")
    batch_size: int | None = Field(None, ge=1, description="Fix the batch size (default: searched).")
    test_size: float = Field(0.2, ge=0.05, le=0.5, description="Held-out share when the folder has no test/ split.")
    max_per_class: int | None = Field(None, ge=2, description="Use at most this many images per class and split.")
    processes: int = Field(2, ge=1, le=64, description="Data-parallel processes of the final training.")
    seed: int = Field(42, description="Seed of splits, initial weights, batches and augmentation.")

    def search_name(self) -> str:
        """grid or random."""
        return self.search


def parse_vision_config(**values: Any) -> VisionRunConfig:
    """Build a vision config, turning pydantic's errors into one readable ``ZygardeError``."""
    return parse_run_config(VisionRunConfig, values)
