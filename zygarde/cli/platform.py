"""The platform commands: deployments on a Prefect server (``deploy``, ``serve``), jobs (``submit``) and events
(``ingest``, ``watch``). Each needs a Prefect API that answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from zygarde.cli.common import Verbose, console, fail
from zygarde.errors import ZygardeError
from zygarde.settings import get_settings


def platform_command(command: str, verbose: bool) -> Path:
    """A platform command's start: its log file (Prefect's chatter goes there), and a Prefect API that answers."""
    from zygarde.logs import new_log_file, route_logs
    from zygarde.platform import require_api

    log_file = new_log_file(get_settings().log_dir, command)
    route_logs(log_file, verbose)
    from prefect.logging.configuration import setup_logging

    setup_logging()  # what `import prefect` does: the routing above takes effect for every Prefect logger
    try:
        require_api(command)
    except ZygardeError as exc:
        fail(str(exc))
    return log_file


commands = typer.Typer()


@commands.command("deploy", rich_help_panel="Platform")
def deploy_command(
    pool: Annotated[str, typer.Option(help="Work pool (type process) to create and deploy to.")] = "zygarde",
    webhook: Annotated[
        str | None, typer.Option(help="Also post to this URL whenever a zygarde flow run completes or fails.")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Create the work pool and register every deployment of deployments/prefect.yaml (schedules, triggers)."""
    from zygarde.deployments import prefect_yaml
    from zygarde.platform import deploy, ensure_pool, notify_webhook

    log_file = platform_command("deploy", verbose)
    try:
        created = ensure_pool(pool)
        names = deploy(prefect_yaml(), pool, log_file)
        automation = notify_webhook(webhook) if webhook else None
    except ZygardeError as exc:
        fail(str(exc), log_file)
    console.print(f"work pool {pool!r} {'created' if created else 'exists'}; deployed: {', '.join(names)}")
    if automation:
        console.print(f"automation {automation!r} posts every zygarde run's end to {webhook}")
    console.print(f"start a worker: prefect worker start --pool {pool}")


@commands.command("submit", rich_help_panel="Platform")
def submit_command(
    job: Annotated[Path, typer.Argument(help="Job spec file (YAML or JSON).")],
    deployment: Annotated[str, typer.Option(help="The job deployment (flow/deployment).")] = "train-job/job",
    wait: Annotated[bool, typer.Option(help="Wait for the run to finish and exit with its outcome.")] = False,
    verbose: Verbose = False,
) -> None:
    """Validate a job spec and start it on the platform (the job deployment, run by a worker)."""
    from zygarde.jobs import read_spec
    from zygarde.platform import flow_run_url, outcome_of, submit

    try:
        spec = read_spec(job)
    except ZygardeError as exc:
        fail(str(exc))
    log_file = platform_command("submit", verbose)
    try:
        flow_run = submit(spec, deployment, None if wait else 0)
    except ZygardeError as exc:
        fail(str(exc), log_file)
    url = flow_run_url(flow_run.id)
    state = flow_run.state
    if not wait or state is None:
        console.print(f"submitted: flow run {flow_run.name} ({flow_run.id}) {url}")
        return
    if not state.is_completed():
        fail(f"job run {flow_run.name} ended {state.name}: {state.message} {url}", log_file)
    console.print(f"job run {flow_run.name} completed: {url}")
    outcome = outcome_of(flow_run.id)
    if outcome:
        from rich.markdown import Markdown

        console.print(Markdown(outcome))


@commands.command(rich_help_panel="Platform")
def ingest(
    path: Annotated[Path, typer.Argument(help="A new batch: CSV or Parquet file.")],
    dataset: Annotated[str, typer.Option(help="Which dataset it is a batch of (diabetes, or your own name).")],
    observed: Annotated[
        bool, typer.Option(help="Production rows for the drift monitor, not new training data.")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Copy a batch into the incoming folder (atomically) and emit zygarde.dataset.updated (or .observed)."""
    from zygarde.platform import ingest as ingest_batch

    log_file = platform_command("ingest", verbose)
    try:
        done = ingest_batch(path, dataset, get_settings(), observed=observed)
    except ZygardeError as exc:
        fail(str(exc), log_file)
    console.print(f"{done.rows} rows of {done.dataset} -> {done.path}; event {done.event} ({done.event_id})")


@commands.command(rich_help_panel="Platform")
def watch(
    folder: Annotated[Path, typer.Argument(help="Folder to watch for new CSV/Parquet files.")],
    dataset: Annotated[str, typer.Option(help="Which dataset the files are batches of.")],
    observed: Annotated[bool, typer.Option(help="The files are production rows for the drift monitor.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between looks; a file must stay unchanged that long.")] = 2,
    once: Annotated[bool, typer.Option(help="Ingest what is there now, then exit.")] = False,
    verbose: Verbose = False,
) -> None:
    """Ingest every file dropped into a folder (once it is complete), then move it into FOLDER/.ingested."""
    from zygarde.platform import ingest as ingest_batch
    from zygarde.platform import watch as watch_folder

    log_file = platform_command("watch", verbose)
    settings = get_settings()

    def on_file(path: Path) -> bool:
        try:
            done = ingest_batch(path, dataset, settings, observed=observed)
        except ZygardeError as exc:  # one bad file is reported and set aside (.rejected); the watch goes on
            console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            return False
        console.print(f"{done.rows} rows of {done.dataset} -> {done.path}; event {done.event}")
        return True

    try:
        watch_folder(folder, on_file, interval=interval, once=once)
    except ZygardeError as exc:
        fail(str(exc), log_file)
    except KeyboardInterrupt:
        console.print("stopped watching")


@commands.command(rich_help_panel="Platform")
def serve() -> None:
    """Serve the flows so they can be started from the Prefect UI (needs a Prefect server: PREFECT_API_URL)."""
    from prefect import serve as prefect_serve
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        console.print(
            "[yellow]No Prefect API is configured:[/] start `prefect server start` and run "
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` first."
        )
    from zygarde.flows import served_deployments

    prefect_serve(*served_deployments())


@commands.command("up", rich_help_panel="Platform")
def up_command(
    workers: Annotated[int | None, typer.Option(help="Dask workers (default ZYGARDE_DASK_WORKERS or 2).")] = None,
    memory_limit: Annotated[
        str | None, typer.Option(help="Memory the workers share (2GiB); default ZYGARDE_MEMORY_LIMIT, else Dask's.")
    ] = None,
) -> None:
    """Start a local Prefect API and Dask cluster that every zygarde command in this work dir then uses."""
    from zygarde.services import start, state_file

    settings = get_settings()
    try:
        services = start(settings, workers or settings.dask_workers, memory_limit or settings.memory_limit)
    except ZygardeError as exc:
        fail(str(exc))
    console.print(f"up since {services.started_at}: Prefect API {services.api_url}, Dask scheduler "
                  f"{services.dask_address}\nzygarde commands with ZYGARDE_WORK_DIR={settings.work_dir} use them "
                  f"(recorded in {state_file(settings)}); `zygarde down` stops them", soft_wrap=True)  # fmt: skip


@commands.command("down", rich_help_panel="Platform")
def down_command() -> None:
    """Stop the Prefect API and Dask cluster that `zygarde up` started for this work dir."""
    from zygarde.services import stop

    stopped = stop(get_settings())
    console.print(f"stopped: Prefect API {stopped.api_url}, Dask scheduler {stopped.dask_address}" if stopped
                  else "nothing to stop: `zygarde up` has no running services for this work dir")  # fmt: skip
