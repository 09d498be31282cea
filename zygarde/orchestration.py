"""Start (or reach) the services a run needs, once and side by side: the Prefect API and the Dask cluster.

Prefect is imported inside the functions so the core package stays importable (and the CLI's pre-service
checks stay fast) without it.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dask
from distributed import Client, LocalCluster

from zygarde.errors import ZygardeError
from zygarde.settings import Settings

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
log = logging.getLogger(__name__)


class LocalPrefectAPI:
    """A local Prefect API server (what Prefect starts as its temporary server), launched as a plain subprocess.

    Launched without importing Prefect here, it boots while this process imports the flow and starts the
    cluster. It serves Prefect's default database, so ``prefect server start`` shows the runs afterwards.
    """

    def __init__(self, log_file: Path | None = None) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, detached: bool = False) -> LocalPrefectAPI:
        """Launch the server; returns at once (``wait`` blocks until it answers). ``detached``: in a session of
        its own, so it outlives this process and the terminal's signals (``zygarde up``)."""
        spec = find_spec("prefect")
        if spec is None or spec.origin is None:
            raise ZygardeError("Prefect is not installed; reinstall zygarde (pip install -e .).")
        output = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.origin).parents[1]), "--factory",
                   "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "error", "--lifespan", "on"]  # fmt: skip
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        self.process = subprocess.Popen(command, env=env, stdout=output, stderr=output, start_new_session=detached)
        log.info("launched a local Prefect API at %s", self.api_url)
        return self

    def wait(self, timeout: float = 90) -> None:
        """Block until the API answers its health check; a server that died or never answered is an error."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ZygardeError(f"The local Prefect API exited with code {self.process.returncode} while starting.")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    log.info("the Prefect API answers")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ZygardeError(f"The local Prefect API at {self.api_url} did not answer within {timeout:.0f} s.")

    def stop(self) -> None:
        """Terminate the server (and wait for it, briefly)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def prefect_api(log_file: Path | None = None) -> Iterator[tuple[str, LocalPrefectAPI | None]]:
    """The Prefect API to use: the one configured (``PREFECT_API_URL`` in the environment or the active profile,
    as ``prefect config set`` leaves it), else a local server, launched now and stopped on exit.

    Yields (URL, the local server or None); call ``wait()`` on the server before using the URL.
    """
    configured = configured_api_url()
    if configured:
        check_reachable(configured)
        yield configured, None
        return
    server = LocalPrefectAPI(log_file).start()
    try:
        yield server.api_url, server
    finally:
        flush_to_api()  # the log lines still queued for it, before it goes away
        server.stop()
        log.info("local Prefect API stopped")


@contextmanager
def services(
    settings: Settings,
    api: tuple[str, LocalPrefectAPI | None],
    warm: tuple[str, ...] = (),
    warm_here: tuple[str, ...] = (),
) -> Iterator[Client]:
    """The Dask cluster beside the Prefect API ``api``, both up; the flow runs inside.

    Every Prefect task runs in this process (the workers run trials, plain Dask futures); the API's URL is
    exported all the same, and is in the settings context any task carries, so a worker never starts a
    throwaway server of its own. While the API boots, the workers import ``warm`` and this process ``warm +
    warm_here`` (what the stages will need), so that neither the first trial nor the first stage pays for it.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url, server = api
    with ExitStack() as stack:
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url  # processes started from here on (LocalCluster workers) inherit it
        stack.callback(_restore_env, "PREFECT_API_URL", previous)
        _warn_about_reach(settings)
        client = stack.enter_context(dask_client(settings))
        log.info("Dask cluster up: %d workers", len(client.scheduler_info()["workers"]))
        # on every worker, as a task that the flow's first task queues behind; held until the run ends
        warming = [
            client.submit(import_modules, warm, workers=[w], allow_other_workers=False, pure=False)
            for w in client.scheduler_info()["workers"]
        ]
        import_modules((*warm, *warm_here))
        _open_store(settings.mlflow_tracking_uri)
        log.info("imports warmed and the MLflow store open")
        if server is not None:
            server.wait()
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield client
        del warming


def _open_store(tracking_uri: str | None) -> None:
    """Open the MLflow store once now (a new SQLite store creates its tables: ~1.5 s the first stage saves)."""
    if tracking_uri:
        from zygarde.tracking import get_client

        get_client(tracking_uri).search_experiments(max_results=1)


def configured_api_url() -> str | None:
    """The Prefect API URL from the environment or the active profile (None: none configured), read now: Prefect's
    own settings object keeps what the environment held when Prefect was first imported."""
    from prefect.settings import Settings

    return Settings().api.url


def flush_to_api() -> None:
    """Send the log lines and events still queued for the API (before a local server goes away: else 'Error
    logging to API', and an exit that waits on retries against a server that is gone; before an event's sender
    exits)."""
    if "prefect.logging.handlers" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()
    EventsWorker.drain_all(timeout=10, at_exit=False)


def check_reachable(url: str) -> None:
    """Raise a clear ``ZygardeError`` unless the Prefect API at ``url`` answers its health check."""
    import httpx

    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise ZygardeError(
            f"The Prefect API at {url} (PREFECT_API_URL, from the environment or the active profile) does not "
            f"answer ({type(exc).__name__}). Start it with `prefect server start`, or unset it "
            "(`prefect config unset PREFECT_API_URL`) to let zygarde start a local one."
        ) from None


def cluster_on_this_host(settings: Settings) -> bool:
    """Whether the Dask workers share this host's disk: a LocalCluster, or a scheduler on loopback."""
    scheduler = urlparse(settings.dask_address or "").hostname
    return not scheduler or scheduler in _LOOPBACK


def _warn_about_reach(settings: Settings) -> None:
    """With a Dask cluster on other hosts, say at start what its workers cannot reach.

    Workers run trials only: no Prefect task, so they never talk to the Prefect API; with a SQLite store one
    thread in this process writes the child runs. Only a tracking server must be reachable from them.
    """
    import warnings

    tracking = urlparse(settings.mlflow_tracking_uri or "")
    remote_workers = not cluster_on_this_host(settings)
    if remote_workers and tracking.scheme in ("http", "https") and tracking.hostname in _LOOPBACK:
        warnings.warn(
            f"the Dask workers at {settings.dask_address} log their trials to {settings.mlflow_tracking_uri}, "
            "which is this host's loopback address; set MLFLOW_TRACKING_URI to an address they can reach.",
            stacklevel=2,
        )


def import_modules(modules: tuple[str, ...]) -> None:
    """Import ``modules`` now (a warm-up: a module that is missing here is left for the flow to report)."""
    from importlib import import_module

    for module in modules:
        try:
            import_module(module)
        except ImportError:
            continue


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextmanager
def dask_client(settings: Settings) -> Iterator[Client]:
    """A client on the configured scheduler (failing fast, naming it), or on a fresh LocalCluster."""
    if settings.dask_address:
        try:
            client = Client(settings.dask_address, timeout=settings.dask_connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise ZygardeError(
                f"Could not reach the Dask scheduler at {settings.dask_address} within "
                f"{settings.dask_connect_timeout:.0f} s ({exc}). Start it with `dask scheduler`, or unset "
                "ZYGARDE_DASK_ADDRESS to use a local cluster."
            ) from None
        with client:
            try:
                client.wait_for_workers(1, timeout=settings.dask_connect_timeout)
            except TimeoutError:
                raise ZygardeError(
                    f"The Dask scheduler at {settings.dask_address} has no workers (none joined within "
                    f"{settings.dask_connect_timeout:.0f} s). Start `dask worker {settings.dask_address}` on the "
                    "worker hosts."
                ) from None
            check_versions(client, settings.dask_address)
            yield client
        return
    with local_cluster(**local_cluster_options(settings)) as cluster, Client(cluster) as client:
        if settings.dask_dashboard:
            log.info("Dask dashboard: %s", cluster.dashboard_link)
        yield client
        log.info("closing the Dask cluster")
    log.info("Dask cluster closed")


def stack_versions() -> dict[str, str]:
    """zygarde's version and those of the packages its distribution pins (extras aside), as installed here."""
    from importlib.metadata import PackageNotFoundError, requires, version

    names = ["zygarde", *(re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0] for r in requires("zygarde") or []
                          if "extra ==" not in r)]  # fmt: skip
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def check_versions(client: Client, address: str) -> None:
    """Every worker of the cluster at ``address`` runs this host's zygarde and stack (Dask's scheduler and
    workers unpickle what this process sends): the first difference is one error naming the worker's host and
    the package."""
    here = stack_versions()
    try:
        theirs = client.run(stack_versions)
    except ModuleNotFoundError as exc:
        raise ZygardeError(f"A worker of the Dask cluster at {address} cannot import zygarde ({exc}): install "
                           f"zygarde {here['zygarde']} on every worker host.") from None  # fmt: skip
    names = {w: info.get("name", w) for w, info in client.scheduler_info()["workers"].items()}
    for worker, versions in sorted(theirs.items()):
        for package, version in here.items():
            if versions.get(package) != version:
                host = urlparse(worker).hostname
                raise ZygardeError(
                    f"Dask worker {names.get(worker, worker)} on {host} has {package} {versions.get(package)}, this "
                    f"host {version}: install the same zygarde and stack on every host (pip install the same "
                    f"zygarde wheel, which pins them)."
                )


def local_cluster_options(settings: Settings, workers: int | None = None, memory_limit: str | None = None
                          ) -> dict[str, Any]:  # fmt: skip
    """The ``local_cluster`` zygarde runs on one machine: ``workers`` (default the settings') one-thread worker
    processes sharing ``memory_limit`` (default ``ZYGARDE_MEMORY_LIMIT``; Dask's nanny pauses and restarts a
    worker over its share; none: Dask's "auto", the machine's memory split), the dashboard the settings ask for."""
    workers = workers or settings.dask_workers
    limit = memory_limit or settings.memory_limit
    if limit:
        from zygarde.memory import MemoryBudget, parse_size

        share: int | str = MemoryBudget(parse_size(limit), workers).per_worker
    else:
        share = "auto"
    return {"n_workers": workers, "threads_per_worker": 1, "processes": True,
            "dashboard_address": settings.dask_dashboard, "memory_limit": share}  # fmt: skip


def worker_threads() -> int:
    """Threads this process may use: its Dask worker's, or the machine's cores outside a worker."""
    try:
        from distributed import get_worker

        return max(1, get_worker().state.nthreads)
    except ValueError:  # not on a Dask worker: this process owns the machine's cores
        return max(1, os.cpu_count() or 1)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now ("": every interface)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def local_cluster(**kwargs: Any) -> LocalCluster:
    """A ``LocalCluster`` on this host: its worker processes keep glibc's adaptive allocator, its scheduler runs
    no active memory manager (docs/decisions/0003), and without a ``dashboard_address`` it has no dashboard and
    no fixed port (docs/decisions/0007)."""
    dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
    if os.environ.get("MALLOC_TRIM_THRESHOLD_") == "65536":  # Dask's own value, left by an earlier nanny
        del os.environ["MALLOC_TRIM_THRESHOLD_"]
    kwargs.setdefault("host", "127.0.0.1")  # its scheduler and workers listen on this host only
    if kwargs.get("dashboard_address") is None:
        kwargs["dashboard_address"] = None
        kwargs["scheduler_kwargs"] = {"dashboard": False, "dashboard_address": "127.0.0.1:0",
                                      **kwargs.get("scheduler_kwargs", {})}  # fmt: skip
    with dask.config.set({"distributed.scheduler.active-memory-manager.start": False}):
        return LocalCluster(**kwargs)
