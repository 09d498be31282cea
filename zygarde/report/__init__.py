"""``zygarde report RUN_ID``: one self-contained HTML page about a training run, read back from MLflow.

Sections: the outcome and test metrics; what the data was; why the champion predicts what it does; how it errs
on the held-out rows (``zygarde.report.sections``); the search and the run's parameters; the leaderboard
(family, configuration, score, fit time, predict time per row, CPU and memory); best score so far against
trials and against wall clock; per-family results; rungs and stops (searches with rungs); time, CPU and memory
per stage and per trial. Figures are PNGs inlined as data URIs and the styles are inline: the file opens
anywhere, offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from zygarde.errors import ZygardeError
from zygarde.report.sections import data_section, errors_section, explain_section, parameters, short

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:left}th{background:#f3f3f3}img{max-width:100%}.note{color:#666;font-size:.85em}
.figures{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.figures figure{margin:0;max-width:540px}
"""


@dataclass
class RunRecord:
    """A parent run and its trials (child runs) as read from the store."""

    parent: Any
    trials: pd.DataFrame  # one row per child run, in the order they completed
    metric: str
    greater_is_better: bool
    column: str  # the child-run metric that holds ``metric``


def read_run(tracking_uri: str, run_id: str) -> RunRecord:
    """The run and its child runs; a clear error when the store has no such run."""
    from mlflow.exceptions import MlflowException

    from zygarde.tracking import get_client

    client = get_client(tracking_uri)
    try:
        parent = client.get_run(run_id)
    except MlflowException:
        raise ZygardeError(
            f"No run {run_id} in {tracking_uri}. The run id is on the run's summary (--json: mlflow.parent_run_id) "
            "and in the MLflow UI."
        ) from None
    if "mlflow.parentRunId" in parent.data.tags:
        raise ZygardeError(f"{run_id} is one trial of run {parent.data.tags['mlflow.parentRunId']}; report that run.")
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'", max_results=50_000
    )
    tags = parent.data.tags
    metric = tags.get("zygarde.selection_metric") or _guess_metric(children)
    greater = tags.get("zygarde.greater_is_better", "true" if metric not in ("rmse", "mae") else "false") == "true"
    column = f"cv_{metric}_mean" if tags.get("zygarde.metric_names", "cv") == "cv" else metric
    rows = []
    for child in children:
        row = {"trial": int(child.data.tags.get("zygarde.trial_id", -1)),
               "family": child.data.tags.get("zygarde.algorithm", ""),
               "rung": int(child.data.tags.get("zygarde.rung", 0) or 0),
               "budget": child.data.tags.get("zygarde.budget", ""),
               "error": child.data.tags.get("zygarde.error", ""),
               "finished": child.info.start_time / 1000,  # created as the trial's result was logged
               "params": ", ".join(f"{k}={short(v)}" for k, v in sorted(child.data.params.items())),
               **child.data.metrics}  # fmt: skip
        rows.append(row)
    trials = pd.DataFrame(rows)
    if not trials.empty:
        trials = trials.sort_values("finished", kind="stable").reset_index(drop=True)
    return RunRecord(parent, trials, metric, greater, column)


def _guess_metric(children: list[Any]) -> str:
    names = {m for c in children for m in c.data.metrics}
    for metric in ("roc_auc", "rmse", "silhouette", "accuracy"):
        if f"cv_{metric}_mean" in names or metric in names:
            return metric
    return "roc_auc"


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _table(frame: pd.DataFrame, floats: str = "{:.4g}") -> str:
    if frame.empty:
        return '<p class="note">none</p>'
    return frame.to_html(index=False, float_format=lambda v: floats.format(v), na_rep="", border=0, escape=True)


def _progress_figure(record: RunRecord) -> str:
    trials = record.trials
    scores = trials[record.column] if record.column in trials else pd.Series(dtype=float)
    best = scores.cummax() if record.greater_is_better else scores.cummin()
    seconds = trials["finished"] - trials["finished"].min()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    left.plot(range(1, len(best) + 1), best, drawstyle="steps-post")
    left.scatter(range(1, len(scores) + 1), scores, s=8, alpha=0.4)
    left.set(xlabel="trials completed", ylabel=record.metric, title="Best so far, by trials")
    right.plot(seconds, best, drawstyle="steps-post")
    right.set(xlabel="seconds since the first result", ylabel=record.metric, title="Best so far, by wall clock")
    figure.tight_layout()
    return _png(figure)


def _family_figure(record: RunRecord) -> str:
    trials = record.trials.dropna(subset=[record.column]) if record.column in record.trials else record.trials
    families = sorted(trials["family"].unique()) if not trials.empty else []
    figure, ax = plt.subplots(figsize=(7, 3))
    if families:
        ax.boxplot([trials.loc[trials["family"] == f, record.column] for f in families], tick_labels=families)
    ax.set(ylabel=record.metric, title="Scores by family")
    return _png(figure)


def _stages(parent: Any) -> pd.DataFrame:
    metrics = parent.data.metrics
    names = sorted({k.split("_")[1] for k in metrics if k.startswith("stage_") and k.endswith("_wall_seconds")})
    return pd.DataFrame([{"stage": n, "wall s": metrics.get(f"stage_{n}_wall_seconds"),
                          "CPU s": metrics.get(f"stage_{n}_cpu_seconds"),
                          "peak RSS MB": metrics.get(f"stage_{n}_peak_rss_mb")} for n in names])  # fmt: skip


def build_report(record: RunRecord, artifacts: dict[str, bytes], columns: list[dict[str, Any]] | None = None) -> str:
    """The page, from the run record, the run's own artifacts (``run_artifacts``: path -> bytes) and its column
    plan (``columns.json``: column, kind, treatment, levels)."""
    parent, trials = record.parent, record.trials
    metrics, tags, params = parent.data.metrics, parent.data.tags, parent.data.params
    title = f"zygarde run {parent.info.run_name or parent.info.run_id}"
    test = pd.DataFrame([{"metric": k.removeprefix("test_"), "value": v}
                         for k, v in sorted(metrics.items()) if k.startswith("test_")])  # fmt: skip
    facts = ("search_", "n_trials", "time_budget", "budget_", "trial_fit")
    search = pd.DataFrame([{"fact": k, "value": v} for k, v in sorted(metrics.items()) if k.startswith(facts)])
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>dataset <b>{html.escape(tags.get('zygarde.dataset', ''))}</b> · run "
             f"<code>{parent.info.run_id}</code> · status {parent.info.status} · registered "
             f"{html.escape(tags.get('zygarde.registered', '-'))}: "
             f"{html.escape(tags.get('zygarde.champion_decision', ''))}</p>",
             "<h2>Test metrics (held-out rows)</h2>", _table(test),
             *data_section(artifacts, columns), *explain_section(artifacts), *errors_section(artifacts),
             "<h2>Search</h2>", _table(search), "<h2>Parameters</h2>", parameters(params)]  # fmt: skip
    if trials.empty:
        parts.append("<p>This run has no trials.</p>")
    else:
        column = record.column
        ranked = trials.dropna(subset=[column]) if column in trials else trials.iloc[0:0]
        ranked = ranked.sort_values(column, ascending=not record.greater_is_better)
        shown = {"family": "family", "params": "configuration", column: record.metric,
                 f"cv_{record.metric}_std": "± std", "wall_seconds": "fit s",
                 "cv_predict_us_per_row_mean": "predict µs/row", "cpu_seconds": "CPU s",
                 "peak_rss_mb": "peak RSS MB", **({"rung": "rung"} if trials["rung"].max() > 0 else {})}  # fmt: skip
        board = ranked[[c for c in shown if c in ranked]].rename(columns=shown).head(25)
        by_family = (
            trials.groupby("family")
            .agg(
                trials=("trial", "size"),
                failed=("error", lambda e: int((e != "").sum())),
                best=(column, "max" if record.greater_is_better else "min") if column in trials else ("trial", "size"),
                median=(column, "median") if column in trials else ("trial", "size"),
                fit_seconds=("wall_seconds", "sum") if "wall_seconds" in trials else ("trial", "size"),
            )
            .reset_index()
        )
        parts += [f"<h2>Leaderboard: {html.escape(record.metric)} ({len(trials)} trials)</h2>", _table(board),
                  "<h2>Progress</h2>", _progress_figure(record),
                  "<h2>Families</h2>", _table(by_family), _family_figure(record)]  # fmt: skip
        if trials["rung"].max() > 0:
            rungs = trials.groupby("rung").agg(trials=("trial", "size"), best=(column, "max")).reset_index()
            note = ("successive halving: trials by the highest rung they reached (their score there); each trial's "
                    "child run holds its score at every rung, at the step of its budget")  # fmt: skip
            parts += ["<h2>Rungs</h2>", f"<p class='note'>{note}</p>", _table(rungs)]
        failed = trials.loc[trials["error"] != "", ["trial", "family", "error"]]
        parts += ["<h2>Failed trials</h2>", _table(failed)]
        usage = trials[[c for c in ("trial", "family", "wall_seconds", "cpu_seconds", "cpu_percent", "peak_rss_mb")
                        if c in trials]]  # fmt: skip
        parts += ["<h2>Time, CPU and memory per trial</h2>", _table(usage)]
    parts += ["<h2>Time, CPU and memory per stage</h2>", _table(_stages(parent))]
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{chr(10).join(parts)}</body></html>"


ARTIFACT_FOLDERS = ("plots", "clusters", "explain", "errors", "data", "validation")


def run_artifacts(tracking_uri: str, run_id: str) -> dict[str, bytes]:
    """The run's PNG and JSON artifacts under ``ARTIFACT_FOLDERS`` (and its top-level JSON), by path."""
    from pathlib import Path

    from zygarde.tracking import get_client

    client = get_client(tracking_uri)
    found: dict[str, bytes] = {}
    for entry in client.list_artifacts(run_id):
        if entry.is_dir and entry.path in ARTIFACT_FOLDERS:
            folder = Path(client.download_artifacts(run_id, entry.path))
            for path in sorted(folder.rglob("*")):
                if path.suffix in (".png", ".json"):
                    found[f"{entry.path}/{path.relative_to(folder).as_posix()}"] = path.read_bytes()
        elif not entry.is_dir and entry.path.endswith(".json"):
            found[entry.path] = Path(client.download_artifacts(run_id, entry.path)).read_bytes()
    return found


def write_report(tracking_uri: str, run_id: str, out: Any) -> Any:
    """Write the page to ``out`` (atomically) and log it to the run as ``report.html``; returns ``out``."""
    from zygarde.files import write_atomically
    from zygarde.tracking import get_client

    artifacts = run_artifacts(tracking_uri, run_id)
    columns = json.loads(artifacts["columns.json"]) if "columns.json" in artifacts else None
    page = build_report(read_run(tracking_uri, run_id), artifacts, columns)
    write_atomically(out, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    get_client(tracking_uri).log_text(run_id, page, "report.html")
    return out
