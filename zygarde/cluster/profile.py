"""Reading a clustering: a profile per cluster (size, feature means, example items) and the study's reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from zygarde.cluster.data import STUDY, STUDY_SILHOUETTE, ClusterTable, build_scaler


def study_reference(table: ClusterTable, seed: int) -> dict[str, float] | None:
    """The original study's configuration on this table, for comparison; None without its two columns."""
    columns = STUDY["features"]
    if not set(columns) <= set(table.frame.columns):
        return None
    X = build_scaler().fit_transform(table.frame[columns].astype("float64"))
    labels = KMeans(random_state=seed, **STUDY["params"]).fit_predict(X)
    return {"silhouette": float(silhouette_score(X, labels)), "study_silhouette": STUDY_SILHOUETTE}


def cluster_profile(table: ClusterTable, labels: np.ndarray, examples: int = 3) -> pd.DataFrame:
    """One row per cluster: size, mean of every feature (original units), the items nearest its centre."""
    X = table.X
    scaled = build_scaler().fit_transform(X)
    rows = []
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        centre = scaled[members].mean(axis=0)
        nearest = members[np.argsort(((scaled[members] - centre) ** 2).sum(axis=1))[:examples]]
        rows.append(
            {
                "cluster": "noise" if label == -1 else str(label),
                "size": len(members),
                **X.iloc[members].mean().round(1).to_dict(),
                "examples": "; ".join(table.names[i] for i in nearest),
            }
        )
    return pd.DataFrame(rows)
