"""One SparkSession per process, created on first use, reused by every task and flow that process runs.

A Dask worker creates its session when a Spark subtask first needs it and stops it when the worker closes
(``SparkSessionPlugin``); work that does not use Spark never starts a JVM. Sessions are never passed as task
arguments: tasks pass paths and settings, and call ``spark_session()`` where they run.

Known traps handled here:
- static settings (``spark.driver.memory``) take effect only for the first session of a process; a later,
  different value is refused with a message, not silently ignored;
- Spark's UI searches 16 ports and then fails (many sessions on one host): the UI is off;
- the driver binds 127.0.0.1 unless ``ZYGARDE_SPARK_BIND`` says otherwise, or, with a ``spark://`` master on
  another host, the address its Dask worker advertises (outside a worker: this host's address on the route to
  the master), since that master's executors connect back to it;
- Java missing or older than 17, or a ``spark://`` master that does not answer: a clear error naming what is
  needed, within seconds, instead of a hang.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from distributed.diagnostics.plugin import WorkerPlugin

from zygarde.errors import ZygardeError
from zygarde.orchestration import worker_threads

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MIN_JAVA = 17
_LOCK = threading.Lock()
_ACTIVE: dict[str, Any] = {}  # "session" -> SparkSession, "config" -> SparkConfig


@dataclass(frozen=True)
class SparkConfig:
    """What a session is made with: master, driver memory (static), shuffle partitions, bind address."""

    master: str
    driver_memory: str = "1g"
    shuffle_partitions: int = 4
    bind: str = "127.0.0.1"
    cores_max: int = 1  # of a spark:// cluster, for this driver

    @classmethod
    def from_settings(cls, cores: int | None = None) -> SparkConfig:
        """The settings' Spark config; ``local[cores]`` (this worker's threads) when no master is set."""
        from zygarde.settings import get_settings

        settings = get_settings()
        master = settings.spark_master or f"local[{cores or worker_threads()}]"
        memory = settings.spark_driver_memory
        if settings.memory_limit:  # a worker's share of the budget bounds its session
            from zygarde.memory import MemoryBudget, parse_size

            memory = MemoryBudget(parse_size(settings.memory_limit), settings.dask_workers).spark_driver_memory()
        bind = settings.spark_bind
        if "spark_bind" not in settings.model_fields_set and _remote_master(master):
            bind = _this_workers_host() or _address_towards(master)  # its executors must reach this driver back
        return cls(master, memory, settings.spark_shuffle_partitions, bind, settings.spark_cores_max)


def model_dir() -> str | None:
    """Where Spark saves and loads models through (MLflow's ``dfs_tmpdir``): ``ZYGARDE_SPARK_SHARED_DIR`` with a
    ``spark://`` master on other hosts (its executors write a model's files, on their own disks unless the folder
    is shared); None: MLflow's local default."""
    from zygarde.settings import get_settings

    settings = get_settings()
    if not _remote_master(settings.spark_master or ""):
        return None
    if not settings.spark_shared_dir:
        raise ZygardeError(shared_dir_needed(settings.spark_master or ""))
    return settings.spark_shared_dir


def shared_dir_needed(master: str) -> str:
    """Why a remote master needs ``ZYGARDE_SPARK_SHARED_DIR``, and what to set."""
    return (
        f"ZYGARDE_SPARK_MASTER {master} is on other hosts, whose executors write a Spark model's files on their own "
        "disks: set ZYGARDE_SPARK_SHARED_DIR to a folder every Spark host and Dask worker mounts at the same path "
        "(NFS), or an hdfs:// or s3a:// URI"
    )


def _remote_master(master: str) -> bool:
    """A ``spark://`` master on another host."""
    from urllib.parse import urlparse

    host = urlparse(master).hostname if master.startswith("spark://") else None
    return bool(host) and host not in ("127.0.0.1", "localhost", "::1")


def _address_towards(master: str) -> str:
    """This host's address on the route to ``master`` (a UDP socket's local end after ``connect``: no packet is
    sent), for a driver outside a Dask worker (the flow's process refits the winner)."""
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(master)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((socket.gethostbyname(parsed.hostname or ""), parsed.port or 7077))
        return str(probe.getsockname()[0])


def _this_workers_host() -> str | None:
    """The address this process's Dask worker advertises (None outside a worker)."""
    from urllib.parse import urlparse

    from distributed import get_worker

    try:
        return urlparse(get_worker().address).hostname
    except ValueError:
        return None


def java_version(java: str | None = None) -> int:
    """The major version of the ``java`` Spark would start (JAVA_HOME's, else PATH's); a clear error if none."""
    home = os.environ.get("JAVA_HOME")
    command = java or (os.path.join(home, "bin", "java") if home else shutil.which("java"))
    if not command or not os.path.exists(command):
        raise ZygardeError(
            f"Spark needs Java {MIN_JAVA} or newer, and no `java` was found (JAVA_HOME={home or 'unset'}). "
            f"Install it (Debian: apt-get install openjdk-{MIN_JAVA}-jre-headless) or set JAVA_HOME."
        )
    try:
        said = subprocess.run([command, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ZygardeError(f"Spark needs Java {MIN_JAVA}+, and `{command} -version` failed ({exc}).") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', said)
    if not found:
        raise ZygardeError(f"Spark needs Java {MIN_JAVA}+, and `{command} -version` said: {said.strip()[:200]}")
    major = int(found.group(1)) if found.group(1) != "1" else int(found.group(2) or 0)  # "1.8" is Java 8
    if major < MIN_JAVA:
        raise ZygardeError(
            f"Spark needs Java {MIN_JAVA} or newer; {command} is Java {major}. "
            f"Install openjdk-{MIN_JAVA} and point JAVA_HOME at it."
        )
    return major


def check_master(master: str, timeout: float = 10) -> None:
    """A ``spark://host:port`` (or ``sc://``) master must answer on its port within ``timeout`` seconds."""
    parsed = urlparse(master)
    if parsed.scheme not in ("spark", "sc"):
        return
    try:
        with socket.create_connection((parsed.hostname or "", parsed.port or 7077), timeout=timeout):
            return
    except OSError as exc:
        raise ZygardeError(
            f"The Spark master {master} does not answer ({exc}). Start it (spark-class "
            "org.apache.spark.deploy.master.Master), or unset ZYGARDE_SPARK_MASTER to run Spark locally."
        ) from None


def spark_session(config: SparkConfig | None = None) -> SparkSession:
    """This process's SparkSession, created on first call with ``config`` (default: the settings')."""
    config = config or SparkConfig.from_settings()
    with _LOCK:
        session = _ACTIVE.get("session")
        if session is not None and session.sparkContext._jsc is not None:
            _check_static(_ACTIVE["config"], config)
            return session
        java_version()
        check_master(config.master)
        session = _start(config)
        _ACTIVE.update(session=session, config=config)
        return session


def _start(config: SparkConfig) -> SparkSession:
    """Launch the JVM (its console output into the run's log file, when there is one) and the session."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    conf = (
        SparkConf()
        .setMaster(config.master)
        .setAppName("zygarde")
        .set("spark.driver.memory", config.driver_memory)
        .set("spark.sql.shuffle.partitions", str(config.shuffle_partitions))
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
        .set("spark.driver.host", config.bind)
        .set("spark.driver.bindAddress", config.bind)
        .set("spark.sql.execution.arrow.pyspark.enabled", "true")
        .set("spark.network.timeout", "120s")
        # a table Spark reads is cached partition by partition: small ones fit a small heap (and spill whole)
        .set("spark.sql.files.maxPartitionBytes", "32m")
    )
    if config.master.startswith("spark://"):  # one driver per Dask worker shares the cluster's cores
        conf.set("spark.cores.max", str(config.cores_max)).set("spark.executor.cores", str(config.cores_max))
    os.environ.setdefault("SPARK_LOCAL_IP", config.bind)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # Python UDF workers: this interpreter, not PATH's
    log_file = os.environ.get("ZYGARDE_LOG_FILE")
    output = open(log_file, "ab") if log_file else None  # noqa: SIM115 (held by the JVM for its lifetime)
    gateway = launch_gateway(conf, popen_kwargs={"stdout": output, "stderr": output} if output else None)
    context = SparkContext(conf=conf, gateway=gateway)
    context.setLogLevel("ERROR")
    return SparkSession(context)


def _check_static(running: SparkConfig, asked: SparkConfig) -> None:
    """Settings fixed when the process's JVM started cannot change for a later task: say so."""
    for name, now, wanted in (("master", running.master, asked.master),
                              ("driver memory", running.driver_memory, asked.driver_memory)):  # fmt: skip
        if now != wanted:
            raise ZygardeError(
                f"This process's Spark session runs with {name} {now}; {wanted} was asked. Spark fixes it when the "
                "process's JVM starts: restart the Dask workers (or the CLI) to change it."
            )


def stop_session() -> None:
    """Stop this process's session (and its JVM), if it has one."""
    with _LOCK:
        session = _ACTIVE.pop("session", None)
        _ACTIVE.pop("config", None)
        if session is not None:
            session.stop()


def has_session() -> bool:
    """Whether this process has started a Spark session (a JVM)."""
    return "session" in _ACTIVE


class SparkSessionPlugin(WorkerPlugin):
    """A Dask worker plugin: the worker's Spark session (if a task made one) stops when the worker closes."""

    name = "zygarde-spark-session"

    def teardown(self, worker: Any) -> None:
        """Stop the worker process's session."""
        stop_session()


def stop_sessions_with_workers(client: Any) -> None:
    """Register ``SparkSessionPlugin`` on ``client``'s workers (idempotent: one plugin per name)."""
    client.register_plugin(SparkSessionPlugin())
