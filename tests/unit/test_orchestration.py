"""The local cluster zygarde starts: no dashboard unless asked, so two runs at once print no port warning."""

from __future__ import annotations

import warnings

import httpx

from zygarde.orchestration import local_cluster


def test_two_local_clusters_at_once_take_no_fixed_port_and_warn_about_none() -> None:
    """Dask took 8787 for every run and the second run's terminal read "Port 8787 is already in use"."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with (
            local_cluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp") as first,
            local_cluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp") as second,
        ):
            ports = {cluster.scheduler.http_server.port for cluster in (first, second)}
            assert 8787 not in ports and len(ports) == 2
            status = httpx.get(f"http://127.0.0.1:{first.scheduler.http_server.port}/status", timeout=10)
            assert status.status_code == 404  # the dashboard's page: not served
    assert not [w for w in caught if "already in use" in str(w.message)], [str(w.message) for w in caught]


def test_a_dashboard_is_there_when_asked_for() -> None:
    with local_cluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address="127.0.0.1:0"
    ) as asked:
        assert asked.dashboard_link.startswith("http://127.0.0.1:")
