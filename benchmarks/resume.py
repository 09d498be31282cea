"""Resume: the extra wall clock of a search killed mid-way (`kill -9` of its process and Dask workers) and
continued, over the same search uninterrupted. Each attempt is a process of its own driving a search of XGBoost
on a generated table (a few seconds a trial, 2 one-thread Dask workers), its trials as child runs in a SQLite
MLflow store and its finished CV folds as checkpoints, as `zygarde run` keeps them: by default a random search
(the same configurations in every attempt, so the two runs do the same work), or with `--search tpe` a TPE
search with its study in a journal file (its asks after the resume differ from the uninterrupted run's, so
the two also differ in which configurations, and so how long, they fit). The kill comes when K trials are
finished; the second attempt continues with what `--resume` uses (the finished child runs, the journal, and
the fold checkpoints: a trial the kill interrupted fits only its unfinished folds). Timed: the search itself
in each process (the Dask cluster's start-up and the workers' imports are not counted: the flow does both
while its services start, and both runs pay them alike per process). Printed: the uninterrupted search, the
killed attempt up to the kill, the resumed attempt, the extra (killed + resumed - uninterrupted) and a
trial's mean time, the trials finished before the kill and restored; then the median over the repeats.
Target (issue 13): extra < one trial.

Run: .venv/bin/python benchmarks/resume.py [--search random|tpe] [--no-checkpoints] [--trials 12] [--kill-after 5]
     [--rows 60000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _quick import parse

WARM = ("xgboost", "sklearn.ensemble", "zygarde.tabular.objective")  # the tabular family's warm modules, and ours


def attempt(folder: Path, trials: int, parent: str | None, search: str, checkpoints: bool) -> None:
    """One attempt of the search (a process of its own): writes its start, then its results, under ``folder``."""
    from zygarde.search.journal import Journal
    from zygarde.search.samplers.bayesian import TPESampler
    from zygarde.search.samplers.fixed import FixedSampler
    from zygarde.tables import read_table
    from zygarde.tabular.algorithms import ALGORITHMS
    from zygarde.tabular.catalog import plan_trials
    from zygarde.tabular.objective import TrialData
    from zygarde.tracking import ensure_experiment, start_parent_run

    table = read_table(folder / "table.parquet")
    data = TrialData(table.drop(columns="label"), table["label"].to_numpy())
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    experiment = ensure_experiment(uri, "resume")
    parent = parent or start_parent_run(uri, experiment, "search", {}, {})
    if search == "tpe":
        sampler = TPESampler({"xgboost": ALGORITHMS["xgboost"].distributions}, trials, "roc_auc", True, seed=0)
        sampler.persist(Journal(folder / f"{parent}.journal"))
    else:
        sampler = FixedSampler(plan_trials(["xgboost"], "random", trials, seed=0))
    _search(folder, data, sampler, uri, experiment, parent, checkpoints)


def _search(folder: Path, data: object, sampler: object, uri: str, experiment: str, parent: str, checkpoints: bool
            ) -> None:  # fmt: skip
    from distributed import Client

    from zygarde.orchestration import import_modules, local_cluster
    from zygarde.search.engine import DaskEngine
    from zygarde.tabular.objective import CrossValidationObjective
    from zygarde.tracking import TrialLogger, finished_trials

    with local_cluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as client:
        engine = DaskEngine(client)
        client.run(import_modules, WARM)  # as the flow warms its workers while its services start
        (folder / "started").write_text(json.dumps({"at": time.time(), "parent": parent}))
        started = time.perf_counter()
        objective = CrossValidationObjective("classification", 2, 3, 0)
        if checkpoints:
            objective = objective.with_checkpoints(str(folder / "folds"))
        results = engine.run(objective, sampler, data,
                             logger=TrialLogger(uri, experiment, parent),
                             completed=finished_trials(uri, experiment, parent))  # fmt: skip
        wall = time.perf_counter() - started
    (folder / "done").write_text(json.dumps({"wall": wall, "n": len(results), "parent": parent,
                                             "fit": [r.fit_seconds for r in results]}))  # fmt: skip


def _finished(folder: Path) -> int:
    from mlflow import MlflowClient

    try:
        runs = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_runs(["1"], "attributes.status = 'FINISHED'")
    except Exception:  # the store is still being created
        return 0
    return sum("mlflow.parentRunId" in r.data.tags for r in runs)


def _spawn(folder: Path, trials: int, search: str, checkpoints: bool, parent: str | None = None
           ) -> subprocess.Popen[bytes]:  # fmt: skip
    for name in ("started", "done"):
        (folder / name).unlink(missing_ok=True)
    args = [sys.executable, __file__, "--attempt", str(folder), "--trials", str(trials), "--search", search]
    args += [] if checkpoints else ["--no-checkpoints"]
    return subprocess.Popen(args + (["--parent", parent] if parent else []), start_new_session=True,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--kill-after", type=int, default=5)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--search", choices=["random", "tpe"], default="random")
    parser.add_argument("--no-checkpoints", action="store_true", help="without fold checkpoints, to see their part")
    parser.add_argument("--attempt", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--parent", help=argparse.SUPPRESS)
    args = parse(parser, trials=3, kill_after=1, rows=3_000, repeats=1)
    if args.attempt:
        attempt(args.attempt, args.trials, args.parent, args.search, not args.no_checkpoints)
        return
    from zygarde.synthetic import make_table
    from zygarde.tables import read_table

    shares = []
    with tempfile.TemporaryDirectory(prefix="zygarde-resume-") as scratch:
        table = read_table(Path(make_table(Path(scratch) / "t", args.rows, 20, seed=7).path))
        for repeat in range(args.repeats):
            shares.append(_once(Path(scratch) / str(repeat), table, args.trials, args.kill_after, args.search,
                                not args.no_checkpoints))  # fmt: skip
    print(f"median extra over {args.repeats} repeats: {statistics.median(shares):.2f} of a trial (target < 1)")


def _once(root: Path, table: object, trials: int, kill_after: int, search: str, checkpoints: bool) -> float:
    """One uninterrupted search and one killed and resumed; the extra wall clock, in trials."""
    whole, broken = root / "whole", root / "broken"
    for folder in (whole, broken):
        folder.mkdir(parents=True)
        table.to_parquet(folder / "table.parquet")  # type: ignore[attr-defined]
    _spawn(whole, trials, search, checkpoints).wait()
    uninterrupted = json.loads((whole / "done").read_text())
    first = _spawn(broken, trials, search, checkpoints)
    while _finished(broken) < kill_after:
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # the attempt and its Dask workers, at once
    killed_at = time.time()
    first.wait()
    started = json.loads((broken / "started").read_text())
    before = _finished(broken)
    _spawn(broken, trials, search, checkpoints, started["parent"]).wait()
    resumed = json.loads((broken / "done").read_text())
    trial = sum(uninterrupted["fit"]) / len(uninterrupted["fit"])
    lost = killed_at - started["at"]
    extra = lost + resumed["wall"] - uninterrupted["wall"]
    print(f"uninterrupted: {trials} trials in {uninterrupted['wall']:.1f} s ({trial:.1f} s a trial); killed after "
          f"{lost:.1f} s with {before} trials finished; resumed: {resumed['n']} trials ({before} restored) in "
          f"{resumed['wall']:.1f} s; extra {extra:.1f} s = {extra / trial:.2f} of a trial", flush=True)  # fmt: skip
    return extra / trial


if __name__ == "__main__":
    main()
