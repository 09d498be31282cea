"""The vision flow."""

from __future__ import annotations

from prefect import flow

from zygarde.vision.config import VisionRunConfig
from zygarde.vision.family import VisionFamily, VisionSummary

from .hooks import TRAINING_HOOKS
from .pipeline import dask_task_runner, train


@flow(name="train-vision", task_runner=dask_task_runner(), log_prints=True, **TRAINING_HOOKS)
def train_vision(config: VisionRunConfig = VisionRunConfig()) -> VisionSummary:  # noqa: B008 (form default)
    """Train the best CNN for a folder of images (one subfolder per class; default: the shipped shirts).

    Steps: manifest every file (corrupt/empty/non-image files quarantined) -> validate (great-expectations)
    -> stratified splits, normalisation from the training split -> race CNN configurations by successive
    halving on epochs (trials are Dask futures; test images never reach them) -> train the winner
    data-parallel (torch.distributed, one rank per Dask worker) -> test metrics and plots -> register,
    moving `champion` only if it is better on these test images.
    """
    return train(VisionFamily(config))
