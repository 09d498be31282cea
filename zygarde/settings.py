"""One settings object: where things are and which services to use, from env vars (prefix ``ZYGARDE_``)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_REPO_ROOT = Path(__file__).resolve().parents[1]


def _default_data_root() -> Path:
    shipped = _REPO_ROOT / "data" / "raw"
    return shipped if shipped.is_dir() else Path.cwd() / "data" / "raw"


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``ZYGARDE_<FIELD>`` (standard MLflow/Prefect vars honoured)."""

    model_config = SettingsConfigDict(env_prefix="ZYGARDE_", extra="ignore")

    work_dir: Path = Field(
        default_factory=lambda: Path.cwd() / ".zygarde",
        description="Where the default MLflow store, artifacts and profiles live.",
    )
    data_root: Path = Field(default_factory=_default_data_root, description="Folder of the built-in datasets.")
    expectations_dir: Path = Field(
        default=_REPO_ROOT / "expectations", description="Folder of the great-expectations suites (JSON)."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        description="MLflow tracking URI; falls back to MLFLOW_TRACKING_URI, then a SQLite file in work_dir.",
    )
    dask_address: str | None = Field(
        default=None, description="Dask scheduler address (tcp://host:8786); empty starts a LocalCluster."
    )
    dask_workers: int = Field(default=2, ge=1, description="Workers of the LocalCluster when no address is given.")
    dask_connect_timeout: float = Field(default=20.0, gt=0, description="Seconds to wait for a scheduler.")
    seed: int = Field(default=42, description="Default random seed of splits, folds and estimators.")
    pairwise_memory_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Share of free memory DBSCAN/Agglomerative may use for n x n distances; sets their row limit.",
    )

    @model_validator(mode="after")
    def _resolve_tracking_uri(self) -> Settings:
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or (
                f"sqlite:///{(self.work_dir / 'mlflow.db').resolve()}"
            )
        return self


def get_settings() -> Settings:
    """Read settings from the environment now (not cached, so tests and CLIs can change env vars)."""
    return Settings()
