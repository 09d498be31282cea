"""Prefect flows (installed as ``zygarde.flows``): each wires the core library's stages as tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def served_deployments() -> list[RunnerDeployment]:
    """Every flow as a deployment for ``zygarde serve``: the Prefect UI shows each with its parameter form."""
    from prefect.deployments.runner import EntrypointType

    from zygarde.errors import ZygardeError
    from zygarde.families import FAMILIES

    from .drift import monitor_drift
    from .job import run_job

    # module-path entrypoints (zygarde.flows.tabular.train_tabular): the runner imports the installed package,
    # so what its tasks pickle refers to modules every Dask worker can import (a file path would load the flow
    # as a top-level module `tabular` that no worker has)
    module = {"tags": ["zygarde"], "entrypoint_type": EntrypointType.MODULE_PATH}
    deployments = []
    for entry in FAMILIES.values():
        try:
            deployments.append(entry.training_flow().to_deployment(name=entry.deployment, **module))
        except ZygardeError:  # a kind whose extra is not installed (vision: PyTorch) is not served
            continue
    return [
        *deployments,
        run_job.to_deployment(name="job", **module),
        monitor_drift.to_deployment(name="monitor-drift", **module),
    ]
