"""One settings object: where things are and which services to use, from env vars (prefix ``ZYGARDE_``)."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from zygarde.errors import ZygardeError

_REPO_ROOT = Path(__file__).resolve().parents[1]


def _default_data_root() -> Path:
    """The checkout's ``data/raw``, else the built-in datasets installed with the package (``zygarde.data``)."""
    checkout = _REPO_ROOT / "data" / "raw"
    if checkout.is_dir():
        return checkout
    from importlib.util import find_spec

    installed = find_spec("zygarde.data")  # a folder without __init__.py: its location, not a file resource
    if installed is not None and installed.submodule_search_locations:
        return Path(next(iter(installed.submodule_search_locations)))
    return Path.cwd() / "data" / "raw"


def _shipped_expectations() -> Path:
    """The GX suites, installed as package data (``zygarde.expectations``) by editable and regular installs alike."""
    return Path(str(files("zygarde.expectations")))


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``ZYGARDE_<FIELD>`` (standard MLflow/Prefect vars honoured)."""

    model_config = SettingsConfigDict(env_prefix="ZYGARDE_", extra="ignore")

    work_dir: Path = Field(
        default_factory=lambda: Path.cwd() / ".zygarde",
        description="Where the default MLflow store, artifacts and profiles live.",
    )
    data_root: Path = Field(
        default_factory=_default_data_root,
        description="Folder of the built-in datasets; with the work dir, the only place a UI form's paths may point.",
    )
    expectations_dir: Path = Field(
        default_factory=_shipped_expectations, description="Folder of the great-expectations suites (JSON)."
    )
    mlflow_tracking_uri: str = Field(
        default="",
        description="MLflow tracking URI; falls back to MLFLOW_TRACKING_URI, then a SQLite file in work_dir.",
    )
    mlflow_ui: str | None = Field(
        default=None,
        description="Base URL of the MLflow UI that run pages link to; default the tracking server, or "
        "http://127.0.0.1:5000 (where `mlflow ui` listens) for a SQLite store.",
    )
    dask_address: str | None = Field(
        default=None, description="Dask scheduler address (tcp://host:8786); empty starts a LocalCluster."
    )
    dask_workers: int = Field(default=2, ge=1, description="Workers of the LocalCluster when no address is given.")
    dask_dashboard: str | None = Field(
        default=None,
        description="Address of the local cluster's dashboard (127.0.0.1:8787; :0 for any free port); default none.",
    )
    dask_connect_timeout: float = Field(default=20.0, gt=0, description="Seconds to wait for a scheduler.")
    engine: Literal["dask", "spark"] = Field(
        default="dask", description="Default engine of tabular trials (a run's --engine / form field wins)."
    )
    memory_limit: str | None = Field(
        default=None,
        description="Memory zygarde may use: split between the local Dask workers (their memory_limit), bounding "
        "each worker's Spark driver and XGBoost's batches (2GiB, 800MB).",
    )
    spark_master: str | None = Field(
        default=None, description="Spark master (spark://host:7077); empty: local[N], N = the worker's threads."
    )
    spark_driver_memory: str = Field(default="1g", description="spark.driver.memory of each process's session.")
    spark_shuffle_partitions: int = Field(default=4, ge=1, description="spark.sql.shuffle.partitions.")
    spark_bind: str = Field(default="127.0.0.1", description="Address the Spark driver binds and advertises.")
    spark_cores_max: int = Field(
        default=1,
        ge=1,
        description="Cores each Spark driver (one per Dask worker) takes from a spark:// cluster: "
        "without a cap the first takes them all and the others wait.",
    )
    spark_shared_dir: str | None = Field(
        default=None,
        description="A folder every Spark host and Dask worker sees at the same path (NFS; or an hdfs:// or s3a:// "
        "URI): Spark models are saved and loaded through it when the Spark master is on other hosts, whose "
        "executors write a model's files.",
    )
    spark_xgboost_workers: int = Field(
        default=1, ge=1, description="num_workers of xgboost.spark: task slots one XGBoost fit takes at once."
    )
    seed: int = Field(default=42, description="Default random seed of splits, folds and estimators.")
    notify_email: str = Field(
        default="", description="Comma-separated addresses told when any training run completes or fails."
    )
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server that sends the notices.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Its port (587 with STARTTLS, 465 with TLS).")
    smtp_security: Literal["none", "starttls", "tls"] = Field(default="none", description="How to secure SMTP.")
    smtp_user: str = Field(default="", description="SMTP login (empty: no login).")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password.")
    smtp_sender: str = Field(default="zygarde@localhost", description="The From: address of notices.")
    pairwise_memory_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Share of free memory DBSCAN/Agglomerative may use for n x n distances; sets their row limit.",
    )

    @property
    def lock_dir(self) -> Path:
        """Lock files that serialise champion promotion across processes on this host."""
        return self.work_dir / "locks"

    @property
    def log_dir(self) -> Path:
        """One log file per CLI run: everything Prefect, Dask, MLflow and GX said."""
        return self.work_dir / "logs"

    @property
    def mlflow_ui_url(self) -> str:
        """Where a person opens the MLflow UI of this store."""
        if self.mlflow_ui:
            return self.mlflow_ui
        uri = self.mlflow_tracking_uri or ""
        return uri if uri.startswith(("http://", "https://")) else "http://127.0.0.1:5000"

    @property
    def notify_addresses(self) -> list[str]:
        """``notify_email`` as a list."""
        return [a.strip() for a in self.notify_email.split(",") if a.strip()]

    @property
    def incoming_dir(self) -> Path:
        """Where ``zygarde ingest`` keeps batches: under a data root the user set, else under the work dir (the
        shipped data root may be inside a source checkout, which runtime data must not touch)."""
        return (self.data_root if "data_root" in self.model_fields_set else self.work_dir) / "incoming"

    def check_data_path(self, path: Path) -> Path:
        """``path`` resolved; refused unless it lies under the data root or the work dir.

        Paths typed into a Prefect UI form or a deployment's parameters are read by a worker on another
        person's behalf: they may only name data that was put where zygarde keeps data.
        """
        resolved = path.expanduser().resolve()
        roots = [self.data_root.resolve(), self.work_dir.resolve()]
        if not any(resolved.is_relative_to(root) for root in roots):
            raise ZygardeError(
                f"{path} is outside the data root: runs started from the Prefect UI or a deployment may only read "
                f"under {roots[0]} or {roots[1]}. Put the file there, or set ZYGARDE_DATA_ROOT."
            )
        return resolved

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
