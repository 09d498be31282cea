"""What the CLI prints after every training run, below the family's own summary: the registry decision, the
timings, and how to open the UIs on the run. Each family prints its summary in its ``printer`` module."""

from __future__ import annotations

from typing import Any

from rich.console import Console


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
            f"search budget {budget:.0f} s: no trial started after it; the last running ones finished {over:.1f} s "
            "past it"
            if over > 0
            else f"search budget {budget:.0f} s: the search ran out of configurations first"
        )
    if "halving_configurations" in facts:
        top = max(int(k.split("_")[2]) for k in facts if k.startswith("halving_rung_"))
        brackets = int(facts["halving_brackets"])
        out.print(f"successive halving: {facts['halving_configurations']:.0f} configurations in {brackets} "
                  f"bracket{'s' * (brackets > 1)}; {facts[f'halving_rung_{top}_trials']:.0f} ran the full budget "
                  "(each trial's rungs: its MLflow child run)")  # fmt: skip
    from zygarde.summary import run_link

    mlflow = summary["mlflow"]
    run_id = mlflow.get("parent_run_id")
    link = run_link("http://127.0.0.1:5000", mlflow["experiment_id"], run_id)
    out.print(
        "\nOpen the UIs:\n"
        f"  mlflow ui --backend-store-uri {mlflow['tracking_uri']} --port 5000\n"
        f"    then {link}   (MLflow's Model training view)\n"
        "  prefect server start                              # flow runs, tasks, artifacts"
        + (f"\n  zygarde report {run_id}   # one page: metrics, what drives the model, how it errs" if run_id else ""),
        soft_wrap=True,
    )
    if summary.get("log_file"):
        out.print(f"log: {summary['log_file']}")
