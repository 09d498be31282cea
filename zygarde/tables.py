"""Reading a user's table: every way a CSV or Parquet file can be unreadable becomes one clear error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zygarde.errors import ZygardeError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


class DataQualityWarning(UserWarning):
    """A column was dropped because it cannot help a model (named in the message)."""


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every way it can be unreadable into one clear error."""
    if not path.exists():
        raise ZygardeError(f"Data file not found: {path}. Check the path, or pass a built-in name (diabetes).")
    if path.is_dir():
        return _read_parquet_folder(path)
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise ZygardeError(f"{path}: unsupported file type {path.suffix!r}; use one of {', '.join(TABLE_SUFFIXES)}.")
    if path.stat().st_size == 0:
        raise ZygardeError(f"{path} is empty (0 bytes); export the table again with a header row and data.")
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError as exc:
        raise ZygardeError(f"{path} has no columns or rows; it needs a header row and data.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ZygardeError(
            f"{path} could not be read as {path.suffix[1:].upper()}: {reason}. "
            "Check that it is a valid file with a header row."
        ) from exc
    if frame.empty:
        raise ZygardeError(f"{path} has a header but no data rows.")
    return frame


def parquet_parts(path: Path) -> list[Path]:
    """The Parquet file, or a folder's part files (as Spark, Dask and `zygarde make-data` write them), checked
    to share one schema: a part that differs is named, with the columns that differ."""
    import pyarrow.parquet as pq

    if not path.exists():
        raise ZygardeError(f"Data file not found: {path}. Check the path, or pass a built-in name (diabetes).")
    if path.is_file():
        parts = [path]
    else:
        parts = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
    if not parts:
        raise ZygardeError(f"{path} is a folder without Parquet files; pass a CSV or Parquet file, or such a folder.")
    try:
        first = pq.read_schema(parts[0])
        for part in parts[1:]:
            schema = pq.read_schema(part)
            if not schema.equals(first):
                ours = {f.name: str(f.type) for f in first}
                theirs = {f.name: str(f.type) for f in schema}
                differs = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
                raise ZygardeError(
                    f"{part} does not share the schema of {parts[0].name} (columns {', '.join(differs)}: "
                    f"{[ours.get(k) for k in differs]} vs {[theirs.get(k) for k in differs]}); "
                    "remove it or rewrite it with the same columns and types."
                )
    except (OSError, ValueError) as exc:  # pyarrow's errors for a file that is not Parquet
        raise ZygardeError(f"{path}: a Parquet part could not be read ({str(exc).splitlines()[0]}).") from exc
    return parts


def _read_parquet_folder(path: Path) -> pd.DataFrame:
    """A folder of Parquet part files, one schema for all."""
    parts = parquet_parts(path)
    try:
        frame = pd.read_parquet(path if len(parts) > 1 else parts[0])
    except (OSError, ValueError) as exc:
        raise ZygardeError(f"{path}: a Parquet part could not be read ({str(exc).splitlines()[0]}).") from exc
    if frame.empty:
        raise ZygardeError(f"{path} has Parquet files but no rows.")
    return frame
