"""Vision training throughput, side by side on the same cores, model, data and batch size:

(a) zygarde's training step (``train_model``: uint8 batches normalised on the fly) vs a plain PyTorch loop
    (``DataLoader`` over pre-normalised float tensors), 2 threads each, no augmentation: images/s and ratio;
(b) data-parallel: 1 vs 2 ranks (``torch.distributed`` gloo, 1 thread each, one per Dask worker) on the
    same global batches, and 1 process outside Dask (a Dask worker process runs this PyTorch loop at about
    half the speed of a plain process here, measured, cause not found): images/s and speed-ups;
(c) the reference accuracy: a plain two-conv CNN loop on all 2,000 training images, test accuracy after
    2 and 3 epochs (compare with ``zygarde vision --json``'s ``test_metrics.accuracy``).

Run: .venv/bin/python benchmarks/vision_throughput.py
"""

from __future__ import annotations

import statistics
import time

import torch
from distributed import Client, LocalCluster
from torch.nn import functional
from torch.utils.data import DataLoader, TensorDataset

from zygarde.search import run_on_workers
from zygarde.settings import get_settings
from zygarde.vision import SHIRTS, ImageData, build_manifest, build_model, split_images, train_model, train_rank

PARAMS = {"lr": 1e-3, "batch_size": 64, "width": 32, "blocks": 2, "dropout": 0.0, "augment": False, "patience": 99}
EPOCHS, ROUNDS = 2, 3


def plain_loop(data: ImageData, epochs: int) -> float:
    """Images/s of the textbook loop on the same model and batch size (validation not timed, as in (a))."""
    torch.manual_seed(0)
    model = build_model(PARAMS, data.channels, len(data.class_names), data.size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PARAMS["lr"])
    x = (data.train_x.float() / 255 - data.mean.view(1, -1, 1, 1)) / data.std.view(1, -1, 1, 1)
    loader = DataLoader(TensorDataset(x, data.train_y), batch_size=PARAMS["batch_size"], shuffle=True, drop_last=True)
    seen, busy = 0, 0.0
    for _ in range(epochs):
        model.train()
        started = time.perf_counter()
        for images, labels in loader:
            loss = functional.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            seen += len(labels)
        busy += time.perf_counter() - started
    return seen / busy


def zygarde_step(data: ImageData, epochs: int, params: dict | None = None) -> float:
    """Images/s of zygarde's training loop (its own timer excludes the per-epoch validation)."""
    torch.manual_seed(0)
    params = params or PARAMS
    model = build_model(params, data.channels, len(data.class_names), data.size)
    return train_model(model, data, {**params, "epochs": epochs}, 0).images_per_second


def main() -> None:
    data = split_images(build_manifest(get_settings().data_root / SHIRTS), 28, 42)
    shape = f"{data.size}x{data.size}x{data.channels}"
    print(f"shirts: {len(data.train_y)} training images {shape}, {EPOCHS} epochs, {ROUNDS} rounds, medians")
    torch.set_num_threads(2)
    zygarde_step(data, 1), plain_loop(data, 1)  # warm-up
    ours, plain = [], []
    for _ in range(ROUNDS):
        ours.append(zygarde_step(data, EPOCHS))
        plain.append(plain_loop(data, EPOCHS))
    a, b = statistics.median(ours), statistics.median(plain)
    print(
        f"(a) zygarde train step {a:8.0f} img/s | plain PyTorch loop {b:8.0f} img/s | ratio {a / b:.3f} (target >= 0.9)"
    )

    torch.set_num_threads(1)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        run_on_workers(client, train_rank, 2, data, {**PARAMS, "epochs": 1}, 0)  # warm-up: imports, gloo
        for batch in (64, 256):  # per-step compute grows with the batch; gloo's all-reduce per step does not
            params = {**PARAMS, "batch_size": batch, "epochs": EPOCHS}
            here, one, two = [], [], []
            for _ in range(ROUNDS):
                here.append(zygarde_step(data, EPOCHS, params))
                one.append(sum(h.images_per_second for _, h in run_on_workers(client, train_rank, 1, data, params, 0)))
                two.append(sum(h.images_per_second for _, h in run_on_workers(client, train_rank, 2, data, params, 0)))
            outside, single, double = (statistics.median(v) for v in (here, one, two))
            print(
                f"(b) global batch {batch:3}: 1 process outside Dask {outside:5.0f} img/s | on Dask workers: 1 rank "
                f"{single:5.0f}, 2 ranks {double:5.0f} img/s | speed-up 2 vs 1 rank {double / single:.2f}x, "
                f"vs outside {double / outside:.2f}x"
            )
    reference_accuracy(data)


def reference_accuracy(data: ImageData) -> None:
    """(c): the textbook two-conv CNN, trained on train + validation rows, scored on the test split."""
    torch.set_num_threads(2)
    torch.manual_seed(0)
    full = data.with_validation_in_training()
    model = torch.nn.Sequential(
        torch.nn.Conv2d(full.channels, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(64 * (full.size // 4) ** 2, len(full.class_names)),
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    norm = (full.mean.view(1, -1, 1, 1), full.std.view(1, -1, 1, 1))
    x = (full.train_x.float() / 255 - norm[0]) / norm[1]
    loader = DataLoader(TensorDataset(x, full.train_y), batch_size=64, shuffle=True)
    test_x = (full.test_x.float() / 255 - norm[0]) / norm[1]
    for epoch in range(1, 4):
        model.train()
        for images, labels in loader:
            loss = functional.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(test_x).argmax(1) == full.test_y).float().mean())
        if epoch >= 2:
            rows = len(full.train_y)
            print(f"(c) plain two-conv CNN, {rows} training images, epoch {epoch}: test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
