"""What the CLI prints after a run: a leaderboard per family, the registry decision, timings, how to look."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zygarde.search.trials import describe_params


def print_tabular(summary: dict[str, Any]) -> None:
    out = Console()
    metric = summary["selection_metric"]
    holdout = bool(summary.get("validation_metrics"))  # out of core: one validation part, no folds
    where = "the validation part" if holdout else "the training split"
    prefix = "validation" if holdout else "cv"
    rungs = any("budget" in row for row in summary["leaderboard"])  # successive halving: the last rung's results
    table = Table(title=f"Leaderboard: {prefix} {metric} on {where} ({summary['n_trials']} trials"
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
    print_footer(out, summary)


def print_cluster(summary: dict[str, Any]) -> None:
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


def print_footer(out: Console, summary: dict[str, Any]) -> None:
    """The registry decision, the timings, and how to open the UIs on this run."""
    model = summary["model"]
    out.print(
        f"registered {model['name']} v{model['version']}: "
        f"{'now champion' if model['became_champion'] else 'champion unchanged'} ({model['reason']})"
    )
    out.print(
        f"search {summary['search_wall_seconds']:.1f} s for {summary['trial_fit_seconds']:.1f} s of trials; "
        f"whole run {summary['wall_seconds']:.1f} s"
    )
    facts = summary.get("search_facts", {})
    if "time_budget_seconds" in facts:
        budget, over = facts["time_budget_seconds"], facts["budget_overshoot_seconds"]
        out.print(
            f"time budget {budget:.0f} s: no trial started after it; the last running ones finished {over:.1f} s "
            "past it"
            if over > 0
            else f"time budget {budget:.0f} s: the search ran out of configurations first"
        )
    if "halving_configurations" in facts:
        top = max(int(k.split("_")[2]) for k in facts if k.startswith("halving_rung_"))
        brackets = int(facts["halving_brackets"])
        out.print(f"successive halving: {facts['halving_configurations']:.0f} configurations in {brackets} "
                  f"bracket{'s' * (brackets > 1)}; {facts[f'halving_rung_{top}_trials']:.0f} ran the full budget "
                  "(each trial's rungs: its MLflow child run)")  # fmt: skip
    uri = summary["mlflow"]["tracking_uri"]
    out.print(
        "\nOpen the UIs:\n"
        f"  mlflow ui --backend-store-uri {uri} --port 5000   # experiment {summary['mlflow']['experiment_id']}\n"
        "  prefect server start                              # flow runs, tasks, artifacts"
    )
    if summary.get("log_file"):
        out.print(f"log: {summary['log_file']}")


def print_vision(summary: dict[str, Any]) -> None:
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
