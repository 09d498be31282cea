"""Model registry: log the winner with signature, register a version, move ``champion`` only when it is better."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import skops.io
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from zygarde.tracking import fluent_tracking_uri, get_client

CHAMPION = "champion"
log = logging.getLogger(__name__)


@dataclass
class RegisteredModel:
    """A registered version and what the champion decision was, and why."""

    name: str
    version: str
    model_uri: str
    became_champion: bool
    reason: str
    previous_champion: str | None = None


def log_and_register(
    tracking_uri: str, run_id: str, model: Pipeline, X_example: pd.DataFrame, name: str
) -> tuple[str, str]:
    """Log the fitted pipeline into the run (signature + input example) and register it; (model_uri, version)."""
    # integer columns are declared as doubles so that a missing value at inference is not a schema error
    example = X_example.head(5).astype({c: "float64" for c in X_example.select_dtypes("integer").columns})
    signature = infer_signature(example, model.predict(example))
    # skops (MLflow's safe default) refuses unknown types; trust exactly the ones this pipeline is made of
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    with fluent_tracking_uri(tracking_uri), mlflow.start_run(run_id=run_id):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=name,
            skops_trusted_types=trusted,
        )
    return info.model_uri, str(info.registered_model_version)


def log_and_register_torch(
    tracking_uri: str, run_id: str, model: Any, example: np.ndarray, name: str
) -> tuple[str, str]:
    """Log a PyTorch module (signature from ``example``, float32 images in [0, 1]) and register it."""
    import mlflow.pytorch
    import torch

    model = model.cpu().eval()
    with torch.no_grad():
        output = model(torch.from_numpy(example)).numpy()
    signature = infer_signature(example, output)
    with fluent_tracking_uri(tracking_uri), mlflow.start_run(run_id=run_id):
        info = mlflow.pytorch.log_model(
            model, name="model", signature=signature, input_example=example, registered_model_name=name
        )
    return info.model_uri, str(info.registered_model_version)


def current_champion(tracking_uri: str, name: str) -> str | None:
    """Version number holding the ``champion`` alias, or None when there is none (or no such model)."""
    try:
        return str(get_client(tracking_uri).get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def decide_champion(
    tracking_uri: str,
    name: str,
    version: str,
    model_uri: str,
    metric: str,
    value: float,
    greater_is_better: bool,
    score_champion: Callable[[str], float | None],
    split: str = "test",
) -> RegisteredModel:
    """Give ``version`` the champion alias only if it beats the current champion on ``metric``.

    ``score_champion(model_uri)`` re-scores the current champion on this run's ``split`` rows, so both are
    compared on the same rows; when it cannot (e.g. another schema) the champion's recorded score is used.
    """
    client = get_client(tracking_uri)
    client.set_model_version_tag(name, version, f"{split}_{metric}", f"{value:.6f}")
    previous = current_champion(tracking_uri, name)
    if previous is None:
        became, reason = True, f"first champion: {split} {metric}={value:.4f}"
    else:
        previous_value, where = _champion_score(
            client, name, previous, f"{split}_{metric}", greater_is_better, score_champion, split
        )
        better = value > previous_value if greater_is_better else value < previous_value
        became = better
        verdict = "beats" if better else "does not beat"
        reason = f"{split} {metric}={value:.4f} {verdict} champion v{previous} ({previous_value:.4f}, {where})"
    client.set_model_version_tag(name, version, "champion_decision", reason)
    client.set_model_version_tag(name, version, "previous_champion", previous or "none")
    if became:
        client.set_registered_model_alias(name, CHAMPION, version)
    log.info("%s v%s: %s", name, version, reason)
    return RegisteredModel(
        name=name,
        version=version,
        model_uri=model_uri,
        became_champion=became,
        reason=reason,
        previous_champion=previous,
    )


def _champion_score(
    client: mlflow.MlflowClient,
    name: str,
    version: str,
    tag: str,
    greater_is_better: bool,
    score_champion: Callable[[str], float | None],
    split: str,
) -> tuple[float, str]:
    rescored = score_champion(f"models:/{name}/{version}")
    if rescored is not None:
        return rescored, f"re-scored on this run's {split} rows"
    recorded = client.get_model_version(name, version).tags.get(tag)
    if recorded is None:
        return (float("-inf") if greater_is_better else float("inf")), "no comparable score"
    return float(recorded), f"its recorded {split} score"
