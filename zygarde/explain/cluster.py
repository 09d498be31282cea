"""What sets each cluster apart: per feature, the cluster's mean against the overall mean in standard deviations;
for the table's category columns, each level's lift in the cluster; and the features that separate the clusters
best (the ANOVA F statistic of each feature across the clusters)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from zygarde.explain import Deadline, Explanation, Steps, plots

MAX_LEVELS = 20  # a category column with more levels than this is not profiled


def cluster_names(labels: np.ndarray) -> pd.Series:
    """Cluster labels as names (DBSCAN's -1: noise)."""
    return pd.Series(["noise" if label == -1 else str(label) for label in labels])


def standardised_means(X: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """(cluster x feature): the cluster's mean minus the overall mean, in the feature's standard deviations."""
    std = X.std(ddof=0).replace(0, np.nan)
    means = X.groupby(cluster_names(labels).to_numpy()).mean()
    return ((means - X.mean()) / std).fillna(0.0)


def separation(X: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Each feature's ANOVA F statistic across the clusters (missing values imputed by the median), best first."""
    from sklearn.feature_selection import f_classif

    filled = X.fillna(X.median())
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic, _ = f_classif(filled, labels)
    frame = pd.DataFrame({"feature": X.columns, "importance": np.nan_to_num(statistic, nan=0.0, posinf=1e12)})
    return frame.sort_values("importance", ascending=False, ignore_index=True)


def category_lift(frame: pd.DataFrame, columns: list[str], labels: np.ndarray) -> list[dict[str, Any]]:
    """For each category column (2 to ``MAX_LEVELS`` levels): each cluster's most over-represented level and its
    lift (its share in the cluster over its share in the table)."""
    names = cluster_names(labels)
    found = []
    for column in columns:
        values = frame[column].astype("string").fillna("(missing)").reset_index(drop=True)
        if not 2 <= values.nunique() <= MAX_LEVELS:
            continue
        overall = values.value_counts(normalize=True)
        for cluster, members in values.groupby(names):
            share = members.value_counts(normalize=True)
            lift = (share / overall[share.index]).sort_values(ascending=False)
            found.append({"cluster": cluster, "column": column, "level": str(lift.index[0]),
                          "lift": float(lift.iloc[0]), "share": float(share[lift.index[0]])})  # fmt: skip
    return found


def explain_clusters(model: Any, frame: pd.DataFrame, X: pd.DataFrame, seconds: float) -> Explanation:
    """Explain the registered clustering ``model`` on the table's rows (``X``: its feature columns, ``frame``: all
    of its columns, for the category columns' lift)."""
    explanation = Explanation(rows=len(X))
    steps = Steps(seconds, explanation)

    def profile(deadline: Deadline) -> None:
        labels = np.asarray(model.predict(X))
        z = standardised_means(X, labels)
        ranked = separation(X, labels)
        explanation.method = "ANOVA F of each feature across the clusters (all rows)"
        explanation.importance = ranked.to_dict(orient="records")
        top = list(ranked["feature"][:15])
        explanation.json["explain/cluster_means.json"] = z.round(4).to_dict(orient="index")
        explanation.json["explain/importance.json"] = {"method": explanation.method,
                                                       "importance": explanation.importance}  # fmt: skip
        explanation.figures["explain/cluster_means.png"] = plots.heatmap(
            z[top], "Cluster mean against the overall mean, in standard deviations", diverging=True
        )
        explanation.figures["explain/importance.png"] = plots.importance_bars(ranked, explanation.method)
        deadline.check()
        categories = [c for c in frame.columns if c not in X.columns and not pd.api.types.is_numeric_dtype(frame[c])]
        lifts = category_lift(frame, categories, labels)
        if lifts:
            explanation.json["explain/category_lift.json"] = lifts

    steps.run("cluster profiles", profile)
    explanation.notes.insert(0, f"{explanation.method or 'no profile'}; on {len(X)} rows")
    return explanation
