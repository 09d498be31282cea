"""Vision: image-folder manifests with quarantine, in-memory tensors, a small CNN, and its training loop
(single process, or data-parallel with ``torch.distributed`` over gloo).

Images are decoded and resized once into a uint8 tensor (the shipped set is 2,500 images of 28x28; 25,000
PetImages at 64x64x3 are ~300 MB), so an epoch is pure tensor work: augmentation (random crop with padding,
horizontal flip) is applied per batch, to the training split only, from a seeded generator.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError
from scipy import stats
from torch import nn
from torch.nn import functional

from zygarde.errors import ZygardeError
from zygarde.trials import SearchKind, TrialSpec, expand_space

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
SHIRTS = "shirts"
MIN_PER_CLASS = 2


@dataclass
class ImageManifest:
    """Every file under an image folder: class, split, size, mode, whether it decodes and, if not, why.

    (``class_names``, not ``classes``: cloudpickle mistakes a function's ``.classes`` attribute access for
    the ``torch.classes`` pseudo-module and fails to ship it to Dask.)
    """

    root: Path
    frame: pd.DataFrame
    class_names: list[str]

    @property
    def usable(self) -> pd.DataFrame:
        """Rows of decodable images."""
        return self.frame[self.frame["decodable"]]

    @property
    def quarantined(self) -> pd.DataFrame:
        """Rows that are skipped: corrupt, empty or not images."""
        return self.frame[~self.frame["decodable"]]

    @property
    def has_test_split(self) -> bool:
        """True for a folder with its own ``train/`` and ``test/``."""
        return bool((self.frame["split"] == "test").any())


def build_manifest(root: Path) -> ImageManifest:
    """Scan ``root`` (``<class>/*`` or ``train|test/<class>/*``) and decode every file once."""
    if not root.exists():
        raise ZygardeError(f"Image folder not found: {root}. Pass a folder with one subfolder per class.")
    if not root.is_dir():
        raise ZygardeError(f"{root} is a file; pass a folder with one subfolder per class.")
    splits = {"train": root / "train", "test": root / "test"} if (root / "train").is_dir() else {"train": root}
    rows: list[dict[str, Any]] = []
    classes: list[str] = []
    for split, folder in splits.items():
        if not folder.is_dir():
            continue
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if split == "train":
                classes.append(class_dir.name)
            for path in sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
                rows.append({"path": str(path), "split": split, "label": class_dir.name, **inspect_image(path)})
    frame = pd.DataFrame(
        rows, columns=["path", "split", "label", "bytes", "width", "height", "mode", "decodable", "problem"]
    )
    return ImageManifest(root=root, frame=frame, class_names=classes)


def inspect_image(path: Path) -> dict[str, Any]:
    """Size, mode and decodability of one file (fully decoded, so truncated files are caught)."""
    size = path.stat().st_size
    info: dict[str, Any] = {"bytes": size, "width": 0, "height": 0, "mode": "", "decodable": False, "problem": ""}
    if size == 0:
        return {**info, "problem": "empty file (0 bytes)"}
    try:
        with Image.open(path) as image:
            image.load()
            return {**info, "width": image.width, "height": image.height, "mode": image.mode, "decodable": True}
    except UnidentifiedImageError:
        return {**info, "problem": "not an image"}
    except (OSError, SyntaxError, ValueError) as exc:
        return {**info, "problem": f"corrupt: {exc}"}


def check_classes(manifest: ImageManifest) -> None:
    """At least two classes, none of them without usable images; each problem named."""
    if len(manifest.class_names) < 2:
        found = ", ".join(manifest.class_names) or "none"
        raise ZygardeError(f"{manifest.root}: needs at least 2 class folders (one subfolder per class), found {found}.")
    counts = manifest.usable[manifest.usable["split"] == "train"]["label"].value_counts()
    empty = [c for c in manifest.class_names if counts.get(c, 0) == 0]
    if len(empty) == len(manifest.class_names):
        raise ZygardeError(
            f"{manifest.root}: none of the {len(manifest.frame)} files is a readable image "
            f"(e.g. {manifest.frame['path'].head(3).tolist()}: {manifest.frame['problem'].head(3).tolist()})."
        )
    if empty:
        raise ZygardeError(f"{manifest.root}: class folder(s) {', '.join(empty)} have no readable images.")


def manifest_frames(manifest: ImageManifest) -> dict[str, pd.DataFrame]:
    """The tables the GX suite validates: every file, the decodable ones, and images per class."""
    train = manifest.usable[manifest.usable["split"] == "train"]
    counts = train["label"].value_counts().reindex(manifest.class_names, fill_value=0)
    return {
        "files": manifest.frame.assign(decodable=manifest.frame["decodable"].astype(bool)),
        "images": manifest.usable,
        "classes": pd.DataFrame({"label": counts.index, "count": counts.to_numpy()}),
    }


def image_suite(min_per_class: int = MIN_PER_CLASS) -> dict[str, list[dict[str, Any]]]:
    """Expectations per manifest table (see ``manifest_frames``)."""

    def expect(kind: str, **kwargs: Any) -> dict[str, Any]:
        return {"type": f"expect_{kind}", "kwargs": kwargs}

    return {
        "files": [expect("column_values_to_be_in_set", column="decodable", value_set=[True], mostly=0.9)],
        "images": [
            expect("column_values_to_be_between", column=side, min_value=8, max_value=20000)
            for side in ("width", "height")
        ],
        "classes": [
            expect("table_row_count_to_be_between", min_value=2),
            expect("column_values_to_be_between", column="count", min_value=min_per_class),
        ],
    }


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
    """Train/validation/test tensors (uint8) and labels, with normalisation from the training split only."""

    class_names: list[str]
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    test_paths: list[str] = field(default_factory=list)
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
            self.test_x,
            self.test_y,
            self.test_paths,
        )

    @property
    def channels(self) -> int:
        """Colour channels of every tensor."""
        return int(self.train_x.shape[1])

    @property
    def size(self) -> int:
        """Side of the (square) images."""
        return int(self.train_x.shape[-1])


def split_images(
    manifest: ImageManifest, size: int, seed: int, test_size: float = 0.2, val_size: float = 0.15,
    max_per_class: int | None = None,
) -> ImageData:  # fmt: skip
    """Stratified splits of the usable images (the folder's own test split when it has one)."""
    from sklearn.model_selection import train_test_split

    usable = manifest.usable
    if max_per_class:
        usable = usable.groupby(["split", "label"], group_keys=False).head(max_per_class)
    index = {name: i for i, name in enumerate(manifest.class_names)}
    train = usable[usable["split"] == "train"]
    if manifest.has_test_split:
        test = usable[usable["split"] == "test"]
    else:
        train, test = train_test_split(train, test_size=test_size, stratify=train["label"], random_state=seed)
    train, val = train_test_split(train, test_size=val_size, stratify=train["label"], random_state=seed)
    channels = channels_of(manifest)

    def tensors(rows: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.tensor([index[label] for label in rows["label"]], dtype=torch.long)
        return load_images(rows["path"].tolist(), channels, size), labels

    (train_x, train_y), (val_x, val_y), (test_x, test_y) = tensors(train), tensors(val), tensors(test)
    return ImageData(manifest.class_names, train_x, train_y, val_x, val_y, test_x, test_y, test["path"].tolist())


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
            raise ZygardeError(f"--image-size {size} is too small for {blocks} conv blocks; use at least {2**blocks}.")
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


def augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop (reflect-padded by 1/8 of the side) and horizontal flip, per image, from ``generator``."""
    n, _, size, _ = batch.shape
    pad = max(1, size // 8)
    padded = functional.pad(batch, (pad, pad, pad, pad), mode="reflect")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (dy[:, None] + torch.arange(size)[None]).view(n, 1, size, 1)
    cols = (dx[:, None] + torch.arange(size)[None]).view(n, 1, 1, size)
    cols = torch.where(flip.view(n, 1, 1, 1), cols.flip(-1), cols)
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
        raise ZygardeError(f"--batch-size {batch_size} is larger than the training split ({n_train} images); lower it.")


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
    """AdamW + cross-entropy, early stopping on validation accuracy (patience ``patience`` epochs); with
    ``early_stopping: False`` it trains exactly ``epochs`` and keeps the last weights (the final refit).

    Every rank draws the same permutation and augmentation for each global batch of ``batch_size`` and
    trains on its own equal slice; wrapped in DDP, the averaged gradients are those of the whole batch.
    The model ends with the weights of its best validation epoch.
    """
    epochs, batch_size = int(params["epochs"]), int(params["batch_size"])
    check_batch_size(batch_size, len(data.train_y))
    optimizer = torch.optim.AdamW(model.parameters(), lr=params["lr"], weight_decay=params.get("weight_decay", 0.0))
    device = next(model.parameters()).device  # batches follow the model: a GPU when it was put on one
    mean, std = data.mean.view(1, -1, 1, 1).to(device), data.std.view(1, -1, 1, 1).to(device)
    history, best, best_state, patience = History(), -1.0, None, int(params.get("patience", 2))
    generator = torch.Generator().manual_seed(seed)
    seen, busy = 0, 0.0
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(data.train_y), generator=generator)
        total_loss, correct, count = 0.0, 0, 0
        started = time.perf_counter()
        for start in range(0, len(order) - batch_size + 1, batch_size):  # whole batches only
            batch = order[start : start + batch_size]
            images = data.train_x[batch].to(device).float() / 255
            if params.get("augment", False):
                images = augment(images, generator)
            mine = slice(rank * batch_size // world, (rank + 1) * batch_size // world)
            x, y = (images[mine] - mean) / std, data.train_y[batch][mine].to(device)
            logits = model(x)
            loss = functional.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            count += len(y)
        busy += time.perf_counter() - started
        seen += count
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
        if not params.get("early_stopping", True):
            history.best_epoch = epoch
        elif values["val_accuracy"] > best:
            best, history.best_epoch = values["val_accuracy"], epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif epoch - history.best_epoch >= patience:
            break
    history.images_per_second = seen / busy if busy else 0.0
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


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
        raise ZygardeError(f"--trials must be at least 1, got {n_trials}.")
    sizes = [b for b in (32, 64, 128) if b <= n_train] or [n_train]
    grid, distributions = vision_space(sizes)
    drawn = expand_space(grid, distributions, None, search, n_trials, seed)
    if arch != "cnn":
        own = ("width", "blocks", "norm", "dropout")
        unique = {json.dumps({k: v for k, v in p.items() if k not in own}, sort_keys=True) for p in drawn}
        drawn = [{**json.loads(p), "arch": arch} for p in sorted(unique)]
    return [TrialSpec(trial_id=i, algorithm=arch, params=params) for i, params in enumerate(drawn)]


@dataclass(frozen=True)
class VisionObjective:
    """Train the trial's CNN for ``params['epochs']`` (early stopping on validation accuracy); score on validation."""

    seed: int
    metric: str = "val_accuracy"
    greater_is_better: bool = True

    def __call__(
        self, spec: TrialSpec, data: ImageData
    ) -> tuple[dict[str, float], dict[str, float], dict[str, list[float]]]:
        """Return (final metrics, {}, per-epoch curves)."""
        torch.set_num_threads(1)  # one Dask worker thread, one core
        torch.manual_seed(self.seed)
        model = build_model(spec.params, data.channels, len(data.class_names), data.size).to(pick_device())
        history = train_model(model, data, spec.params, self.seed)
        best = history.best_epoch
        metrics = {name: values[best] for name, values in history.curves.items()}
        metrics |= {
            "images_per_second": history.images_per_second,
            "epochs_run": len(history.curves["val_loss"]),
            "best_epoch": best + 1,  # epochs to reach the best validation accuracy
        }
        return metrics, {}, history.curves


def train_rank(
    rank: int, world: int, init_method: str, data: ImageData, params: dict[str, Any], seed: int, threads: int = 1
) -> tuple[dict[str, torch.Tensor] | None, History]:
    """One process of data-parallel training (gloo); rank 0 returns the trained weights."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world)
    try:
        torch.manual_seed(seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
        device = pick_device(rank, world)
        model = build_model(params, data.channels, len(data.class_names), data.size).to(device)
        parallel = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        history = train_model(parallel, data, params, seed, rank=rank, world=world)
    finally:
        dist.destroy_process_group()
    return ({k: v.detach().cpu().clone() for k, v in model.state_dict().items()} if rank == 0 else None), history


def accuracy_on_test(model: nn.Module, data: ImageData) -> float:
    """Accuracy of a registered-style model (floats in [0, 1] in, logits out) on the test split."""
    model.eval()
    with torch.no_grad():
        predictions = torch.cat(
            [model(data.test_x[i : i + 512].float() / 255).argmax(1) for i in range(0, len(data.test_x), 512)]
        )
    return float((predictions == data.test_y).float().mean())
