"""Start (or reach) the services a run needs, once, before the flow: Prefect API and Dask cluster.

Prefect is imported inside the functions so the core package stays importable without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster

from zygarde.errors import ZygardeError
from zygarde.settings import Settings


@contextmanager
def prefect_api() -> Iterator[str]:
    """Use ``PREFECT_API_URL`` if set; else start one local API server and export its URL.

    Exporting it before the Dask cluster starts means the workers report to this server instead of each
    starting a temporary one of their own (DESIGN.md, decision 1).
    """
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        yield server.api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


@contextmanager
def dask_scheduler(settings: Settings) -> Iterator[Client]:
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
            yield client
        return
    with (
        LocalCluster(
            n_workers=settings.dask_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
