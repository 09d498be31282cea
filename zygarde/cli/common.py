"""What every ``zygarde`` command shares: the console (stderr), the options the training
commands take, and the one way a command fails (an ``error:`` line, exit 1)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from zygarde.errors import ZygardeError, option
from zygarde.settings import get_settings

console = Console(stderr=True)
log = logging.getLogger("zygarde.cli")
# options every training command takes
Seed = Annotated[int | None, typer.Option(help="Random seed (default: ZYGARDE_SEED or 42).")]
Experiment = Annotated[str | None, typer.Option(help="MLflow experiment name.")]
Profile = Annotated[bool, typer.Option(help="cProfile each stage into MLflow artifacts.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Verbose = Annotated[bool, typer.Option(help="Show Prefect's, Dask's and MLflow's logs (always in the log file).")]


def fail(message: str, log_file: Path | None = None) -> NoReturn:
    where = f"\n(full log: {log_file})" if log_file else ""
    console.print(f"[bold red]error:[/] {escape(message)}{escape(where)}", soft_wrap=True)  # messages quote [lists]
    raise typer.Exit(code=1) from None


def show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    console.print(f"[yellow]warning:[/] {escape(str(message))}", soft_wrap=True)


def read_space(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        space = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ZygardeError(f"--space {path}: cannot read it as YAML ({exc}).") from None
    if not isinstance(space, dict):
        raise ZygardeError(f"--space {path}: expected a mapping algorithm -> {{param: [values]}}.")
    return space


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def seconds(text: str, name: str) -> float:
    """``120``, ``120s``, ``2m`` or ``1h`` in seconds; anything else is an error naming the option."""
    import re

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not found:
        raise ZygardeError(f"{option(name)}: {text!r} is not a duration; write it like 120s, 2m or 1h.")
    return float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[found.group(2)]


def existing_store() -> str:
    """The MLflow store of the settings, for commands that only read it: it must exist (no empty store made)."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    uri = str(get_settings().mlflow_tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        fail(
            f"No MLflow store at {uri}: train a model first (zygarde run), or point ZYGARDE_WORK_DIR or "
            "MLFLOW_TRACKING_URI at the store your runs used."
        )
    return uri
