"""Using what the runs registered: ``predict``, ``report``, ``models history`` and ``models list``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from zygarde.cli.common import AsJson, console, existing_store, fail
from zygarde.errors import ZygardeError
from zygarde.settings import get_settings

commands = typer.Typer()


@commands.command(rich_help_panel="Use the models")
def predict(
    name: Annotated[str, typer.Argument(help="Registered model name (zygarde models list).")],
    input_file: Annotated[Path, typer.Option("--input", help="CSV or Parquet file of rows to predict.")],
    output: Annotated[Path, typer.Option(help="Where to write the rows with a prediction column (.csv/.parquet).")],
    version: Annotated[str | None, typer.Option(help="A version number instead of the alias.")] = None,
    alias: Annotated[str, typer.Option(help="The alias to resolve (once) to a version.")] = "champion",
) -> None:
    """Predict a file with the champion (or a given version); record which version answered."""
    from zygarde.serving import predict_file

    store = existing_store()
    try:
        record = predict_file(store, name, input_file, output, alias=alias, version=version)
    except ZygardeError as exc:
        fail(str(exc))
    via = f" (@{record.alias})" if record.alias else ""
    console.print(f"{record.rows} predictions by {record.model} v{record.version}{via} -> {record.output}")


@commands.command("explain", rich_help_panel="Use the models")
def explain_command(
    name: Annotated[str, typer.Argument(help="Registered model name (zygarde models list).")],
    input_file: Annotated[Path, typer.Option("--input", help="CSV or Parquet file of rows to explain.")],
    output: Annotated[
        Path | None, typer.Option(help="Where to write the rows with their prediction and top columns (.csv/.parquet).")
    ] = None,
    top: Annotated[int, typer.Option(help="Columns shown per row, by the size of their contribution.")] = 3,
    version: Annotated[str | None, typer.Option(help="A version number instead of the alias.")] = None,
    alias: Annotated[str, typer.Option(help="The alias to resolve (once) to a version.")] = "champion",
) -> None:
    """Each row's prediction with the columns that moved it most (TreeSHAP where exact, else says which method)."""
    from zygarde.explain.rows import explain_file

    store = existing_store()
    target = output or input_file.with_name(f"{input_file.stem}.explained.csv")
    try:
        record, method = explain_file(store, name, input_file, target, top=top, alias=alias, version=version)
    except ZygardeError as exc:
        fail(str(exc))
    via = f" (@{record.alias})" if record.alias else ""
    console.print(f"{record.rows} rows explained by {record.model} v{record.version}{via} -> {record.output}\n"
                  f"contributions: {method}", soft_wrap=True)  # fmt: skip


@commands.command("report", rich_help_panel="Use the models")
def report_command(
    run_id: Annotated[str, typer.Argument(help="The run's MLflow id (its summary's mlflow.parent_run_id).")],
    out: Annotated[
        Path | None, typer.Option(help="HTML file to write (default: <work dir>/reports/RUN_ID.html).")
    ] = None,
) -> None:
    """One self-contained HTML page about a run: data, what drives the model, how it errs, the search, resources."""
    from zygarde.report import write_report

    uri = existing_store()
    target = out or get_settings().work_dir / "reports" / f"{run_id}.html"
    try:
        written = write_report(uri, run_id, target)
    except ZygardeError as exc:
        fail(str(exc))
    console.print(f"report: {written} (also logged to the run as report.html)", soft_wrap=True)


models_app = typer.Typer(help="The model registry: names, champions and every alias move.", no_args_is_help=True)
commands.add_typer(models_app, name="models", rich_help_panel="Use the models")


@models_app.command("history")
def models_history(
    name: Annotated[str, typer.Argument(help="Registered model name.")], as_json: AsJson = False
) -> None:
    """Every champion/challenger decision on a model: version, when, alias, score, why, which run."""
    from zygarde.registry import history

    try:
        moves = history(existing_store(), name)
    except ZygardeError as exc:
        fail(str(exc))
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

    store = existing_store()
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
