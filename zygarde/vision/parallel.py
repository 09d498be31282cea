"""Data-parallel training on the Dask workers: one ``torch.distributed`` rank per worker, each with the
threads its worker owns (the nanny exports OMP_NUM_THREADS=1; a rank that owns its cores should use them)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from distributed import Client

from zygarde.errors import ZygardeError
from zygarde.orchestration import free_port


def run_on_workers(client: Client, function: Callable[..., Any], processes: int, data: Any, *args: Any) -> list[Any]:
    """Run ``function(rank, world, init_method, data, *args, threads=T)`` on each of ``processes`` distinct workers
    at once; ``data`` is scattered to them once.

    For ``torch.distributed``: ``init_method`` is a TCP rendezvous on rank 0's host, on a port free there.
    Fewer workers than ``processes`` -> as many ranks as there are workers. ``threads`` is the rank's share of
    its host's cores: the cores divided by the ranks placed on that host (one rank on a 2-core machine gets 2).
    """
    info = client.scheduler_info()["workers"]
    workers = list(info)[:processes]
    if not workers:
        raise ZygardeError("The Dask cluster has no workers to train on.")
    threads = rank_threads(client, workers, {w: info[w]["host"] for w in workers})
    host = workers[0].split("://")[-1].rsplit(":", 1)[0]
    port = client.run(free_port, "", workers=[workers[0]])[workers[0]]  # every interface: the other ranks connect
    init_method = f"tcp://{host}:{port}"
    shared = client.scatter(data, broadcast=True, hash=False)
    futures = [
        client.submit(
            function, rank, len(workers), init_method, shared, *args, threads=threads[w], workers=[w], pure=False
        )
        for rank, w in enumerate(workers)
    ]
    return client.gather(futures)


def rank_threads(client: Client, workers: list[str], hosts: dict[str, str]) -> dict[str, int]:
    """Threads each rank may use: its host's cores shared among the ranks on that host."""
    cores = client.run(os.cpu_count, workers=workers)
    per_host = Counter(hosts.values())
    return {w: max(1, (cores[w] or 1) // per_host[hosts[w]]) for w in workers}
