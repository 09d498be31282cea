"""Every stage is measured (wall, CPU %, peak RSS) and, on demand, profiled; both land in the parent run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from zygarde.monitoring import ResourceMonitor, profiled
from zygarde.tracking import RunContext, log_files, log_metrics


@contextmanager
def stage(name: str, run: RunContext) -> Iterator[None]:
    """Measure the block as stage ``name``; log ``stage_<name>_*`` metrics and profiles to the parent run."""
    profile_dir = run.profile_dir / name if run.profile_dir else None
    with ResourceMonitor() as monitor, profiled(name, profile_dir) as written:
        yield
    log_metrics(run.tracking_uri, run.run_id, monitor.usage.as_metrics(f"stage_{name}_"))
    if written:
        log_files(run.tracking_uri, run.run_id, written, "profiles")
