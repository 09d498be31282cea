"""Wall time, CPU % and peak RSS (child processes included) of a block of work, and cProfile on demand."""

from __future__ import annotations

import cProfile
import io
import pstats
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

_SAMPLE_SECONDS = 0.1


@dataclass
class ResourceUsage:
    """What a block of work cost: wall seconds, CPU seconds and % of one core, peak resident memory."""

    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    cpu_percent: float = 0.0
    peak_rss_mb: float = 0.0

    def as_metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat metric names for MLflow (``{prefix}wall_seconds`` ...)."""
        return {f"{prefix}{key}": round(value, 4) for key, value in asdict(self).items()}


def _tree_rss(process: psutil.Process) -> int:
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            continue
    return total


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


class ResourceMeter:
    """Context manager that samples the process tree's RSS in a thread and reads CPU times at the ends.

    CPU is that of the whole process, so with several threads busy it measures all of them; on a Dask
    worker with one thread per process it is the trial's own.
    """

    def __init__(self, interval: float = _SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.usage = ResourceUsage()

    def __enter__(self) -> ResourceMeter:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._peak = _tree_rss(self._process)
        self._cpu0 = _cpu_seconds(self._process)
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, daemon=True, name="zygarde-rss")
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, _tree_rss(self._process))

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()
        cpu = _cpu_seconds(self._process) - self._cpu0
        self._peak = max(self._peak, _tree_rss(self._process))
        self.usage = ResourceUsage(
            wall_seconds=wall,
            cpu_seconds=cpu,
            cpu_percent=100.0 * cpu / wall if wall > 0 else 0.0,
            peak_rss_mb=self._peak / 2**20,
        )


@contextmanager
def profiled(stage: str, out_dir: Path | None) -> Iterator[list[Path]]:
    """cProfile the block when ``out_dir`` is set: writes ``{stage}.prof`` and a top-30 ``{stage}.txt``.

    Yields the list that receives the written paths (empty when profiling is off).
    """
    written: list[Path] = []
    if out_dir is None:
        yield written
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield written
    finally:
        profiler.disable()
        out_dir.mkdir(parents=True, exist_ok=True)
        prof_path, text_path = out_dir / f"{stage}.prof", out_dir / f"{stage}.txt"
        profiler.dump_stats(prof_path)
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(30)
        text_path.write_text(buffer.getvalue())
        written.extend([prof_path, text_path])
