"""The main job as a user runs it, and how good its chosen pipeline is beyond one split.

1. Runs ``zygarde run diabetes --json`` (the README's first command) cold, in a fresh work dir, and reports
   its wall time (target <= 60 s), the overhead (wall minus the search stage; target <= 12 s) with the
   milestones of its log file, the chosen configuration and its held-out test metrics.
2. Scores that chosen pipeline (preprocessing + estimator with the chosen parameters, nothing re-tuned) by
   5 x 5 repeated stratified CV on the whole table: accuracy and ROC-AUC as mean +- std over the 25 folds
   (aims: >= 0.78 and >= 0.84). The parameters were chosen by CV on the training split only, never on a test
   split; the 25 folds include rows of that training split, so read this as the pipeline's expected
   performance, not as an untouched-test estimate (that is the run's own ``test_*`` figure).

Run: .venv/bin/python benchmarks/main_job.py [--quick]; with --warm [--rounds 3]: the start-up overhead cold and
on the services of ``zygarde up`` (docs/decisions/0008), alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _quick import parse
from sklearn.model_selection import RepeatedStratifiedKFold, cross_validate

from zygarde.search.trials import TrialSpec
from zygarde.settings import get_settings
from zygarde.tabular.datasets import load_dataset
from zygarde.tabular.objective import CrossValidationObjective, TrialData


def run_main_job(work_dir: Path, options: list[str], command: str = "run") -> tuple[dict, float]:
    """``zygarde run diabetes --json`` in its own work dir (``command``: up or down instead); returns its summary
    and wall seconds."""
    cli = Path(sys.executable).with_name("zygarde")
    env = {**os.environ, "ZYGARDE_WORK_DIR": str(work_dir)}
    for name in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "ZYGARDE_DASK_ADDRESS"):  # services of its own
        env.pop(name, None)
    started = time.perf_counter()
    arguments = ["run", "diabetes", "--json", *options] if command == "run" else [command]
    done = subprocess.run([str(cli), *arguments], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"zygarde {command} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return (json.loads(done.stdout) if command == "run" else {}), wall


def warm_overheads(options: list[str], rounds: int) -> None:
    """The main job cold and on ``zygarde up``'s services, alternating: each one's overhead (wall minus the
    search stage), medians and their ratio."""
    warm_dir = Path(tempfile.mkdtemp(prefix="zygarde-warm-"))
    _, up = run_main_job(warm_dir, [], "up")
    print(f"zygarde up: {up:.1f} s")
    overheads: dict[str, list[float]] = {"cold": [], "warm": []}
    try:
        for _ in range(rounds):
            for label in overheads:
                work_dir = warm_dir if label == "warm" else Path(tempfile.mkdtemp(prefix="zygarde-cold-"))
                summary, wall = run_main_job(work_dir, options)
                overheads[label].append(wall - summary["search_wall_seconds"])
                print(f"  {label}: wall {wall:.1f} s, search {summary['search_wall_seconds']:.1f} s, overhead "
                      f"{overheads[label][-1]:.1f} s", flush=True)  # fmt: skip
    finally:
        run_main_job(warm_dir, [], "down")
    cold, warm = (statistics.median(v) for v in overheads.values())
    print(f"median overhead over {rounds} rounds: cold {cold:.1f} s (target <= 12 s), on zygarde up's services "
          f"{warm:.1f} s (target <= 4 s); warm/cold {warm / cold:.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the K-fold CV of the chosen pipeline")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--warm", action="store_true", help="only: the overhead cold and on zygarde up's services")
    parser.add_argument("--rounds", type=int, default=3, help="with --warm: rounds of cold and warm runs")
    args = parse(parser, repeats=1, folds=2, rounds=1)
    repeats, folds = args.repeats, args.folds
    options = ["--trials", "1", "--cv", "2"] if args.quick else []  # the embedded default, unless quick
    if args.warm:
        warm_overheads(options, args.rounds)
        return
    summary, wall = run_main_job(Path(tempfile.mkdtemp(prefix="zygarde-main-job-")), options)
    print(f"zygarde run diabetes --json: {wall:.1f} s wall, cold start (target <= 60 s)")
    search = summary["search_wall_seconds"]
    print(f"  {summary['n_trials']} trials, search {search:.1f} s for {summary['trial_fit_seconds']:.1f} s of trials")
    print(f"  overhead (wall minus the search stage): {wall - search:.1f} s (target <= 12 s); the log's milestones:")
    for line in Path(summary["log_file"]).read_text().splitlines():
        if "zygarde." in line and " - " in line:
            print(f"    {line.split(' | ')[0][-12:]}  {line.rsplit(' - ', 1)[-1][:100]}")
    print(f"  chosen: {summary['best_algorithm']} {json.dumps(summary['best_params'])}")
    cv_metrics = summary["cv_metrics"]
    print(f"  cv on training split: roc_auc {cv_metrics['roc_auc']:.3f}, accuracy {cv_metrics['accuracy']:.3f}")
    test = summary["test_metrics"]
    print(f"  held-out test split: roc_auc {test['roc_auc']:.3f}, accuracy {test['accuracy']:.3f}")

    settings = get_settings()
    dataset = load_dataset("diabetes", data_root=settings.data_root)
    seed = settings.seed
    objective = CrossValidationObjective("classification", 2, folds, seed, dataset.zero_as_missing)
    X, y = dataset.frame[dataset.features], dataset.frame[dataset.target].to_numpy()
    data = TrialData(X, y, columns=dataset.columns)
    pipeline = objective.build_pipeline(TrialSpec(0, summary["best_algorithm"], summary["best_params"]), data)
    splits = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    scores = cross_validate(pipeline, X, y, cv=splits, scoring=["accuracy", "roc_auc"], n_jobs=2)
    print(f"{repeats}x{folds} repeated stratified CV of the chosen pipeline on all {len(y)} rows:")
    for name, aim in [("accuracy", 0.78), ("roc_auc", 0.84)]:
        values = np.asarray(scores[f"test_{name}"])
        verdict = "meets" if values.mean() >= aim else "below"
        print(f"  {name:9} {values.mean():.3f} +- {values.std():.3f}  ({verdict} the aim {aim})")


if __name__ == "__main__":
    main()
