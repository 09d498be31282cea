"""The ``zygarde`` command line: run the training flow, serve the flows to the Prefect UI."""

from __future__ import annotations

import json
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
from rich.table import Table

from zygarde.errors import ZygardeError
from zygarde.settings import Settings, get_settings

app = typer.Typer(
    help="zygarde: validated, parallel, tracked model search with Prefect, Dask and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
# options every flow command takes
Seed = Annotated[int | None, typer.Option(help="Random seed (default: ZYGARDE_SEED or 42).")]
Experiment = Annotated[str | None, typer.Option(help="MLflow experiment name.")]
Profile = Annotated[bool, typer.Option(help="cProfile each stage into MLflow artifacts.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Verbose = Annotated[bool, typer.Option(help="Show Prefect's logs.")]


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
    task: Annotated[str, typer.Option(help="auto | classification | regression")] = "auto",
    algorithms: Annotated[str, typer.Option(help="Comma-separated: rf,gbt,xgboost")] = "rf,gbt,xgboost",
    search: Annotated[str, typer.Option(help="grid | random")] = "random",
    trials: Annotated[int, typer.Option(help="Random search: configurations per algorithm.")] = 10,
    cv: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    test_size: Annotated[float, typer.Option(help="Held-out test share.")] = 0.2,
    seed: Seed = None,
    space: Annotated[Path | None, typer.Option(help="YAML: {algorithm: {param: [values]}} replacing a space.")] = None,
    experiment: Experiment = None,
    profile: Profile = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Validate, search, evaluate and register the best model for a dataset (the main job)."""

    def prepare(settings: Settings) -> tuple[Any, Any]:
        from zygarde.config import parse_config
        from zygarde.flows.tabular import train_tabular

        config = parse_config(
            dataset=str(data) if data else dataset,
            target=target,
            task=task,
            algorithms=_split(algorithms),
            search=search,
            trials=trials,
            cv=cv,
            test_size=test_size,
            seed=settings.seed if seed is None else seed,
            space=_read_space(space),
            experiment=experiment,
            profile=profile,
        )
        return train_tabular, config

    _execute(prepare, _print_report, as_json=as_json, verbose=verbose)


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

    def prepare(settings: Settings) -> tuple[Any, Any]:
        from zygarde.config import parse_cluster_config
        from zygarde.flows.cluster import cluster

        config = parse_cluster_config(
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
        return cluster, config

    _execute(prepare, _print_cluster_report, as_json=as_json, verbose=verbose)


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

    def prepare(settings: Settings) -> tuple[Any, Any]:
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
            from zygarde.flows.vision import train_vision
        except ImportError as exc:
            raise ZygardeError(f"The vision flow needs PyTorch: pip install -e '.[vision]' ({exc}).") from None
        return train_vision, config

    _execute(prepare, _print_vision_report, as_json=as_json, verbose=verbose)


def _print_vision_report(summary: dict[str, Any]) -> None:
    out = Console()
    quarantined = summary["quarantined"]
    out.print(
        f"{summary['dataset']}: {len(summary['class_names'])} classes, train {summary['n_train']} / "
        f"validation {summary['n_val']} / test {summary['n_test']} images at {summary['image_size']}px; "
        f"{quarantined['count']} files quarantined"
    )
    for row in quarantined["files"][:10]:
        out.print(f"  skipped {escape(row['path'])}: {escape(row['problem'])}")
    out.print(f"best configuration ({summary['n_trials']} trials, successive halving): {summary['best_params']}")
    out.print(f"validation accuracy {summary['val_metrics']['val_accuracy']:.4f}")
    test = ", ".join(f"{k}={v:.4f}" for k, v in summary["test_metrics"].items())
    out.print(f"test split (final data-parallel model): {test}")
    _print_footer(out, summary)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _fail(exc: ZygardeError) -> NoReturn:
    console.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)  # messages quote [lists], paths
    raise typer.Exit(code=1) from None


def _execute(
    prepare: Callable[[Settings], tuple[Any, Any]],
    report: Callable[[dict[str, Any]], None],
    *,
    as_json: bool,
    verbose: bool,
) -> None:
    """Build the flow's config (``prepare``), run it, print JSON or the report; a ZygardeError exits 1."""
    started = time.perf_counter()
    warnings.showwarning = _show_warning
    settings = get_settings()
    try:
        flow, config = prepare(settings)
        summary = _run_flow(flow, config, settings, show_progress=not as_json, verbose=verbose)
    except ZygardeError as exc:
        _fail(exc)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        report(summary)


def _run_flow(flow: Any, config: Any, settings: Settings, *, show_progress: bool, verbose: bool) -> dict[str, Any]:
    """Start the Prefect API and the Dask cluster once, then run the flow on that cluster."""
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect_dask import DaskTaskRunner

    from zygarde.orchestration import dask_scheduler, prefect_api
    from zygarde.search import PROGRESS_TOPIC

    with prefect_api(), dask_scheduler(settings) as client:
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
            progress.update(
                bar,
                completed=message["done"],
                total=message["total"],
                description=f"{message['algorithm']} {score:.4f}" if score is not None else "",
            )

        client.subscribe_topic(PROGRESS_TOPIC, on_event)
        on_cluster = flow.with_options(task_runner=DaskTaskRunner(address=client.scheduler.address))
        with progress:
            summary = on_cluster(config=config)
        client.unsubscribe_topic(PROGRESS_TOPIC)
    return summary.model_dump()


def _print_report(summary: dict[str, Any]) -> None:
    out = Console()
    metric = summary["selection_metric"]
    table = Table(title=f"Leaderboard: CV {metric} on the training split ({summary['n_trials']} trials)")
    for column in ("#", "algorithm", f"cv {metric}", "± std", "fit s", "params"):
        table.add_column(column)
    for row in summary["leaderboard"]:
        table.add_row(
            str(row["trial"]),
            row["algorithm"],
            f"{row[f'cv_{metric}']:.4f}",
            f"{row[f'cv_{metric}_std']:.4f}",
            f"{row['fit_seconds']:.2f}",
            row["params"],
        )
    out.print(table)
    test = ", ".join(f"{k}={v:.4f}" for k, v in summary["test_metrics"].items())
    out.print(f"best: [bold]{summary['best_algorithm']}[/] {summary['best_params']}")
    out.print(f"test split: {test}")
    _print_footer(out, summary)


def _print_cluster_report(summary: dict[str, Any]) -> None:
    out = Console()
    where = f"{summary['dataset']}, {summary['n_rows']} rows, {len(summary['features'])} features"
    table = Table(title=f"Leaderboard: silhouette on all rows ({where}; {summary['n_trials']} trials)")
    for column in ("#", "algorithm", "silhouette", "davies-bouldin", "clusters", "noise", "params"):
        table.add_column(column)
    for row in summary["leaderboard"]:
        table.add_row(
            str(row["trial"]),
            row["algorithm"],
            f"{row['silhouette']:.4f}",
            f"{row['davies_bouldin']:.3f}",
            f"{row['n_clusters']:.0f}",
            f"{row['noise_fraction']:.0%}",
            row["params"],
        )
    out.print(table)
    out.print(f"{summary['n_trials_degenerate']} degenerate results logged, never selected")
    out.print(f"best: [bold]{summary['best_algorithm']}[/] {summary['best_params']}")
    if summary["reference"]:
        ref = summary["reference"]
        out.print(
            f"study preset (K-means k=2, standardised total_fat + total_carb): silhouette {ref['silhouette']:.3f} "
            f"here vs {ref['study_silhouette']} reported"
        )
    _print_footer(out, summary)


def _print_footer(out: Console, summary: dict[str, Any]) -> None:
    """The registry decision, the timings, and how to open the UIs on this run."""
    model = summary["model"]
    out.print(
        f"registered {model['name']} v{model['version']}: "
        f"{'now champion' if model['became_champion'] else 'champion unchanged'} ({model['reason']})"
    )
    out.print(
        f"search {summary['search_wall_seconds']:.1f} s for {summary['trial_fit_seconds']:.1f} s of trials; "
        f"whole run {summary['wall_seconds']:.1f} s"
    )
    uri = summary["mlflow"]["tracking_uri"]
    out.print(
        "\nOpen the UIs:\n"
        f"  mlflow ui --backend-store-uri {uri} --port 5000   # experiment {summary['mlflow']['experiment_id']}\n"
        "  prefect server start                              # flow runs, tasks, artifacts"
    )


@app.command()
def serve() -> None:
    """Serve the flows so they can be started from the Prefect UI (needs PREFECT_API_URL of a server)."""
    if not os.environ.get("PREFECT_API_URL"):
        console.print(
            "[yellow]PREFECT_API_URL is not set:[/] start `prefect server start` and run "
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` first."
        )
    from prefect import serve as prefect_serve

    from zygarde.flows import served_deployments

    prefect_serve(*served_deployments())


if __name__ == "__main__":
    app()
