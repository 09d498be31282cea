"""Vision training throughput, side by side on the same cores, model, data and batch size:

(a) zygarde's training step (``train_model``: uint8 batches normalised on the fly) vs a plain PyTorch loop
    (``DataLoader`` over pre-normalised float tensors), 2 threads each, no augmentation: images/s and ratio;
(b) data-parallel at the same total thread count: 1 process outside Dask (2 threads), 1 rank on a Dask worker
    (it owns both cores of the host: 2 threads; the nanny's OMP_NUM_THREADS=1 would leave it one) and 2 ranks
    (``torch.distributed`` gloo, one per Dask worker, 1 thread each) on the same global batches: images/s,
    1 rank / outside (target >= 0.9) and 2 ranks / 1 rank;
(c) the reference accuracy: a plain two-conv CNN loop on all 2,000 training images, test accuracy after
    2 and 3 epochs (compare with ``zygarde vision --json``'s ``test_metrics.accuracy``).

Run: .venv/bin/python benchmarks/vision_throughput.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _quick import parse
from distributed import Client
from torch.nn import functional
from torch.utils.data import DataLoader, TensorDataset

from zygarde.orchestration import local_cluster
from zygarde.settings import get_settings
from zygarde.vision.data import HeldOutImages, ImageData, split_images
from zygarde.vision.manifest import SHIRTS, build_manifest
from zygarde.vision.model import build_model
from zygarde.vision.parallel import run_on_workers
from zygarde.vision.train import train_model, train_rank

PARAMS = {"lr": 1e-3, "batch_size": 64, "width": 32, "blocks": 2, "dropout": 0.0, "augment": False, "patience": 99}


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-class", type=int, help="at most this many images per class and split")
    args = parse(parser, epochs=1, rounds=1, per_class=200)  # a batch of 256 must fit
    epochs, rounds = args.epochs, args.rounds
    data, test = split_images(build_manifest(get_settings().data_root / SHIRTS), 28, 42, max_per_class=args.per_class)
    shape = f"{data.size}x{data.size}x{data.channels}"
    print(f"shirts: {len(data.train_y)} training images {shape}, {epochs} epochs, {rounds} rounds, medians")
    torch.set_num_threads(2)
    zygarde_step(data, 1), plain_loop(data, 1)  # warm-up
    ours, plain = [], []
    for _ in range(rounds):
        ours.append(zygarde_step(data, epochs))
        plain.append(plain_loop(data, epochs))
    a, b = statistics.median(ours), statistics.median(plain)
    print(
        f"(a) zygarde train step {a:8.0f} img/s | plain PyTorch loop {b:8.0f} img/s | ratio {a / b:.3f} (target >= 0.9)"
    )

    with local_cluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        run_on_workers(client, train_rank, 2, data, {**PARAMS, "epochs": 1}, 0)  # warm-up: imports, gloo
        for batch in (64, 256):  # per-step compute grows with the batch; gloo's all-reduce per step does not
            params = {**PARAMS, "batch_size": batch, "epochs": epochs}
            here, one, two = [], [], []
            for _ in range(rounds):
                here.append(zygarde_step(data, epochs, params))
                one.append(sum(h.images_per_second for _, h in run_on_workers(client, train_rank, 1, data, params, 0)))
                two.append(sum(h.images_per_second for _, h in run_on_workers(client, train_rank, 2, data, params, 0)))
            outside, single, double = (statistics.median(v) for v in (here, one, two))
            print(
                f"(b) global batch {batch:3}, 2 threads in all: outside Dask {outside:5.0f} img/s | 1 rank x 2 threads "
                f"{single:5.0f} ({single / outside:.2f} of outside, target >= 0.9) | 2 ranks x 1 thread "
                f"{double:5.0f} ({double / single:.2f}x of 1 rank)"
            )
    reference_accuracy(data, test)


def reference_accuracy(data: ImageData, test: HeldOutImages) -> None:
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
    test_x = (test.x.float() / 255 - norm[0]) / norm[1]
    for epoch in range(1, 4):
        model.train()
        for images, labels in loader:
            loss = functional.cross_entropy(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(test_x).argmax(1) == test.y).float().mean())
        if epoch >= 2:
            rows = len(full.train_y)
            print(f"(c) plain two-conv CNN, {rows} training images, epoch {epoch}: test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
