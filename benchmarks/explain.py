"""What explanations cost and whether they find what is there.

1. The main job (``zygarde run``, its defaults): the explain stage's wall seconds (explanations drawn and logged)
   against the run's wall clock. Target: at most 10%.
2. A 100,000-row table (``zygarde.synthetic.churn_table``, ``--algorithms auto --time-budget B``): the explain
   stage's seconds, and the budgeted part (search + ensemble + refit) plus explanations against B. Target: within B.
3. Agreement on a generated table whose informative columns are known (i0 strongest ... i4 weakest, five noise
   columns and a category of noise): an XGBoost pipeline's TreeSHAP ranking (mean |pred_contribs|) and its
   permutation-importance ranking on the held-out rows. Target: the five known columns rank first in both.

Run: .venv/bin/python benchmarks/explain.py [--rows 100000] [--budget 60] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _quick import parse

from zygarde.synthetic import churn_table, known_signal

KNOWN = [f"i{k}" for k in range(5)]


def run(arguments: list[str], work: Path) -> tuple[dict, float, dict[str, float]]:
    """``zygarde run ARGUMENTS --json`` in its own work dir: its summary, its wall, the parent run's metrics."""
    import subprocess

    from mlflow import MlflowClient

    env = {**os.environ, "ZYGARDE_WORK_DIR": str(work), "PYTHONWARNINGS": "ignore"}
    for name in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "ZYGARDE_DASK_ADDRESS"):
        env.pop(name, None)
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("zygarde")), "run", *arguments, "--json"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"zygarde run {' '.join(arguments)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    summary = json.loads(done.stdout)
    client = MlflowClient(summary["mlflow"]["tracking_uri"])
    return summary, wall, client.get_run(summary["mlflow"]["parent_run_id"]).data.metrics


def agreement(rows: int) -> tuple[list[str], list[str], float]:
    """TreeSHAP's and permutation importance's top 5, and the Spearman correlation of their full rankings."""
    from scipy.stats import spearmanr

    from zygarde.explain import Deadline
    from zygarde.explain.tabular import Rows, permutation_importance, tree_contributions
    from zygarde.search.trials import TrialSpec
    from zygarde.tabular.datasets import prepare_table
    from zygarde.tabular.objective import CrossValidationObjective, TrialData
    from zygarde.tabular.preprocess import split_holdout

    dataset = prepare_table(known_signal(rows), name="known", source=Path("known.csv"), target="label")
    split = split_holdout(dataset, 0.25, 0, 3)
    data = TrialData(split.X_train, split.y_train, task="classification", classes=split.classes,
                     columns=dataset.columns)  # fmt: skip
    objective = CrossValidationObjective("classification", 2, 3, 0)
    model = objective.build_pipeline(TrialSpec(0, "xgboost", {"n_estimators": 200, "max_depth": 4}), data)
    model.fit(data.X, data.y)
    held = Rows(split.X_test.reset_index(drop=True), split.y_test, "classification", "roc_auc", True, 0,
                split.classes).sample()  # fmt: skip
    shap = tree_contributions(model, held.X)[0].abs().mean().sort_values(ascending=False)
    permuted = permutation_importance(model, held, Deadline(float("inf"))).set_index("feature")["importance"]
    rho = spearmanr(shap.rank(), permuted.reindex(shap.index).rank()).statistic
    return list(shap.index[:5]), list(permuted.index[:5]), float(rho)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--main-job", nargs="*", default=[], help="extra options of the main job's run")
    args = parse(parser, argv, rows=3_000, budget=20, main_job=["--trials", "4"])
    scratch = Path(tempfile.mkdtemp(prefix="zygarde-explain-"))

    _, wall, metrics = run(args.main_job, scratch / "main")
    explain = metrics["stage_explain_wall_seconds"]
    print(f"main job: explanations {explain:.1f} s of a {wall:.1f} s run: {explain / wall:.1%} (target at most 10%)",
          flush=True)  # fmt: skip

    table = scratch / "churn.csv"
    churn_table(args.rows, seed=7).to_csv(table, index=False)
    summary, wall, metrics = run([str(table), "--target", "churned", "--algorithms", "auto", "--time-budget",
                                  f"{args.budget:g}s"], scratch / "large")  # fmt: skip
    explain = metrics["stage_explain_wall_seconds"]
    used = summary["time_budget"].get("used_seconds", 0.0)
    print(f"{args.rows:,} rows, budget {args.budget:g} s: search + ensemble + refit {used:.1f} s, explanations "
          f"{explain:.1f} s; together {(used + explain) / args.budget:.2f} of the budget (target at most 1.00); "
          f"whole run {wall:.1f} s", flush=True)  # fmt: skip

    shap, permuted, rho = agreement(min(args.rows, 20_000))
    print(
        f"known informative columns {KNOWN}: TreeSHAP's top 5 {shap}, permutation's top 5 {permuted}; "
        f"both find them: {set(shap) == set(permuted) == set(KNOWN)}; Spearman of the two rankings {rho:.2f}"
    )


if __name__ == "__main__":
    main()
