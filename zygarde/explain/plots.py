"""The explanations' figures (matplotlib, Agg): importance bars, contribution strips, ICE and partial dependence,
heat maps of models x features and of correlations."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def importance_bars(ranked: pd.DataFrame, method: str, shown: int = 15) -> Figure:
    """The top ``shown`` features, largest at the top, with their spread over repeats where measured."""
    top = ranked.head(shown).iloc[::-1]
    figure, ax = plt.subplots(figsize=(6.5, 0.32 * len(top) + 1.2))
    ax.barh(top["feature"], top["importance"], xerr=top.get("std"), color="#4c72b0")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set(title="What drives the champion", xlabel=method if len(method) < 70 else method[:67] + "...")
    figure.tight_layout()
    return figure


def contribution_strips(values: pd.DataFrame, X: pd.DataFrame, features: pd.Index, units: str) -> Figure:
    """Each row's contribution of each top feature (one dot per row), coloured by the feature's value
    (low blue, high red; grey where not numeric): SHAP's summary plot."""
    features = list(features)[::-1]
    figure, ax = plt.subplots(figsize=(7, 0.4 * len(features) + 1.3))
    rng = np.random.default_rng(0)
    for position, feature in enumerate(features):
        column = X[feature]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        colour: object = "grey"
        if numeric:
            ranks = pd.Series(column.to_numpy(dtype=float)).rank(pct=True).fillna(0.5).to_numpy()
            colour = plt.get_cmap("coolwarm")(ranks)
        jitter = rng.uniform(-0.25, 0.25, len(values))
        ax.scatter(values[feature], position + jitter, s=6, c=colour, alpha=0.7, linewidths=0)
    ax.set_yticks(range(len(features)), features)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set(title="TreeSHAP contributions per row (test split)", xlabel=f"contribution ({units})")
    figure.tight_layout()
    return figure


def partial_dependence(curves: dict[str, tuple[np.ndarray, np.ndarray]], what: str) -> Figure:
    """For each feature: every row's ICE curve (thin) and their mean, the partial dependence (thick)."""
    figure, axes = plt.subplots(1, len(curves), figsize=(3.6 * len(curves), 3.2), squeeze=False)
    for ax, (feature, (grid, rows)) in zip(axes[0], curves.items(), strict=True):
        ax.plot(grid, rows.T, color="#4c72b0", alpha=0.12, linewidth=0.7)
        ax.plot(grid, rows.mean(axis=0), color="#c44e52", linewidth=2.2, label="average")
        ax.set(xlabel=feature, ylabel=what)
    axes[0][0].legend(loc="best", fontsize=8)
    figure.suptitle("Partial dependence (red) and ICE curves (blue), test split")
    figure.tight_layout()
    return figure


def heatmap(table: pd.DataFrame, title: str, diverging: bool = False) -> Figure:
    """A labelled heat map of ``table`` with each cell's value written in it."""
    values = table.to_numpy(dtype=float)
    figure, ax = plt.subplots(figsize=(1.2 * table.shape[1] + 3, 0.38 * table.shape[0] + 1.5))
    limit = np.nanmax(np.abs(values)) or 1.0
    image = ax.imshow(values, cmap="RdBu_r" if diverging else "viridis", aspect="auto",
                      vmin=-limit if diverging else None, vmax=limit if diverging else None)  # fmt: skip
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, ax=ax)
    ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure
