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
        raise ZygardeError(f"{path} is a folder; pass a CSV or Parquet file.")
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
