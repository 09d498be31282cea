"""The generated tables the search benchmarks share, as search views.

``generated``: `zygarde make-data`'s table (float features, a fifth of them informative, a noisy logistic of a
linear combination). Every reasonable configuration scores within a few thousandths of ROC-AUC on it, so
search strategies race on noise there. ``interacting``: the same shape, but the label comes from products,
a threshold and a sine of the first seven features (the other 13 are noise), so depth, learning rate,
rounds and column sampling matter and configurations differ by more than their CV error.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from zygarde.synthetic import make_table
from zygarde.tables import read_table
from zygarde.tabular.objective import TrialData


def generated(rows: int, features: int = 20) -> TrialData:
    """``rows`` x ``features`` of the generated table (seed 7), read back as the search would see it."""
    with tempfile.TemporaryDirectory(prefix="zygarde-bench-") as scratch:
        table = read_table(Path(make_table(Path(scratch) / "t", rows, features, seed=7).path))
    return TrialData(table.drop(columns="label"), table["label"].to_numpy())


def interacting(rows: int, features: int = 20, seed: int = 7) -> TrialData:
    """``rows`` x ``features`` (at least 7) whose label depends on interactions of the first seven features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    logits = (1.5 * X[:, 0] * X[:, 1] - 1.2 * X[:, 2] * X[:, 3] + 1.5 * np.sin(2 * X[:, 4])
              + 1.0 * (X[:, 5] > 0.5) - 0.8 * X[:, 6] + rng.normal(scale=1.0, size=rows))  # fmt: skip
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(features)])
    return TrialData(frame, (logits > np.median(logits)).astype(np.int8))
