"""What the terminal shows after a vision run."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from zygarde.search.trials import describe_params
from zygarde.terminal import print_footer


def print_vision(summary: dict[str, Any]) -> None:
    """The images used and skipped, the winning configuration and its metrics, then the footer."""
    out = Console()
    quarantined = summary["quarantined"]
    out.print(
        f"{summary['dataset']}: {len(summary['class_names'])} classes, train {summary['n_train']} / "
        f"validation {summary['n_val']} / test {summary['n_test']} images at {summary['image_size']}px; "
        f"{quarantined['count']} files quarantined"
    )
    for row in quarantined["files"][:10]:
        out.print(f"  skipped {escape(row['path'])}: {escape(row['problem'])}")
    best = describe_params(summary["best_params"])
    out.print(f"best configuration ({summary['n_trials']} trials, successive halving): {best}")
    out.print(f"validation accuracy {summary['val_metrics']['val_accuracy']:.4f}")
    test = ", ".join(f"{k}={v:.4f}" for k, v in summary["test_metrics"].items())
    out.print(f"test split (final data-parallel model): {test}")
    print_footer(out, summary)
