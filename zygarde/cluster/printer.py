"""What the terminal shows after a clustering run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from zygarde.search.trials import describe_params
from zygarde.terminal import print_footer


def print_cluster(summary: dict[str, Any]) -> None:
    """The leaderboard by silhouette, the winner and the study's reference, then the footer."""
    out = Console()
    where = f"{summary['dataset']}, {summary['n_rows']} rows, {len(summary['features'])} features"
    table = Table(title=f"Leaderboard: silhouette on all rows ({where}; {summary['n_trials']} trials)")
    for column in ("#", "algorithm", "silhouette", "davies-bouldin", "clusters", "noise", "params"):
        table.add_column(column)
    for row in summary["leaderboard"]:
        table.add_row(
            str(row["trial"]),
            row["algorithm"],
            f"{row['silhouette']:.4f}",
            f"{row['davies_bouldin']:.3f}",
            f"{row['n_clusters']:.0f}",
            f"{row['noise_fraction']:.0%}",
            row["params"],
        )
    out.print(table)
    out.print(f"{summary['n_trials_degenerate']} degenerate results logged, never selected")
    out.print(f"best: [bold]{summary['best_algorithm']}[/] {describe_params(summary['best_params'])}")
    if summary["reference"]:
        ref = summary["reference"]
        out.print(
            f"study preset (K-means k=2, standardised total_fat + total_carb): silhouette {ref['silhouette']:.3f} "
            f"here vs {ref['study_silhouette']} reported"
        )
    print_footer(out, summary)
