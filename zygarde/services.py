"""``zygarde up`` / ``zygarde down``: a local Prefect API, Dask cluster and warm runner kept for many runs.

A run started alone pays for its services each time: the Prefect API's boot, the workers' start and their
imports (docs/decisions/0006). ``up`` starts them once, detached from the terminal, and records them in
``<work dir>/services/services.json``; every training command with that work dir then uses them (where the
user configured no Prefect API or Dask scheduler of their own), and ``down`` stops them by that record.
The cluster lives in a host process of its own (``python -m zygarde.services``), which keeps zygarde's
LocalCluster settings (docs/decisions/0003) and has its workers import what trials use; the warm runner
(``zygarde.runner``) runs the training commands themselves in children of a process that has imported their
libraries (docs/decisions/0008).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from zygarde.errors import ZygardeError
from zygarde.files import write_atomically
from zygarde.settings import Settings

# what the trials of the default kind import: warmed on every worker once, not per run
TRIAL_MODULES = ("zygarde.search.engine", "zygarde.tabular.objective", "xgboost", "sklearn.ensemble")


@dataclass(frozen=True)
class WarmServices:
    """The services ``zygarde up`` started: where they answer, and the processes to stop."""

    api_url: str
    dask_address: str
    pids: tuple[int, ...]  # each the leader of its own process group (the API server, the cluster host)
    started_at: str

    def alive(self) -> bool:
        """Whether every process is still there."""
        for pid in self.pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:  # there, but another user's: not ours to use
                return False
        return True


def state_file(settings: Settings) -> Path:
    """Where ``up`` records the services of this work dir."""
    return settings.work_dir / "services" / "services.json"


def warm_services(settings: Settings) -> WarmServices | None:
    """The services ``up`` started for this work dir, if they are still running (a stale record is removed)."""
    path = state_file(settings)
    try:
        record = json.loads(path.read_text())
        services = WarmServices(record["api_url"], record["dask_address"], tuple(record["pids"]), record["started_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if services.alive():
        return services
    path.unlink(missing_ok=True)
    return None


def use_warm_services(settings: Settings) -> WarmServices | None:
    """Point this process at the services ``up`` started (the Prefect API and the Dask scheduler), where the user
    configured none; the services used, or None."""
    services = warm_services(settings)
    if services is None:
        return None
    from zygarde.orchestration import configured_api_url

    if not configured_api_url():
        os.environ["PREFECT_API_URL"] = services.api_url
    if not settings.dask_address:
        os.environ["ZYGARDE_DASK_ADDRESS"] = services.dask_address
    return services


def start(settings: Settings, workers: int, memory_limit: str | None, timeout: float = 120) -> WarmServices:
    """Start the Prefect API and the cluster host, wait until both answer, and record them."""
    from zygarde.orchestration import LocalPrefectAPI

    running = warm_services(settings)
    if running is not None:
        return running
    folder = state_file(settings).parent
    folder.mkdir(parents=True, exist_ok=True)
    api = LocalPrefectAPI(folder / "prefect.log").start(detached=True)
    address_file = folder / "dask.address"
    address_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "zygarde.services", str(address_file), str(workers), memory_limit or ""]
    with open(folder / "dask.log", "ab") as log:
        host = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started = [p for p in (api.process, host) if p is not None]
    try:
        api.wait(timeout)
        address = _wait_for_address(address_file, host, timeout)
        started.append(runner := _start_runner(settings, folder, timeout))
    except ZygardeError:
        _stop_pids(tuple(p.pid for p in started))
        raise
    assert api.process is not None
    services = WarmServices(api.api_url, address, (api.process.pid, host.pid, runner.pid),
                            datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    write_atomically(state_file(settings), lambda tmp: tmp.write_text(json.dumps(asdict(services))))
    return services


def stop(settings: Settings) -> WarmServices | None:
    """Stop the services ``up`` recorded for this work dir (None: none were running)."""
    services = warm_services(settings)
    if services is not None:
        _stop_pids(services.pids)
    state_file(settings).unlink(missing_ok=True)
    return services


def _start_runner(settings: Settings, folder: Path, timeout: float) -> subprocess.Popen[bytes]:
    """The warm runner (``zygarde.runner``), once it listens."""
    from zygarde.runner import socket_path

    try:
        path = socket_path(settings.work_dir)
    except PermissionError as exc:
        raise ZygardeError(str(exc)) from None
    path.unlink(missing_ok=True)
    with open(folder / "runner.log", "ab") as log:
        runner = subprocess.Popen([sys.executable, "-m", "zygarde.runner", str(path)], stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while not path.exists():
        if runner.poll() is not None or time.monotonic() > deadline:
            runner.kill()
            raise ZygardeError(f"The warm runner did not start; see {folder / 'runner.log'}.")
        time.sleep(0.1)
    return runner


def _wait_for_address(path: Path, host: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.poll() is not None:
            raise ZygardeError(f"The Dask cluster exited with code {host.returncode} while starting; see "
                               f"{path.parent / 'dask.log'}.")  # fmt: skip
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.1)
    raise ZygardeError(f"The Dask cluster did not start within {timeout:.0f} s; see {path.parent / 'dask.log'}.")


def _stop_pids(pids: tuple[int, ...], grace: float = 20) -> None:
    """SIGTERM each process group, then SIGKILL what is left after ``grace`` seconds."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + grace
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            _reap(pid)
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is this process's child that has exited (else it would linger as a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def host_cluster(address_file: Path, workers: int, memory_limit: str | None) -> None:
    """The cluster host: a LocalCluster of one-thread workers that have imported what trials use, its address
    written to ``address_file``, until SIGTERM or SIGINT."""
    from distributed import Client

    from zygarde.orchestration import import_modules, local_cluster, local_cluster_options
    from zygarde.settings import get_settings

    options = local_cluster_options(get_settings(), workers, memory_limit)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    with (
        local_cluster(**options) as cluster,
        Client(cluster) as client,
    ):
        client.run(import_modules, TRIAL_MODULES)
        write_atomically(address_file, lambda tmp: tmp.write_text(cluster.scheduler_address))
        while not stopped.wait(1.0):  # a timed wait: the signal handlers run between waits
            continue


if __name__ == "__main__":
    host_cluster(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] or None)
