"""The generated table the search benchmarks share (`zygarde make-data`'s: float features, a fifth of them
informative, a binary label), as a search view."""

from __future__ import annotations

import tempfile
from pathlib import Path

from zygarde.synthetic import make_table
from zygarde.tables import read_table
from zygarde.tabular.objective import TrialData


def generated(rows: int, features: int = 20) -> TrialData:
    """``rows`` x ``features`` of the generated table (seed 7), read back as the search would see it."""
    with tempfile.TemporaryDirectory(prefix="zygarde-bench-") as scratch:
        table = read_table(Path(make_table(Path(scratch) / "t", rows, features, seed=7).path))
    return TrialData(table.drop(columns="label"), table["label"].to_numpy())
