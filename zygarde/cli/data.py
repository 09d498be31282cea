"""``zygarde make-data``: a reproducible synthetic table to try the platform on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zygarde.cli.common import console, fail
from zygarde.errors import ZygardeError

commands = typer.Typer()


@commands.command("make-data", rich_help_panel="Data")
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
        fail(str(exc))
    console.print(f"{table.rows:,} rows x {table.features} features in {table.parts} parts "
                  f"({table.bytes / 2**20:.1f} MiB) -> {table.path}; train: zygarde run --data {table.path} "
                  "--target label")  # fmt: skip
