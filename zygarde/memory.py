"""Memory sizes and the budget a run may use: split between the local Dask workers, it bounds each worker's
Spark driver memory and the rows of an XGBoost batch, and decides when a table trains out of core."""

from __future__ import annotations

import re
from dataclasses import dataclass

from zygarde.errors import ZygardeError, option

BATCH_SHARE = 16  # an out-of-core batch, as float32: this fraction of a worker's data share (a 24th left the
# peak of 8M rows x 20 under a 3 GiB budget where it was, 1.03x: batches are not what peaks there)
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}  # fmt: skip


def parse_size(text: str) -> int:
    """Bytes in ``"2GiB"``, ``"1.5g"``, ``"800MB"``, ``"512m"`` (k/m/g/t: powers of 1024, as Spark reads them)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not found or found.group(2).lower() not in _UNITS:
        raise ZygardeError(f"{option('memory_limit')}: {text!r} is not a size; write it like 2GiB, 1.5g or 800MB.")
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def human(size: float) -> str:
    """``1.6 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} GiB"


@dataclass(frozen=True)
class MemoryBudget:
    """The memory zygarde may use, for its whole process tree: ``services_floor`` for its own processes, the
    rest (``data``) for the data, split between the Dask workers; each worker's data share bounds its Spark
    driver and the rows of an XGBoost batch."""

    total: int
    workers: int = 1

    @property
    def data(self) -> int:
        """What is left for data once zygarde's own processes have their floor."""
        return max(0, self.total - services_floor(self.workers))

    @property
    def data_per_worker(self) -> int:
        """One worker's share of ``data``."""
        return self.data // max(1, self.workers)

    @property
    def per_worker(self) -> int:
        """What Dask's nanny lets one worker hold before it pauses and then restarts it: its own floor and its
        share of the data."""
        return WORKER_BYTES + self.data_per_worker

    def spark_driver_memory(self) -> str:
        """Half a worker's data share for its Spark session's heap (the JVM needs as much again off-heap), and at
        least the 512 MiB Spark starts with (it refuses a heap under 450 MiB)."""
        return f"{max(512, self.data_per_worker // 2 // 2**20)}m"

    def batch_rows(self, n_columns: int) -> int:
        """Rows per batch: a ``BATCH_SHARE``-th of a worker's data share as float32 (reading, converting and the
        quantile sketch each hold a few copies, and the refit's pages add to them), between 10,000 and
        1,000,000 rows."""
        rows = self.data_per_worker // BATCH_SHARE // (4 * max(1, n_columns))
        return int(min(1_000_000, max(10_000, rows)))


# What zygarde's own processes hold with the learners imported, data aside (peak RSS of `zygarde run diabetes`'s
# process tree, benchmarks/memory_budget.py): this process (the flow, Dask's scheduler, MLflow, GX) and the
# Prefect API, and each Dask worker.
DRIVER_BYTES = 850 * 2**20
WORKER_BYTES = 400 * 2**20


def services_floor(workers: int) -> int:
    """The least memory a run needs before its data: the driver and the Prefect API, and ``workers`` workers."""
    return DRIVER_BYTES + workers * WORKER_BYTES


def check_floor(total: int, workers: int) -> None:
    """Refuse a budget below ``services_floor``: it would be over before the first row is read."""
    floor = services_floor(workers)
    if total < floor:
        raise ZygardeError(
            f"{option('memory_limit')} {human(total)} is below what zygarde's own processes need with {workers} Dask "
            f"workers: about {human(floor)} (this process and the Prefect API {human(DRIVER_BYTES)}, each worker "
            f"{human(WORKER_BYTES)}), before any data. Give at least {human(floor)}, or fewer workers "
            "(ZYGARDE_DASK_WORKERS)."
        )
