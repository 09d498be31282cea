"""Prefect flows (installed as ``zygarde.flows``): each wires the core library's stages as tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def served_deployments() -> list[RunnerDeployment]:
    """Every flow as a deployment for ``zygarde serve``: the Prefect UI shows each with its parameter form."""
    from prefect.deployments.runner import EntrypointType

    from .cluster import cluster
    from .drift import monitor_drift
    from .job import run_job
    from .tabular import train_tabular

    # module-path entrypoints (zygarde.flows.tabular.train_tabular): the runner imports the installed package,
    # so what its tasks pickle refers to modules every Dask worker can import (a file path would load the flow
    # as a top-level module `tabular` that no worker has)
    module = {"tags": ["zygarde"], "entrypoint_type": EntrypointType.MODULE_PATH}
    deployments = [
        train_tabular.to_deployment(name="train-tabular", **module),
        cluster.to_deployment(name="cluster", **module),
        run_job.to_deployment(name="job", **module),
        monitor_drift.to_deployment(name="monitor-drift", **module),
    ]
    try:  # the vision flow needs the `vision` extra (PyTorch)
        from .vision import train_vision
    except ImportError:
        return deployments
    return [*deployments, train_vision.to_deployment(name="train-vision", **module)]
