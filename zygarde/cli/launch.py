"""Run a kind of training from the terminal: its inputs checked before any service starts, then the Prefect API
and the Dask cluster started side by side, the flow run with a progress bar, and the summary or JSON printed."""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zygarde.cli.common import console, fail, log, show_warning
from zygarde.errors import ZygardeError
from zygarde.families import FamilyKind
from zygarde.services import use_warm_services
from zygarde.settings import Settings, get_settings

NOTE_SECONDS = 120  # a search's notes (a tracking store that did not answer) shown at most once in this long


def launch(kind: FamilyKind, values: Callable[[Settings], dict[str, Any]], *, as_json: bool, verbose: bool) -> None:
    """Check the inputs (no service yet), then start the services, run ``kind``'s flow, print JSON or the
    summary. ``values``: the config's fields, from the command's options and the settings."""
    from zygarde.logs import new_log_file, route_logs

    started = time.perf_counter()
    warnings.showwarning = show_warning
    warm = use_warm_services(get_settings())  # `zygarde up`'s, where the user configured none of their own
    settings = get_settings()
    try:
        family = kind.family(kind.parse(**values(settings)))
        family.preflight()
    except ZygardeError as exc:
        fail(str(exc))
    described = family.describe()
    if described and not as_json:  # what the run will do that the user did not spell out (columns, out of core)
        console.print(described, soft_wrap=True)
    if warm is not None and not as_json:
        console.print(f"[dim]on the services `zygarde up` started ({warm.api_url}, {warm.dask_address})[/]")
    log_file = new_log_file(settings.log_dir, kind.command)
    route_logs(log_file, verbose)
    log.info("inputs checked in %.1f s: %s", time.perf_counter() - started, family.config.model_dump_json())
    try:
        summary = _run_flow(kind, family, settings, log_file, show_progress=not as_json, verbose=verbose)
    except ZygardeError as exc:
        log.error("%s", exc)
        fail(str(exc), log_file)
    except Exception as exc:  # not the user's input: say what broke, the traceback is in the log
        log.exception("unexpected failure")
        fail(f"{type(exc).__name__}: {exc} (an unexpected failure; the traceback is in the log)", log_file)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    log.info("done in %.1f s (services stopped)", summary["wall_seconds"])
    summary["log_file"] = str(log_file)
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        kind.print_summary(summary)


def _run_flow(
    kind: FamilyKind, family: Any, settings: Settings, log_file: Path, *, show_progress: bool, verbose: bool
) -> dict[str, Any]:
    """Launch the Prefect API first (it boots while the rest loads), start the cluster, run the flow on it."""
    from zygarde.orchestration import prefect_api, services

    with prefect_api(log_file) as api:
        from prefect_dask import DaskTaskRunner

        from zygarde.logs import quiet_libraries
        from zygarde.search.engine import PROGRESS_TOPIC

        flow = kind.training_flow()
        quiet_libraries(verbose)
        # the stages' imports: the trials' libraries on the workers (no Prefect: no task runs there); GX and
        # the model flavours in this process, which validates, evaluates and registers
        warm = ("zygarde.search.engine", type(family).__module__, *family.warm_modules)
        here = ("zygarde.flows.pipeline", "great_expectations", *family.registry_modules)
        with services(settings, api, warm, warm_here=here) as client:
            return _on_cluster(flow, family, client, DaskTaskRunner, PROGRESS_TOPIC, show_progress)


def _on_cluster(flow: Any, family: Any, client: Any, runner: Any, topic: str, show_progress: bool) -> dict[str, Any]:
    """Run ``flow`` on ``client``'s cluster with a progress bar fed by the search's Dask events."""
    progress = Progress(
        TextColumn("search"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
        transient=True,
    )
    bar = progress.add_task("", total=None)
    noted: list[float] = [-NOTE_SECONDS]  # when the last note was shown: one line per incident, not one per trial

    def on_event(event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        if "note" in message:
            if event[0] - noted[0] >= NOTE_SECONDS:
                noted[0] = event[0]
                progress.console.print(f"note: {message['note']}", highlight=False, soft_wrap=True)
            return
        score = message.get("score")
        budget = message.get("budget_seconds")
        description = f"{message['algorithm']} {score:.4f}" if score is not None else ""
        if budget:  # a time budget ends the search, not a count of trials
            description = f"trials, budget {budget:g} s  {description}"
        progress.update(bar, completed=message["done"], total=message["total"], description=description)

    client.subscribe_topic(topic, on_event)
    on_cluster = flow.with_options(task_runner=runner(address=client.scheduler.address))
    with progress:
        summary = on_cluster(config=family.config)
    client.unsubscribe_topic(topic)
    return summary.model_dump()
