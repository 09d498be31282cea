"""Training a network: seeded augmentation, the epoch loop with early stopping (one process or one rank of a
data-parallel group over gloo), and the device choice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from zygarde.errors import ZygardeError, option
from zygarde.vision.data import ImageData
from zygarde.vision.model import build_model

RENDEZVOUS_TIMEOUT = timedelta(seconds=120)


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop (reflect-padded by 1/8 of the side) and horizontal flip, per image, from ``generator`` (a CPU
    generator: the same draws whatever device ``batch`` is on)."""
    n, _, size, _ = batch.shape
    pad = max(1, size // 8)
    padded = functional.pad(batch, (pad, pad, pad, pad), mode="reflect")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (dy[:, None] + torch.arange(size)[None]).view(n, 1, size, 1).to(batch.device)
    cols = (dx[:, None] + torch.arange(size)[None]).view(n, 1, 1, size)
    cols = torch.where(flip.view(n, 1, 1, 1), cols.flip(-1), cols).to(batch.device)  # drawn on the CPU: any device
    channels = batch.shape[1]
    index_rows = rows.expand(n, channels, size, padded.shape[-1])
    cropped_rows = padded.gather(2, index_rows)
    return cropped_rows.gather(3, cols.expand(n, channels, size, size))


@dataclass
class History:
    """Per-epoch curves of a training run, and where the best validation accuracy was reached."""

    curves: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    images_per_second: float = 0.0

    def add(self, **values: float) -> None:
        """Append one epoch's values."""
        for key, value in values.items():
            self.curves.setdefault(key, []).append(float(value))


def pick_device(rank: int = 0, world: int = 1) -> torch.device:
    """CUDA when there is a GPU for every rank (rank r on GPU r), else the CPU."""
    if torch.cuda.is_available() and torch.cuda.device_count() >= world:
        return torch.device("cuda", rank)
    return torch.device("cpu")


def evaluate_logits(model: nn.Module, x: torch.Tensor, data: ImageData, batch: int = 512) -> torch.Tensor:
    """Logits (on the CPU) for uint8 images ``x`` normalised with the training statistics, in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    mean, std = data.mean.view(1, -1, 1, 1).to(device), data.std.view(1, -1, 1, 1).to(device)
    with torch.no_grad():
        return torch.cat(
            [model((x[i : i + batch].to(device).float() / 255 - mean) / std).cpu() for i in range(0, len(x), batch)]
        )


def check_batch_size(batch_size: int, n_train: int) -> None:
    """A batch must fit in the training split."""
    if batch_size > n_train:
        raise ZygardeError(
            f"{option('batch_size')} {batch_size} is larger than the training split ({n_train} images); lower it."
        )


class Trainer:
    """AdamW + cross-entropy on ``model``, epoch after epoch, keeping the weights of its best validation epoch.

    ``train(data, epochs)`` trains up to epoch ``epochs`` and can be called again with more: the optimizer, the
    seeded generator and the curves carry on (what a successive-halving rung continues from). Every rank draws
    the same permutation and augmentation for each global batch of ``batch_size`` and trains on its own equal
    slice; wrapped in DDP, the averaged gradients are those of the whole batch.
    """

    def __init__(self, model: nn.Module, params: dict[str, Any], seed: int, *, rank: int = 0, world: int = 1) -> None:
        self.model, self.params, self.rank, self.world = model, params, rank, world
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=params["lr"],
                                           weight_decay=params.get("weight_decay", 0.0))  # fmt: skip
        self.generator = torch.Generator().manual_seed(seed)
        self.history, self.best = History(), -1.0
        self.best_state: dict[str, Any] | None = None
        self.seen, self.busy = 0, 0.0

    @property
    def epochs(self) -> int:
        """Epochs trained so far."""
        return len(self.history.curves.get("val_accuracy", []))

    def train(self, data: ImageData, epochs: int, *, early_stopping: bool = True,
              on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> History:  # fmt: skip
        """Train until epoch ``epochs`` (sooner with ``early_stopping``: ``patience`` epochs without a better
        validation accuracy). Without early stopping the last epoch counts as the best (the final refit)."""
        batch_size, patience = int(self.params["batch_size"]), int(self.params.get("patience", 2))
        check_batch_size(batch_size, len(data.train_y))
        model, history = self.model, self.history
        device = next(model.parameters()).device  # batches follow the model: a GPU when it was put on one
        mean, std = data.mean.view(1, -1, 1, 1).to(device), data.std.view(1, -1, 1, 1).to(device)
        for epoch in range(self.epochs, epochs):
            model.train()
            order = torch.randperm(len(data.train_y), generator=self.generator)
            total_loss, correct, count = 0.0, 0, 0
            started = time.perf_counter()
            for start in range(0, len(order) - batch_size + 1, batch_size):  # whole batches only
                batch = order[start : start + batch_size]
                images = data.train_x[batch].to(device).float() / 255
                if self.params.get("augment", False):
                    images = augment(images, self.generator)
                mine = slice(self.rank * batch_size // self.world, (self.rank + 1) * batch_size // self.world)
                x, y = (images[mine] - mean) / std, data.train_y[batch][mine].to(device)
                logits = model(x)
                loss = functional.cross_entropy(logits, y)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                total_loss += float(loss.detach()) * len(y)
                correct += int((logits.argmax(1) == y).sum())
                count += len(y)
            self.busy += time.perf_counter() - started
            self.seen += count
            val_logits = evaluate_logits(model, data.val_x, data)
            values = {
                "train_loss": total_loss / max(count, 1),
                "train_accuracy": correct / max(count, 1),
                "val_loss": float(functional.cross_entropy(val_logits, data.val_y)),
                "val_accuracy": float((val_logits.argmax(1) == data.val_y).float().mean()),
            }
            history.add(**values)
            if on_epoch is not None:
                on_epoch(epoch, values)
            if not self.params.get("early_stopping", True):
                history.best_epoch = epoch
            elif values["val_accuracy"] > self.best:
                self.best, history.best_epoch = values["val_accuracy"], epoch
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif early_stopping and epoch - history.best_epoch >= patience:
                break
        history.images_per_second = self.seen / self.busy if self.busy else 0.0
        return history


def train_model(
    model: nn.Module,
    data: ImageData,
    params: dict[str, Any],
    seed: int,
    *,
    rank: int = 0,
    world: int = 1,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> History:
    """Train ``model`` in place for ``params['epochs']`` (``Trainer``, early stopping unless
    ``early_stopping: False``); the model ends with the weights of its best validation epoch."""
    trainer = Trainer(model, params, seed, rank=rank, world=world)
    history = trainer.train(data, int(params["epochs"]), on_epoch=on_epoch)
    if trainer.best_state is not None:
        model.load_state_dict(trainer.best_state)
    return history


def train_rank(
    rank: int, world: int, init_method: str, data: ImageData, params: dict[str, Any], seed: int, threads: int = 1
) -> tuple[dict[str, torch.Tensor] | None, History]:
    """One process of data-parallel training (gloo); rank 0 returns the trained weights."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(threads)
    # a rank whose peers never arrive fails within RENDEZVOUS_TIMEOUT instead of gloo's default 30 minutes
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world, timeout=RENDEZVOUS_TIMEOUT)
    try:
        torch.manual_seed(seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
        device = pick_device(rank, world)
        model = build_model(params, data.channels, len(data.class_names), data.size).to(device)
        parallel = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        history = train_model(parallel, data, params, seed, rank=rank, world=world)
    finally:
        dist.destroy_process_group()
    return ({k: v.detach().cpu().clone() for k, v in model.state_dict().items()} if rank == 0 else None), history
