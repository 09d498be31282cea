"""Data drift of a batch against the rows a model learned from: per-feature PSI and Kolmogorov-Smirnov test,
the share of drifted features, and (for a labelled batch) the model's own metric on it.

A feature drifts when its PSI reaches ``psi_threshold`` (0.2: the usual "significant shift") or its two-sample
KS test rejects equality at ``ks_alpha``; the batch drifts when at least ``drift_share`` of its features do, so
one noisy feature among many does not retrain a model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel, Field
from scipy import stats

from zygarde.errors import ZygardeError

if TYPE_CHECKING:
    from zygarde.registry import StoredReference

_EPS = 1e-4  # floor of a bin's share: an empty bin does not make PSI infinite


class DriftThresholds(BaseModel):
    """When a feature, and a batch, count as drifted."""

    psi_threshold: float = Field(0.2, gt=0, description="PSI at or above which a feature has drifted.")
    ks_alpha: float = Field(0.01, gt=0, lt=1, description="KS test p-value below which a feature has drifted.")
    drift_share: float = Field(0.3, gt=0, le=1, description="Share of drifted features at which the batch drifts.")


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's comparison (KS only for numeric features)."""

    feature: str
    kind: str
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None
    drifted: bool


@dataclass
class DriftReport:
    """A batch against a reference: every feature, the share drifted, the verdict, the metric if labelled."""

    features: list[FeatureDrift]
    share_drifted: float
    drifted: bool
    rows_reference: int
    rows_batch: int
    metric: dict[str, float] | None = None  # name -> value on the batch (labelled batches only)

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features that drifted."""
        return [f.feature for f in self.features if f.drifted]

    def rows(self) -> list[dict[str, object]]:
        """The per-feature table (for Prefect and MLflow)."""
        return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(f).items()} for f in self.features]


def psi(reference: pd.Series, current: pd.Series, bins: int = 10) -> float:
    """Population stability index: numeric features in the reference's quantile bins, others by category."""
    reference, current = reference.dropna(), current.dropna()
    if reference.empty or current.empty:
        return float("nan")
    if pd.api.types.is_numeric_dtype(reference) and pd.api.types.is_numeric_dtype(current):
        edges = np.unique(np.quantile(reference.astype(float), np.linspace(0, 1, bins + 1)))
        edges[0], edges[-1] = -np.inf, np.inf
        expected = np.histogram(reference.astype(float), edges)[0] / len(reference)
        actual = np.histogram(current.astype(float), edges)[0] / len(current)
    else:
        categories = sorted(set(reference.astype(str)) | set(current.astype(str)))
        expected = reference.astype(str).value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy()
        actual = current.astype(str).value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy()
    expected, actual = np.clip(expected, _EPS, None), np.clip(actual, _EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def compare(reference: pd.DataFrame, batch: pd.DataFrame, thresholds: DriftThresholds) -> DriftReport:
    """Compare every reference feature with the batch's (a feature missing from the batch is an error)."""
    missing = [c for c in reference.columns if c not in batch.columns]
    if missing:
        raise ZygardeError(
            f"the batch lacks the model's feature column(s) {', '.join(map(repr, missing))}; drift cannot be measured."
        )
    results = []
    for column in reference.columns:
        ref, cur = reference[column], batch[column]
        value = psi(ref, cur)
        numeric = pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur)
        ks_stat = ks_p = None
        if numeric and ref.notna().any() and cur.notna().any():
            test = stats.ks_2samp(ref.dropna().astype(float), cur.dropna().astype(float))
            ks_stat, ks_p = float(test.statistic), float(test.pvalue)
        drifted = bool(value >= thresholds.psi_threshold or (ks_p is not None and ks_p < thresholds.ks_alpha))
        results.append(
            FeatureDrift(str(column), "numeric" if numeric else "categorical", value, ks_stat, ks_p, drifted)
        )
    share = sum(f.drifted for f in results) / max(1, len(results))
    return DriftReport(results, share, share >= thresholds.drift_share, len(reference), len(batch))


def drift_figure(report: DriftReport, thresholds: DriftThresholds) -> Figure:
    """PSI per feature, drifted ones in red, the threshold as a line."""
    features = sorted(report.features, key=lambda f: -np.nan_to_num(f.psi))
    figure, ax = plt.subplots(figsize=(7, 0.35 * len(features) + 1.5))
    ax.barh([f.feature for f in features], [np.nan_to_num(f.psi) for f in features],
            color=["tab:red" if f.drifted else "tab:blue" for f in features])  # fmt: skip
    ax.axvline(thresholds.psi_threshold, color="black", linestyle="--", linewidth=1, label="PSI threshold")
    ax.invert_yaxis()
    verdict = "drifted" if report.drifted else "no drift"
    ax.set(
        xlabel="PSI (batch vs training reference)", title=f"{report.share_drifted:.0%} of features drifted: {verdict}"
    )
    ax.legend(loc="lower right")
    figure.tight_layout()
    return figure


def batch_metrics(model: object, features: list[str], batch: pd.DataFrame, target: str, task: str,
                  classes: list[str]) -> dict[str, float] | None:  # fmt: skip
    """The model's metrics on a labelled batch (None when the batch has no labels, or labels it never saw)."""
    from zygarde.tabular.evaluate import score_model

    if target not in batch.columns:
        return None
    rows = batch.dropna(subset=[target])
    if rows.empty:
        return None
    y = rows[target]
    if task == "classification":
        index = {label: i for i, label in enumerate(classes)}
        codes = y.map(lambda v: index.get(str(v), index.get(str(int(v)) if isinstance(v, float) else "", -1)))
        if (codes < 0).any():
            return None
        y = codes
    X = rows[features].astype({c: "float64" for c in features if pd.api.types.is_integer_dtype(rows[c])})
    return score_model(model, X, np.asarray(y), task)


def champion_on_batch(tracking_uri: str, reference: StoredReference, batch: pd.DataFrame) -> dict[str, float] | None:
    """The metrics of the version ``reference`` belongs to on a labelled ``batch``; None, without loading the
    model, when the batch has no labels (or the model none: a clustering). The model loads in its own flavour
    (a Spark ML champion through Spark)."""
    if not reference.target or not reference.task or reference.target not in batch.columns:
        return None
    from zygarde.tabular.family import load_tabular_model
    from zygarde.tracking import fluent_tracking_uri

    with fluent_tracking_uri(tracking_uri):
        model = load_tabular_model(f"models:/{reference.name}/{reference.version}")
    features = list(reference.features.columns)
    return batch_metrics(model, features, batch, reference.target, reference.task, reference.classes)
