"""Prefect flows (installed as ``zygarde.flows``): each wires the core library's stages as tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def served_deployments() -> list[RunnerDeployment]:
    """Every flow as a deployment for ``zygarde serve``: the Prefect UI shows each with its parameter form."""
    from .cluster import cluster
    from .tabular import train_tabular

    deployments = [
        train_tabular.to_deployment(name="train-tabular", tags=["zygarde"]),
        cluster.to_deployment(name="cluster", tags=["zygarde"]),
    ]
    try:  # the vision flow needs the `vision` extra (PyTorch)
        from .vision import train_vision
    except ImportError:
        return deployments
    return [*deployments, train_vision.to_deployment(name="train-vision", tags=["zygarde"])]
