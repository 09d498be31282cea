"""zygarde's Prefect deployments (``prefect.yaml``), installed as package data ``zygarde.deployments``."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def prefect_yaml() -> Path:
    """The shipped ``prefect.yaml`` (editable and regular installs alike)."""
    return Path(str(files("zygarde.deployments") / "prefect.yaml"))
