"""Logging the CNN (``mlflow.pytorch``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from mlflow.models import infer_signature

from zygarde.registry.models import pinned_requirements
from zygarde.tracking import fluent_tracking_uri


def log_torch(tracking_uri: str, run_id: str, model: Any, example: np.ndarray) -> str:
    """Log a PyTorch module (signature from ``example``, float32 images in [0, 1]); its URI."""
    import mlflow.pytorch
    import torch

    model = model.cpu().eval()
    with torch.no_grad():
        output = model(torch.from_numpy(example)).numpy()
    signature = infer_signature(example, output)
    with fluent_tracking_uri(tracking_uri), mlflow.start_run(run_id=run_id):
        info = mlflow.pytorch.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            pip_requirements=pinned_requirements("torch", "torchvision", "numpy"),
        )
    return info.model_uri
