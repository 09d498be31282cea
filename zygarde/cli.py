"""The ``zygarde`` command line: run a family's flow (tabular, cluster, vision), serve the flows to the Prefect UI.

Every input a user can get wrong without a service (a missing or unreadable file, an absent target, an
unknown algorithm, an impossible option) is checked before the Prefect API or the Dask cluster starts. The
terminal shows a progress bar and the summary; everything else goes to a log file in the work dir, whose
path an ``error:`` line names.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zygarde.errors import ZygardeError, option, speak_cli
from zygarde.settings import Settings, get_settings

app = typer.Typer(
    help="zygarde: validated, parallel, tracked model search with Prefect, Dask and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
log = logging.getLogger("zygarde.cli")
# options every flow command takes
Seed = Annotated[int | None, typer.Option(help="Random seed (default: ZYGARDE_SEED or 42).")]
Experiment = Annotated[str | None, typer.Option(help="MLflow experiment name.")]
Profile = Annotated[bool, typer.Option(help="cProfile each stage into MLflow artifacts.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Verbose = Annotated[bool, typer.Option(help="Show Prefect's, Dask's and MLflow's logs (always in the log file).")]
# a command builds its family from the settings; a flow is named by module and attribute, imported only later
FamilyFactory = Callable[[Settings], Any]


def _read_space(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        space = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ZygardeError(f"--space {path}: cannot read it as YAML ({exc}).") from None
    if not isinstance(space, dict):
        raise ZygardeError(f"--space {path}: expected a mapping algorithm -> {{param: [values]}}.")
    return space


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    console.print(f"[yellow]warning:[/] {escape(str(message))}", soft_wrap=True)


@app.command()
def run(
    dataset: Annotated[str, typer.Argument(help="Built-in dataset name (diabetes).")] = "diabetes",
    data: Annotated[Path | None, typer.Option(help="Your own CSV or Parquet file (instead of a built-in).")] = None,
    target: Annotated[str | None, typer.Option(help="Column to predict (required with --data).")] = None,
    name: Annotated[
        str | None, typer.Option(help="What --data is a batch of (a built-in's name: its target, suite, champion).")
    ] = None,
    task: Annotated[str, typer.Option(help="auto | classification | regression")] = "auto",
    algorithms: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: rf,gbt,xgboost (the default), linear, hgb; Spark: rf,gbt (default), xgboost"
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="dask (scikit-learn, XGBoost) | spark (MLlib, xgboost.spark); default ZYGARDE_ENGINE or dask"
        ),
    ] = None,
    search: Annotated[
        str,
        typer.Option(
            help="grid | random | tpe (Bayesian optimisation, Optuna) | gp (the same by a Gaussian process: one "
            "algorithm, a numeric space) | asha (successive halving)"
        ),
    ] = "random",
    trials: Annotated[int, typer.Option(help="Random search: configurations per algorithm.")] = 10,
    brackets: Annotated[
        int, typer.Option(help="asha: Hyperband's brackets, 1-3 (3: a hedge for slow learners; 1: quicker)")
    ] = 3,
    cv: Annotated[
        int | None, typer.Option(help="Cross-validation folds (default 5; out of core: a hold-out part unless given)")
    ] = None,
    test_size: Annotated[float, typer.Option(help="Held-out test share.")] = 0.2,
    time_budget: Annotated[
        str | None,
        typer.Option(help="With --algorithms auto: how long the search may take (120s, 2m, 1h); no trial starts after"),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            help="Memory zygarde may use (2GiB, 800MB), split between the Dask workers; a Parquet table over a "
            "quarter of it trains out of core. Default ZYGARDE_MEMORY_LIMIT, else what is free."
        ),
    ] = None,
    seed: Seed = None,
    space: Annotated[Path | None, typer.Option(help="YAML: {algorithm: {param: [values]}} replacing a space.")] = None,
    resume: Annotated[
        str | None,
        typer.Option(help="MLflow run id of a search that stopped: continue it (same arguments); done trials are kept"),
    ] = None,
    experiment: Experiment = None,
    profile: Profile = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Validate, search, evaluate and register the best model for a dataset (the main job)."""

    def family(settings: Settings) -> Any:
        from zygarde.config import parse_config
        from zygarde.tabular.large import tabular_family

        chosen = tabular_family(
            parse_config(
                dataset=str(data) if data else dataset,
                name=name,
                target=target,
                task=task,
                **({"algorithms": _split(algorithms)} if algorithms else {}),
                engine=engine or settings.engine,
                search=search,
                trials=trials,
                brackets=brackets,
                **({"cv": cv} if cv is not None else {}),
                test_size=test_size,
                memory_limit=memory_limit or settings.memory_limit,
                time_budget=_seconds(time_budget, "time_budget") if time_budget else None,
                seed=settings.seed if seed is None else seed,
                space=_read_space(space),
                experiment=experiment,
                profile=profile,
                resume=resume,
            )
        )
        if memory_limit:  # the local cluster's workers share it
            os.environ["ZYGARDE_MEMORY_LIMIT"] = memory_limit
        return chosen

    from zygarde.report import print_tabular

    _execute("run", family, "zygarde.flows.tabular:train_tabular", print_tabular, as_json=as_json, verbose=verbose)


@app.command("cluster")
def cluster_command(
    dataset: Annotated[str, typer.Argument(help="Built-in table name (fastfood).")] = "fastfood",
    data: Annotated[Path | None, typer.Option(help="Your own CSV or Parquet file (instead of a built-in).")] = None,
    restaurant: Annotated[
        str, typer.Option(help="Rows of this restaurant (tables with that column); all: every row.")
    ] = "Burger King",
    features: Annotated[str, typer.Option(help="Comma-separated numeric columns (default: all numeric).")] = "",
    algorithms: Annotated[
        str, typer.Option(help="Comma-separated: kmeans,dbscan,agglomerative")
    ] = "kmeans,dbscan,agglomerative",
    search: Annotated[str, typer.Option(help="grid | random")] = "grid",
    trials: Annotated[int, typer.Option(help="Random search: configurations per algorithm.")] = 10,
    max_clusters: Annotated[int, typer.Option(help="Search cluster counts 2..N.")] = 8,
    preset: Annotated[str, typer.Option(help="none | study (K-means k=2 on total_fat, total_carb)")] = "none",
    seed: Seed = None,
    experiment: Experiment = None,
    profile: Profile = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Cluster a table (default: the Burger King menu) with K-means, DBSCAN and Agglomerative in parallel."""

    def family(settings: Settings) -> Any:
        from zygarde.cluster.family import ClusterFamily
        from zygarde.config import parse_cluster_config

        return ClusterFamily(
            parse_cluster_config(
                dataset=str(data) if data else dataset,
                restaurant=restaurant,
                features=_split(features),
                algorithms=_split(algorithms),
                search=search,
                trials=trials,
                max_clusters=max_clusters,
                preset=preset,
                seed=settings.seed if seed is None else seed,
                experiment=experiment,
                profile=profile,
            )
        )

    from zygarde.report import print_cluster

    _execute("cluster", family, "zygarde.flows.cluster:cluster", print_cluster, as_json=as_json, verbose=verbose)


@app.command("vision")
def vision_command(
    dataset: Annotated[str, typer.Argument(help="Built-in image set (shirts).")] = "shirts",
    data: Annotated[
        Path | None, typer.Option(help="Your folder: one subfolder per class (or train/ and test/).")
    ] = None,
    arch: Annotated[str, typer.Option(help="cnn (searched small CNN) | resnet18 (torchvision, untrained)")] = "cnn",
    epochs: Annotated[int, typer.Option(help="Most epochs a configuration gets (the search races up to this).")] = 6,
    image_size: Annotated[int, typer.Option(help="Resize images to N x N.")] = 28,
    trials: Annotated[int, typer.Option(help="Random search: CNN configurations raced by successive halving.")] = 6,
    search: Annotated[str, typer.Option(help="grid (16 configurations) | random")] = "grid",
    batch_size: Annotated[int | None, typer.Option(help="Fix the batch size (default: searched).")] = None,
    max_per_class: Annotated[int | None, typer.Option(help="At most N images per class and split.")] = None,
    processes: Annotated[int, typer.Option(help="Data-parallel processes of the final training.")] = 2,
    seed: Seed = None,
    experiment: Experiment = None,
    profile: Profile = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Train a CNN on an image folder: quarantine bad files, race configurations, train data-parallel."""

    def family(settings: Settings) -> Any:
        from zygarde.config import parse_vision_config

        config = parse_vision_config(
            dataset=str(data) if data else dataset,
            arch=arch,
            epochs=epochs,
            image_size=image_size,
            trials=trials,
            search=search,
            batch_size=batch_size,
            max_per_class=max_per_class,
            processes=processes,
            seed=settings.seed if seed is None else seed,
            experiment=experiment,
            profile=profile,
        )
        try:
            from zygarde.vision.family import VisionFamily
        except ImportError as exc:
            raise ZygardeError(f"The vision flow needs PyTorch: pip install -e '.[vision]' ({exc}).") from None
        return VisionFamily(config)

    from zygarde.report import print_vision

    _execute("vision", family, "zygarde.flows.vision:train_vision", print_vision, as_json=as_json, verbose=verbose)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _seconds(text: str, name: str) -> float:
    """``120``, ``120s``, ``2m`` or ``1h`` in seconds; anything else is an error naming the option."""
    import re

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not found:
        raise ZygardeError(f"{option(name)}: {text!r} is not a duration; write it like 120s, 2m or 1h.")
    return float(found.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[found.group(2)]


def _fail(message: str, log_file: Path | None = None) -> NoReturn:
    where = f"\n(full log: {log_file})" if log_file else ""
    console.print(f"[bold red]error:[/] {escape(message)}{escape(where)}", soft_wrap=True)  # messages quote [lists]
    raise typer.Exit(code=1) from None


def _execute(
    command: str,
    make_family: FamilyFactory,
    flow_path: str,
    report: Callable[[dict[str, Any]], None],
    *,
    as_json: bool,
    verbose: bool,
) -> None:
    """Check the inputs (no service yet), then start the services, run the flow, print JSON or the report."""
    from zygarde.logs import new_log_file, route_logs

    started = time.perf_counter()
    warnings.showwarning = _show_warning
    settings = get_settings()
    try:
        family = make_family(settings)
        family.preflight()
    except ZygardeError as exc:
        _fail(str(exc))
    if hasattr(family, "describe") and not as_json:  # a path the user did not name (out of core): say why
        console.print(family.describe(), soft_wrap=True)
    log_file = new_log_file(settings.log_dir, command)
    route_logs(log_file, verbose)
    log.info("inputs checked in %.1f s: %s", time.perf_counter() - started, family.config.model_dump_json())
    try:
        summary = _run_flow(flow_path, family, settings, log_file, show_progress=not as_json, verbose=verbose)
    except ZygardeError as exc:
        log.error("%s", exc)
        _fail(str(exc), log_file)
    except Exception as exc:  # not the user's input: say what broke, the traceback is in the log
        log.exception("unexpected failure")
        _fail(f"{type(exc).__name__}: {exc} (an unexpected failure; the traceback is in the log)", log_file)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    log.info("done in %.1f s (services stopped)", summary["wall_seconds"])
    summary["log_file"] = str(log_file)
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        report(summary)


def _run_flow(
    flow_path: str, family: Any, settings: Settings, log_file: Path, *, show_progress: bool, verbose: bool
) -> dict[str, Any]:
    """Launch the Prefect API first (it boots while the rest loads), start the cluster, run the flow on it."""
    from importlib import import_module

    from zygarde.orchestration import prefect_api, services

    with prefect_api(log_file) as api:
        from prefect_dask import DaskTaskRunner

        from zygarde.logs import quiet_libraries
        from zygarde.search.engine import PROGRESS_TOPIC

        module, name = flow_path.split(":")
        flow = getattr(import_module(module), name)
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

    def on_event(event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
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


def _existing_store() -> str:
    """The MLflow store of the settings, for commands that only read it: it must exist (no empty store made)."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    uri = str(get_settings().mlflow_tracking_uri)
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        _fail(
            f"No MLflow store at {uri}: train a model first (zygarde run), or point ZYGARDE_WORK_DIR or "
            "MLFLOW_TRACKING_URI at the store your runs used."
        )
    return uri


@app.command("make-data")
def make_data(
    rows: Annotated[int, typer.Option(help="Rows to generate.")],
    out: Annotated[Path, typer.Option(help="New folder for the Parquet part files.")],
    features: Annotated[int, typer.Option(help="Feature columns (a fifth carry the signal).")] = 20,
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 42,
    rows_per_part: Annotated[int, typer.Option(help="Rows per Parquet file (and in memory at once).")] = 1_000_000,
) -> None:
    """Write a reproducible synthetic classification table (target: label) as partitioned Parquet, chunk by chunk."""
    from zygarde.synthetic import make_table

    try:
        table = make_table(out, rows, features, seed=seed, rows_per_part=rows_per_part)
    except ZygardeError as exc:
        _fail(str(exc))
    console.print(f"{table.rows:,} rows x {table.features} features in {table.parts} parts "
                  f"({table.bytes / 2**20:.1f} MiB) -> {table.path}; train: zygarde run --data {table.path} "
                  "--target label")  # fmt: skip


@app.command()
def predict(
    name: Annotated[str, typer.Argument(help="Registered model name (zygarde models list).")],
    input_file: Annotated[Path, typer.Option("--input", help="CSV or Parquet file of rows to predict.")],
    output: Annotated[Path, typer.Option(help="Where to write the rows with a prediction column (.csv/.parquet).")],
    version: Annotated[str | None, typer.Option(help="A version number instead of the alias.")] = None,
    alias: Annotated[str, typer.Option(help="The alias to resolve (once) to a version.")] = "champion",
) -> None:
    """Predict a file with the champion (or a given version); record which version answered."""
    from zygarde.serving import predict_file

    store = _existing_store()
    try:
        record = predict_file(store, name, input_file, output, alias=alias, version=version)
    except ZygardeError as exc:
        _fail(str(exc))
    via = f" (@{record.alias})" if record.alias else ""
    console.print(f"{record.rows} predictions by {record.model} v{record.version}{via} -> {record.output}")


@app.command("report")
def report_command(
    run_id: Annotated[str, typer.Argument(help="The run's MLflow id (its summary's mlflow.parent_run_id).")],
    out: Annotated[
        Path | None, typer.Option(help="HTML file to write (default: <work dir>/reports/RUN_ID.html).")
    ] = None,
) -> None:
    """One self-contained HTML page about a run: leaderboard, progress, families, time, CPU, memory, plots."""
    from zygarde.search_report import write_report

    uri = _existing_store()
    target = out or get_settings().work_dir / "reports" / f"{run_id}.html"
    try:
        written = write_report(uri, run_id, target)
    except ZygardeError as exc:
        _fail(str(exc))
    console.print(f"report: {written} (also logged to the run as report.html)", soft_wrap=True)


models_app = typer.Typer(help="The model registry: names, champions and every alias move.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("history")
def models_history(
    name: Annotated[str, typer.Argument(help="Registered model name.")], as_json: AsJson = False
) -> None:
    """Every champion/challenger decision on a model: version, when, alias, score, why, which run."""
    from zygarde.registry import history

    try:
        moves = history(_existing_store(), name)
    except ZygardeError as exc:
        _fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps([vars(m) for m in moves]) + "\n")
        return
    out = Console(soft_wrap=True)
    out.print(f"[bold]{name}[/]: {len(moves)} versions")
    for move in moves:
        out.print(f"v{move.version:<4} {move.alias:<10} {move.at}  {move.score}  run {move.run_id}")
        out.print(f"      {escape(move.reason)}", highlight=False)


@models_app.command("list")
def models_list(as_json: AsJson = False) -> None:
    """Registered models with their champion and challenger versions."""
    from rich.table import Table

    from zygarde.tracking import get_client

    store = _existing_store()
    models = get_client(store).search_registered_models()
    rows = [{"name": m.name, **{a: str(m.aliases.get(a, "")) for a in ("champion", "challenger")}} for m in models]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    if not rows:
        console.print(f"no registered models in {store}")
        return
    table = Table("name", "champion", "challenger", caption=store)
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)


def _platform_command(command: str, verbose: bool) -> Path:
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
        _fail(str(exc))
    return log_file


@app.command("deploy")
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

    log_file = _platform_command("deploy", verbose)
    try:
        created = ensure_pool(pool)
        names = deploy(prefect_yaml(), pool, log_file)
        automation = notify_webhook(webhook) if webhook else None
    except ZygardeError as exc:
        _fail(str(exc), log_file)
    console.print(f"work pool {pool!r} {'created' if created else 'exists'}; deployed: {', '.join(names)}")
    if automation:
        console.print(f"automation {automation!r} posts every zygarde run's end to {webhook}")
    console.print(f"start a worker: prefect worker start --pool {pool}")


@app.command("submit")
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
        _fail(str(exc))
    log_file = _platform_command("submit", verbose)
    try:
        flow_run = submit(spec, deployment, None if wait else 0)
    except ZygardeError as exc:
        _fail(str(exc), log_file)
    url = flow_run_url(flow_run.id)
    state = flow_run.state
    if not wait or state is None:
        console.print(f"submitted: flow run {flow_run.name} ({flow_run.id}) {url}")
        return
    if not state.is_completed():
        _fail(f"job run {flow_run.name} ended {state.name}: {state.message} {url}", log_file)
    console.print(f"job run {flow_run.name} completed: {url}")
    outcome = outcome_of(flow_run.id)
    if outcome:
        from rich.markdown import Markdown

        console.print(Markdown(outcome))


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="A new batch: CSV or Parquet file.")],
    dataset: Annotated[str, typer.Option(help="Which dataset it is a batch of (diabetes, or your own name).")],
    observed: Annotated[
        bool, typer.Option(help="Production rows for the drift monitor, not new training data.")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Copy a batch into the data root (atomically) and emit zygarde.dataset.updated (or .observed)."""
    from zygarde.platform import ingest as ingest_batch

    log_file = _platform_command("ingest", verbose)
    try:
        done = ingest_batch(path, dataset, get_settings(), observed=observed)
    except ZygardeError as exc:
        _fail(str(exc), log_file)
    console.print(f"{done.rows} rows of {done.dataset} -> {done.path}; event {done.event} ({done.event_id})")


@app.command()
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

    log_file = _platform_command("watch", verbose)
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
        _fail(str(exc), log_file)
    except KeyboardInterrupt:
        console.print("stopped watching")


@app.command()
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


def main() -> None:
    """The console script: run the command, then exit at once.

    A run loads some 6,000 modules (Prefect, MLflow, GX, Dask, scikit-learn); tearing them down one by one
    after the exit handlers takes ~3 s for nothing. The handlers (Prefect's queues, temporary folders, log
    files) run first, as at any exit; only the teardown is skipped.
    """
    code: int = 0
    speak_cli()
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    main()
