"""Where a CLI run's logs go: everything to one log file in the work dir, the terminal quiet unless ``--verbose``.

Set up before Prefect, Dask or MLflow is imported, through their own configuration (a Prefect logging file,
Dask and MLflow environment variables), so the processes the run starts (Dask workers, the Prefect API)
inherit it: their tracebacks land in the file, not on the terminal, and the Prefect API still receives every
log line for the UI.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import yaml

_FORMAT = "%(asctime)s | %(levelname)-7s | %(process)d | %(name)s - %(message)s"
_OWN_HANDLERS = ("prefect.extra", "prefect._internal", "uvicorn", "fastapi")  # loggers that do not propagate


def new_log_file(log_dir: Path, command: str) -> Path:
    """A fresh log file for one CLI run: ``<log_dir>/<date>-<time>-<command>-<pid>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{command}-{os.getpid()}.log"
    path.touch()
    return path.resolve()


def route_logs(log_file: Path, verbose: bool) -> None:
    """Send Prefect's, Dask's, MLflow's and GX's logs to ``log_file``; show them on the terminal only if verbose.

    Prefect reads its logging configuration when it is imported: where it already is (the warm runner's child),
    it is configured again here. Child processes inherit the routing through the environment.
    """
    console = "INFO" if verbose else "CRITICAL"
    if not verbose:  # processes that write to their console (a Spark JVM) write here instead
        os.environ["ZYGARDE_LOG_FILE"] = str(log_file)
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(_prefect_logging_file(log_file, console))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ["DASK_LOGGING__DISTRIBUTED"] = "info" if verbose else "warning"  # worker processes' stderr
    os.environ["MLFLOW_LOGGING_LEVEL"] = "INFO" if verbose else "WARNING"
    for name in ("distributed", "mlflow", "zygarde"):  # this process: INFO into the file whatever the console
        # one handler each: LocalCluster silences the handlers of the `distributed` logger while it runs
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False  # the root logger writes the same file once Prefect has configured it
        if verbose and name == "zygarde":
            logger.addHandler(logging.StreamHandler())
    if "prefect" in sys.modules:
        from prefect.context import refresh_global_settings_context
        from prefect.logging.configuration import setup_logging

        refresh_global_settings_context()  # the settings path above, read now
        setup_logging(incremental=False)


def quiet_libraries(verbose: bool) -> None:
    """After ``distributed`` and ``mlflow`` are imported: their own stderr handlers show warnings at most."""
    level = logging.INFO if verbose else logging.CRITICAL
    for name in ("distributed", "mlflow"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:
                handler.setLevel(level)


def _prefect_logging_file(log_file: Path, console_level: str) -> Path:
    """Prefect's own logging configuration plus a file handler on every logger that has handlers."""
    spec = find_spec("prefect")
    if spec is None or spec.origin is None:
        raise RuntimeError("prefect is not installed")
    config = yaml.safe_load((Path(spec.origin).parent / "logging" / "logging.yml").read_text())
    config["handlers"]["console"]["level"] = console_level
    config["handlers"]["debug"]["level"] = console_level
    config["handlers"]["file"] = {
        "class": "logging.FileHandler",
        "filename": str(log_file).replace("$", "$$"),  # Prefect substitutes $SETTINGS in this file
        "formatter": "standard",
        "level": 0,
    }
    config["root"]["handlers"] = [*config["root"]["handlers"], "file"]
    for name in _OWN_HANDLERS:
        if name in config["loggers"]:
            config["loggers"][name]["handlers"] = [*config["loggers"][name].get("handlers", []), "file"]
    path = log_file.with_suffix(".logging.yml")
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
