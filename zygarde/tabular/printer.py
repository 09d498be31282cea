"""What the terminal shows after a tabular run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from zygarde.search.trials import describe_params
from zygarde.terminal import print_footer


def print_tabular(summary: dict[str, Any]) -> None:
    """The leaderboard, the winner and its held-out metrics, then the footer."""
    out = Console()
    metric = summary["selection_metric"]
    holdout = bool(summary.get("validation_metrics"))  # out of core: one validation part, no folds
    validation = summary.get("validation", "CV")
    prefix = "validation" if holdout else "cv"
    said = "hold-out" if validation.startswith("hold-out") else prefix  # what the scores are, in the words below
    if said == "hold-out":
        where = "a fifth of the training split ("
    else:
        where = "the validation part (" if holdout else f"the training split ({validation}, "
    rungs = any("budget" in row for row in summary["leaderboard"])  # successive halving: the last rung's results
    table = Table(title=f"Leaderboard: {said} {metric} on {where}{summary['n_trials']} trials"
                        f"{', rung by rung; compared on the full budget' if rungs else ''})")  # fmt: skip
    timed = any(row.get("predict_us_per_row", float("nan")) == row.get("predict_us_per_row") for row in
                summary["leaderboard"])  # fmt: skip
    columns = ("#", "algorithm", *(["budget"] if rungs else []), f"{prefix} {metric}", *([] if holdout else ["± std"]),
               "fit s", *(["µs/row"] if timed else []), "params")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for row in summary["leaderboard"]:
        spread = [] if holdout else [f"{row[f'cv_{metric}_std']:.4f}"]
        table.add_row(
            str(row["trial"]),
            row["algorithm"],
            *([str(row["budget"])] if rungs else []),
            f"{row[f'{prefix}_{metric}']:.4f}",
            *spread,
            f"{row['fit_seconds']:.2f}",
            *([f"{row['predict_us_per_row']:.2f}"] if timed else []),
            row["params"],
        )
    out.print(table)
    test = ", ".join(f"{k}={v:.4f}" for k, v in summary["test_metrics"].items())
    out.print(f"best: [bold]{summary['best_algorithm']}[/] {describe_params(summary['best_params'])}")
    out.print(f"{'test part' if holdout else 'test split'}: {test}")
    gap = summary.get("cv_to_test") or {}
    if gap:
        out.print(f"{gap['metric']}: {said} {gap['cv']:.4f} -> test {gap['test']:.4f} ({gap['gap']:+.4f}; a large "
                  "drop means the selection flattered the winner)")  # fmt: skip
    budget = summary.get("time_budget") or {}
    if budget:
        out.print(f"time budget {budget['budget_seconds']:g} s: search, ensemble and refit took "
                  f"{budget['used_seconds']:.1f} s")  # fmt: skip
    print_footer(out, summary)
