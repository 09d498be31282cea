"""The report's sections about the model rather than the search: what the data was, why the champion predicts
what it does, how it errs. Each reads the run's artifacts (``data/``, ``validation/``, ``explain/``, ``errors/``,
``plots/``, ``clusters/``; path -> bytes) and returns HTML; a section whose artifacts are missing says so."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

# the figures of each section, in the order they are shown
EXPLAIN_FIGURES = ("explain/importance.png", "explain/shap.png", "explain/partial_dependence.png",
                   "explain/models_importance.png", "explain/predictions_correlation.png",
                   "explain/cluster_means.png", "explain/grad_cam.png")  # fmt: skip
ERROR_FIGURES = ("plots/confusion_matrix.png", "plots/roc_curve.png", "plots/precision_recall.png",
                 "plots/calibration.png", "plots/residuals.png", "plots/predictions.png")  # fmt: skip


def short(value: Any) -> Any:
    """A number rounded to what it means (4 significant digits); text that reads as a float, likewise."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, str) and any(c in value for c in ".eE"):
        try:
            return f"{float(value):.4g}"
        except ValueError:
            return value
    return value


def table(frame: pd.DataFrame) -> str:
    """An HTML table, numbers to 4 significant digits."""
    if frame.empty:
        return '<p class="note">none</p>'
    return frame.map(short).to_html(index=False, na_rep="", border=0, escape=True, float_format=lambda v: f"{v:.4g}")


def figure(artifacts: dict[str, bytes], path: str) -> str:
    """An inlined PNG artifact with its path as caption (empty where the run has none)."""
    if path not in artifacts:
        return ""
    encoded = base64.b64encode(artifacts[path]).decode()
    return (
        f'<p class="note">{html.escape(path)}</p><img alt="{html.escape(path)}" src="data:image/png;base64,{encoded}">'
    )


def figures(artifacts: dict[str, bytes], paths: Sequence[str]) -> str:
    """The PNG artifacts among ``paths`` side by side, wrapping."""
    shown = [f"<figure>{figure(artifacts, path)}</figure>" for path in paths if path in artifacts]
    return f'<div class="figures">{"".join(shown)}</div>' if shown else ""


def payload(artifacts: dict[str, bytes], path: str) -> Any:
    """A JSON artifact, parsed (None where the run has none)."""
    return json.loads(artifacts[path]) if path in artifacts else None


def parameters(params: dict[str, str]) -> str:
    """The run's parameters as a table (JSON values shown compactly)."""
    rows = [{"parameter": k, "value": short(v)} for k, v in sorted(params.items())]
    return table(pd.DataFrame(rows))


def data_section(artifacts: dict[str, bytes], columns: list[dict[str, Any]] | None) -> list[str]:
    """Rows, columns and what preprocessing did with each, missing values, the target, the expectation suite."""
    parts = ["<h2>Data</h2>"]
    profile = payload(artifacts, "data/profile.json")
    if profile:
        parts.append(f"<p>{profile['rows']:,} rows, {profile['columns']} columns.</p>")
        per_column = pd.DataFrame(profile["per_column"])
        if columns:
            per_column = per_column.merge(pd.DataFrame(columns), on="column", how="left")
        parts.append(table(per_column))
        target = profile.get("target")
        if target and "classes" in target:
            parts += [
                f"<h3>Class balance of {html.escape(target['column'])}</h3>",
                table(pd.DataFrame(target["classes"])),
            ]
        elif target:
            quantiles = pd.DataFrame([{"quantile": q, "value": v} for q, v in target["quantiles"].items()])
            parts += [f"<h3>Distribution of {html.escape(target['column'])} (mean {short(target['mean'])})</h3>",
                      table(quantiles)]  # fmt: skip
    elif columns:
        parts.append(table(pd.DataFrame(columns)))
    report = payload(artifacts, "validation/report.json")
    if report:
        failed = len(report.get("failures", []))
        parts.append(f"<h3>Expectation suite {html.escape(report['suite'])}</h3><p>{report['evaluated']} "
                     f"expectations checked, {failed} failed.</p>")  # fmt: skip
        if report.get("checked"):
            parts.append(f"<details><summary>the {len(report['checked'])} expectations</summary>"
                         f"{table(pd.DataFrame(report['checked']))}</details>")  # fmt: skip
    return parts


def explain_section(artifacts: dict[str, bytes]) -> list[str]:
    """What drives the champion: the method and its notes, the ranking, the explanations' figures."""
    parts = ["<h2>Why the champion predicts what it does</h2>"]
    summary = payload(artifacts, "explain/summary.json")
    if summary is None:
        return [*parts, '<p class="note">This run has no explanations (trained before they existed).</p>']
    parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in summary["notes"]) + "</ul>")
    if summary["importance"]:
        parts += [f"<h3>Importance: {html.escape(summary['method'])}</h3>",
                  table(pd.DataFrame(summary["importance"]).head(15))]  # fmt: skip
    shap = payload(artifacts, "explain/shap.json")
    if shap:
        mean_abs = pd.DataFrame([{"feature": k, "mean |contribution|": v} for k, v in shap["mean_abs"].items()])
        parts += [f"<h3>{html.escape(shap['method'])}, {shap['rows']} rows</h3>", table(mean_abs.head(15))]
    lifts = payload(artifacts, "explain/category_lift.json")
    if lifts:
        parts += ["<h3>Over-represented category levels per cluster (lift)</h3>", table(pd.DataFrame(lifts))]
    return [*parts, figures(artifacts, EXPLAIN_FIGURES)]


def errors_section(artifacts: dict[str, bytes]) -> list[str]:
    """How the champion errs on the held-out rows: curves, confusion, per-class metrics, largest errors."""
    parts = ["<h2>How the champion errs (held-out rows)</h2>"]
    per_class = payload(artifacts, "errors/per_class.json") or payload(artifacts, "per_class.json")
    if per_class:
        parts += ["<h3>Per class</h3>", table(pd.DataFrame(per_class))]
    largest = payload(artifacts, "errors/largest.json")
    if largest:
        parts += ["<h3>Largest errors</h3>", table(pd.DataFrame(largest))]
    parts.append(figures(artifacts, ERROR_FIGURES))
    rest = sorted(p for p in artifacts if p.endswith(".png") and p.startswith(("plots/", "clusters/"))
                  and p not in ERROR_FIGURES)  # fmt: skip
    if rest:
        parts += ["<h3>Other plots</h3>", figures(artifacts, rest)]
    return parts
