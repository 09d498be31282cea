"""What the data was: rows, columns, each column's type and missing values, and the target's distribution
(class balance, or quantiles); logged as ``data/profile.json`` and shown in ``zygarde report``."""

from __future__ import annotations

from typing import Any

import pandas as pd


def data_profile(frame: pd.DataFrame, target: str | None = None, task: str | None = None) -> dict[str, Any]:
    """The table's shape, per column its dtype, missing values and distinct values, and the target's classes
    (count and share) or quantiles."""
    columns = [{"column": str(c), "dtype": str(frame[c].dtype), "missing": int(frame[c].isna().sum()),
                "missing_share": float(frame[c].isna().mean()) if len(frame) else 0.0,
                "distinct": int(frame[c].nunique(dropna=True))} for c in frame.columns]  # fmt: skip
    profile: dict[str, Any] = {"rows": len(frame), "columns": frame.shape[1], "per_column": columns}
    if target is not None and target in frame:
        values = frame[target].dropna()
        if task == "classification":
            counts = values.astype(str).value_counts()
            classes = [{"class": k, "rows": int(n), "share": float(n / counts.sum())} for k, n in counts.items()]
            profile["target"] = {"column": target, "classes": classes}
        else:
            quantiles = values.astype(float).quantile([0, 0.05, 0.25, 0.5, 0.75, 0.95, 1])
            profile["target"] = {"column": target, "mean": float(values.mean()),
                                 "quantiles": {f"{q:g}": float(v) for q, v in quantiles.items()}}  # fmt: skip
    return profile
