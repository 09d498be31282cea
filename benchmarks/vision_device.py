"""The CNN's successive-halving rungs on the device ``pick_device`` chooses (CUDA when there is a GPU), next to
the CPU, on the same generated images: a trial grown rung by rung (1, then 3, then 6 epochs, each rung going on
from the last) and one trained for 6 epochs from scratch. Printed per device: where the weights were, seconds
per rung, images/s, validation accuracy; and GPU / CPU images/s. No Dask, MLflow or Prefect: only PyTorch and
zygarde's vision code, so it runs on a bare GPU machine (``PYTHONPATH=. python3 benchmarks/vision_device.py``).

Run: .venv/bin/python benchmarks/vision_device.py [--images 4000] [--size 64]
"""

from __future__ import annotations

import argparse
import time

import torch
from _quick import parse

from zygarde.search.trials import TrialSpec
from zygarde.vision.data import ImageData
from zygarde.vision.search import VisionObjective, epoch_budgets
from zygarde.vision.train import pick_device

PARAMS = {"lr": 1e-3, "batch_size": 64, "width": 32, "blocks": 3, "dropout": 0.0, "norm": True, "augment": True}


def images(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of noisy RGB images, told apart by a bright square's corner (a little to learn)."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=generator)
    x = torch.randint(0, 160, (n, 3, size, size), generator=generator, dtype=torch.uint8)
    half = size // 2
    for i in range(n):
        corner = slice(0, half) if int(y[i]) else slice(half, size)
        x[i, :, corner, corner] = x[i, :, corner, corner] // 2 + 50
    return x, y


def race(data: ImageData) -> dict[str, float]:
    """One trial through its rungs on the device ``pick_device`` chooses, then the same budget from scratch."""
    objective, state, timings = VisionObjective(seed=0), None, []
    for rung, budget in enumerate(epoch_budgets(6)):
        spec = TrialSpec(0, "cnn", PARAMS, rung, budget)
        started = time.perf_counter()
        metrics, _, _, state = objective.grow(spec, data, state)
        timings.append(time.perf_counter() - started)
    where = str(next(state.model.parameters()).device)
    started = time.perf_counter()
    scratch = objective(TrialSpec(1, "cnn", PARAMS, 2, 6), data)[0]
    return {"where": where, "rungs": timings, "grown_total": sum(timings), "scratch": time.perf_counter() - started,
            "images_per_second": metrics["images_per_second"], "val_accuracy": metrics["val_accuracy"],
            "scratch_val_accuracy": scratch["val_accuracy"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--size", type=int, default=64)
    args = parse(parser, images=64, size=16)
    train_x, train_y = images(args.images, args.size, 0)
    val_x, val_y = images(args.images // 4, args.size, 1)
    data = ImageData(["left", "right"], train_x, train_y, val_x, val_y)
    chosen = str(pick_device())
    print(f"torch {torch.__version__}; pick_device() -> {chosen}"
          + (f" ({torch.cuda.get_device_name(0)})" if chosen.startswith("cuda") else ""), flush=True)  # fmt: skip
    rows = {}
    for label, hide_gpu in (("chosen", False), ("cpu", True)):
        if label == "cpu" and not chosen.startswith("cuda"):
            break
        available = torch.cuda.is_available
        if hide_gpu:
            torch.cuda.is_available = lambda: False  # pick_device's view: no GPU
        try:
            rows[label] = race(data)
        finally:
            torch.cuda.is_available = available
        row = rows[label]
        print(f"{label}: weights on {row['where']}; rungs {', '.join(f'{t:.1f}' for t in row['rungs'])} s "
              f"(grown to 6 epochs: {row['grown_total']:.1f} s; 6 from scratch: {row['scratch']:.1f} s); "
              f"{row['images_per_second']:.0f} images/s; val accuracy grown {row['val_accuracy']:.3f}, "
              f"from scratch {row['scratch_val_accuracy']:.3f}", flush=True)  # fmt: skip
    if "cpu" in rows:
        ratio = rows["chosen"]["images_per_second"] / rows["cpu"]["images_per_second"]
        print(f"GPU / CPU training throughput: {ratio:.1f}x")


if __name__ == "__main__":
    main()
