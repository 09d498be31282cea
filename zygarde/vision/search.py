"""The CNN's search: its space, the configurations to race, and the objective a trial runs (epochs are the
budget successive halving hands out)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import torch
from scipy import stats

from zygarde.errors import ZygardeError, option
from zygarde.search.objective import Objective
from zygarde.search.spaces import SearchKind, expand_space, numbered
from zygarde.search.trials import TrialSpec
from zygarde.vision.data import ImageData
from zygarde.vision.model import build_model
from zygarde.vision.train import Trainer, pick_device


def epoch_budgets(epochs: int) -> list[int]:
    """Successive-halving rungs up to ``epochs``: a quarter, a half, all (deduplicated). A coarser first rung
    than a ninth: a network that learns slowly is not judged on one epoch when it has a dozen."""
    return sorted({max(1, epochs // 4), max(1, epochs // 2), epochs})


def vision_space(batch_sizes: list[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(grid, distributions) of the CNN's hyperparameters; epochs are the budget, set by successive halving."""
    grid = {
        "lr": [1e-3, 3e-3],
        "batch_size": batch_sizes[:2],
        "width": [16, 32],
        "norm": [False, True],
        "augment": [False],  # on short budgets augmentation cost accuracy here; random search tries it
    }
    distributions = {
        "lr": stats.loguniform(3e-4, 3e-3),
        "batch_size": batch_sizes,
        "width": [16, 32],
        "blocks": [2, 3],
        "dropout": [0.0, 0.25],
        "weight_decay": stats.loguniform(1e-5, 1e-3),
        "norm": [False, True],
        "augment": [False, True],
    }
    return grid, distributions


def plan_vision_trials(
    search: SearchKind, n_trials: int, seed: int, n_train: int, arch: str = "cnn"
) -> list[TrialSpec]:
    """Configurations to race; batch sizes above the training split are left out. For ``resnet18`` the
    width/blocks/norm/dropout of the small CNN do not apply and are dropped (duplicates removed)."""
    if n_trials < 1:
        raise ZygardeError(f"{option('trials')} must be at least 1, got {n_trials}.")
    sizes = [b for b in (32, 64, 128) if b <= n_train] or [n_train]
    grid, distributions = vision_space(sizes)
    drawn = expand_space(grid, distributions, None, search, n_trials, seed)
    if arch != "cnn":
        own = ("width", "blocks", "norm", "dropout")
        unique = {json.dumps({k: v for k, v in p.items() if k not in own}, sort_keys=True) for p in drawn}
        drawn = [{**json.loads(p), "arch": arch} for p in sorted(unique)]
    return numbered([(arch, params) for params in drawn])


@dataclass(frozen=True)
class VisionObjective(Objective):
    """Train the trial's CNN for its budget of epochs; score it on the validation images at its best epoch."""

    seed: int
    epochs: int = 6  # a trial's budget when the sampler gives none
    metric: str = "val_accuracy"
    greater_is_better: bool = True

    def __call__(
        self, spec: TrialSpec, data: ImageData
    ) -> tuple[dict[str, float], dict[str, float], dict[str, list[float]]]:
        """Return (metrics at the best epoch, {}, per-epoch curves), trained from scratch."""
        return self.grow(spec, data, None)[:3]

    def grow(
        self, spec: TrialSpec, data: ImageData, state: Trainer | None
    ) -> tuple[dict[str, float], dict[str, float], dict[str, list[float]], Trainer]:
        """One rung of successive halving: train on from ``state`` (the trial's last rung; None: a new network)
        up to ``spec.budget`` epochs. No early stopping inside a rung: the rungs decide who goes on."""
        torch.set_num_threads(1)  # one Dask worker thread, one core
        if state is None:
            torch.manual_seed(self.seed)
            model = build_model(spec.params, data.channels, len(data.class_names), data.size).to(pick_device())
            state = Trainer(model, spec.params, self.seed)
        history = state.train(data, spec.budget or self.epochs, early_stopping=False)
        best = history.best_epoch
        metrics = {name: values[best] for name, values in history.curves.items()}
        metrics |= {
            "images_per_second": history.images_per_second,
            "epochs_run": len(history.curves["val_loss"]),
            "best_epoch": best + 1,  # epochs to reach the best validation accuracy
        }
        return metrics, {}, history.curves, state
