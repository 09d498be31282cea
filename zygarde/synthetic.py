"""Reproducible synthetic classification tables, written chunk by chunk as partitioned Parquet.

The table is never whole in memory: each part file is drawn from its own seeded generator (seed, part
number), so the same arguments give the same files whatever the machine.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zygarde.errors import ZygardeError, option

TARGET = "label"
ROW_GROUP = 131_072  # rows per Parquet row group: readers can stream a part in pieces this size


@dataclass(frozen=True)
class SyntheticTable:
    """What was written: where, how many rows, features and parts, with which seed."""

    path: str
    rows: int
    features: int
    informative: int
    parts: int
    rows_per_part: int
    seed: int
    target: str = TARGET
    bytes: int = 0


def make_table(
    out: Path, rows: int, features: int, *, seed: int = 42, rows_per_part: int = 1_000_000
) -> SyntheticTable:
    """Write ``rows`` x ``features`` float32 features and a binary ``label`` as ``out/part-NNNNN.parquet``.

    A fifth of the features (at least one) carry the signal: the label is a noisy logistic of a fixed linear
    combination of them, so a model has something to find and cannot be perfect.
    """
    if rows < 1 or features < 1 or rows_per_part < 1:
        raise ZygardeError(f"{option('rows')}, {option('features')} and the part size must be at least 1.")
    if out.exists() and any(out.iterdir()):
        raise ZygardeError(f"{out} exists and is not empty; choose a new folder (nothing was overwritten).")
    informative = max(1, features // 5)
    weights = np.random.default_rng(seed).normal(size=informative)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    parts = -(-rows // rows_per_part)
    for part in range(parts):
        n = min(rows_per_part, rows - part * rows_per_part)
        rng = np.random.default_rng([seed, part])
        X = rng.normal(size=(n, features)).astype(np.float32)
        logits = X[:, :informative] @ weights + rng.normal(scale=1.0, size=n)
        frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(features)])
        frame[TARGET] = (logits > 0).astype(np.int8)
        frame.to_parquet(partial / f"part-{part:05d}.parquet", index=False, row_group_size=ROW_GROUP)
    size = sum(p.stat().st_size for p in partial.iterdir())
    table = SyntheticTable(str(out), rows, features, informative, parts, rows_per_part, seed, bytes=size)
    (partial / "_zygarde.json").write_text(json.dumps(asdict(table), indent=2) + "\n")
    if out.exists():  # an empty folder the user made for it
        out.rmdir()
    partial.replace(out)  # the folder appears whole, or not at all
    return table


def churn_table(rows: int, *, seed: int = 42) -> pd.DataFrame:
    """A business table as they come: an id, few- and many-level categories with missing values, a boolean,
    numbers with gaps, a signup date written as text, free-text notes, and a ``churned`` label that depends on
    tenure, plan, charges, the signup season and the city (so each column type carries some of the signal)."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "premium"], size=rows, p=[0.5, 0.3, 0.2])
    region = rng.choice(["north", "south", "east", "west", None], size=rows)
    cities = np.array([f"city-{i:03d}" for i in range(120)])
    city_effect = rng.normal(scale=0.8, size=len(cities))
    city = rng.integers(0, len(cities), size=rows)
    signup = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365, size=rows), unit="D")
    tenure = rng.gamma(2.0, 12.0, size=rows)
    charges = rng.normal(70, 20, size=rows) + 15 * (plan == "premium")
    autopay = rng.random(rows) < 0.6
    season = np.isin(signup.month, [11, 12])
    logits = (-0.04 * tenure + 0.03 * (charges - 70) - 0.8 * (plan == "premium") - 0.7 * autopay + 0.9 * season
              + city_effect[city] + rng.normal(scale=0.7, size=rows))  # fmt: skip
    frame = pd.DataFrame({
        "customer_id": [f"C{seed:03d}-{i:07d}" for i in range(rows)],
        "plan": plan,
        "region": region,
        "city": cities[city],
        "autopay": autopay,
        "tenure_months": np.where(rng.random(rows) < 0.1, np.nan, tenure.round(1)),
        "monthly_charges": charges.round(2),
        "signup_date": signup.strftime("%Y-%m-%d"),
        "notes": [f"called about {w} on a {d} and asked for {x}" for w, d, x in zip(
            rng.choice(["billing", "speed", "outage", "router"], rows), rng.choice(["monday", "friday"], rows),
            rng.integers(0, 10_000, rows), strict=True)],
    })  # fmt: skip
    frame["churned"] = np.where(logits > np.quantile(logits, 0.7), "yes", "no")
    return frame


def known_signal(rows: int, seed: int = 0) -> pd.DataFrame:
    """A table whose drivers are known, to check explanations by: five informative columns of falling weight
    (``i0`` strongest .. ``i4`` weakest), five of noise, a category of noise, and a binary ``label`` (yes/no)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"i{k}": rng.normal(size=rows) for k in range(5)})
    for k in range(5):
        frame[f"noise{k}"] = rng.normal(size=rows)
    frame["colour"] = rng.choice(["red", "green", "blue"], size=rows)
    logits = sum((3.0 - 0.5 * k) * frame[f"i{k}"] for k in range(5))
    frame[TARGET] = np.where(logits + rng.normal(scale=0.5, size=rows) > 0, "yes", "no")
    return frame
