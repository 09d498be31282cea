"""The search engine on the session's real LocalCluster: child runs from the workers or from one draining thread."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from distributed import Client

from zygarde.search.engine import DaskEngine
from zygarde.search.journal import Journal
from zygarde.search.samplers.fixed import FixedSampler
from zygarde.search.trials import TrialSpec
from zygarde.tabular.objective import CrossValidationObjective, TrialData
from zygarde.tracking import TrialLogger, ensure_experiment, get_client, start_parent_run, writers_for


@pytest.mark.parametrize("writers", [1, 4], ids=["one-writer", "four-writers"])
def test_every_trial_is_a_child_run_with_its_scores(
    dask_address: str, tracking_uri: str, diabetes: pd.DataFrame, writers: int
) -> None:
    experiment = ensure_experiment(tracking_uri, "search-engine")
    parent = start_parent_run(tracking_uri, experiment, "parent", {}, {})
    logger = TrialLogger(tracking_uri, experiment, parent, writers=writers)
    objective = CrossValidationObjective("classification", 2, 3, 0)
    specs = [TrialSpec(i, "rf", {"n_estimators": 10 + i, "max_depth": 3}) for i in range(5)]
    specs.append(TrialSpec(5, "rf", {"max_depth": -1}))  # invalid: fails its trial, not the search
    data = TrialData(diabetes.drop(columns="Outcome"), diabetes["Outcome"].to_numpy())
    seen: list[int] = []
    with Client(dask_address) as client:
        workers = set(client.scheduler_info()["workers"])
        engine = DaskEngine(client)
        results = engine.run(
            objective, FixedSampler(specs), data, logger=logger, on_result=lambda r: seen.append(r.trial_id)
        )

    assert sorted(seen) == list(range(6))
    mlflow = get_client(tracking_uri)
    children = {
        run.info.run_id: run
        for run in mlflow.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'", max_results=100)
    }
    assert {r.run_id for r in results} == set(children)
    for result in results:
        child = children[result.run_id]
        assert child.data.tags["zygarde.worker"] in workers
        if result.error is None:
            assert child.info.status == "FINISHED"
            assert child.data.metrics["cv_roc_auc_mean"] == pytest.approx(result.scores["roc_auc"])
            assert child.data.params["n_estimators"] == str(result.params["n_estimators"])
        else:
            assert child.info.status == "FAILED" and "max_depth" in child.data.tags["zygarde.error"]
    assert sum(r.error is not None for r in results) == 1


def test_a_crash_between_the_journal_and_the_store_leaves_no_trial_untracked(
    dask_address: str, tracking_uri: str, diabetes: pd.DataFrame, tmp_path: Path
) -> None:
    """A kill after a result reached the study's journal and before its child run was complete: on resume the
    trial is not run again, and its child run is written (one the kill left RUNNING is completed, not twinned)."""
    from zygarde.search.engine import execute_trial
    from zygarde.search.samplers.bayesian import TPESampler
    from zygarde.tracking import finished_trials

    experiment = ensure_experiment(tracking_uri, "crash-between")
    parent = start_parent_run(tracking_uri, experiment, "parent", {}, {})
    logger = TrialLogger(tracking_uri, experiment, parent)
    objective = CrossValidationObjective("classification", 2, 3, 0)
    data = TrialData(diabetes.drop(columns="Outcome"), diabetes["Outcome"].to_numpy())
    spaces = {"rf": {"n_estimators": [5, 10, 20], "max_depth": [2, 3, 4]}}
    journal = Journal(tmp_path / "study.journal")
    first = TPESampler(spaces, 4, "roc_auc", True, seed=0)
    first.persist(journal)
    told = [execute_trial(objective, first.ask(), data) for _ in range(2)]
    for result in told:
        first.tell(result)  # in the journal; the store never heard of the first, the second was cut short:
    mlflow = get_client(tracking_uri)
    mlflow.create_run(experiment, tags={"mlflow.parentRunId": parent, "zygarde.trial_key": told[1].key})

    again = TPESampler(spaces, 4, "roc_auc", True, seed=0)
    again.persist(journal)
    with Client(dask_address) as client:
        results = DaskEngine(client).run(
            objective, again, data, logger=logger, completed=finished_trials(tracking_uri, experiment, parent)
        )
    children = mlflow.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'", max_results=100)
    assert len(results) == len(children) == 4 and {c.info.status for c in children} == {"FINISHED"}
    assert {c.data.tags["zygarde.trial_key"] for c in children} == {r.key for r in results}
    assert {r.trial_id for r in told} <= {r.trial_id for r in results[:2]}  # restored, not run again
    assert all("cv_roc_auc_mean" in c.data.metrics for c in children)
    assert set(finished_trials(tracking_uri, experiment, parent)) == {r.key for r in results}  # a next resume's view


@dataclass(frozen=True)
class _SaysIfItContinued(CrossValidationObjective):
    def grow(self, spec: TrialSpec, data: TrialData, state: Any) -> tuple[Any, ...]:
        mean, std, grown = super().grow(spec, data, state)
        return {**mean, "continued": float(state is not None)}, std, grown


def test_a_promoted_trial_continues_from_the_state_its_last_rung_left_on_a_worker(
    dask_address: str, tracking_uri: str, diabetes: pd.DataFrame
) -> None:
    import sys

    import cloudpickle

    from zygarde.search.schedulers.asha import ASHA

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import the tests
    objective = _SaysIfItContinued("classification", 2, 3, 0)
    data = TrialData(diabetes.drop(columns="Outcome"), diabetes["Outcome"].to_numpy())
    specs = [TrialSpec(i, "rf", {"max_depth": depth}) for i, depth in enumerate([2, 3, 4, 5, 6, 8, 10, 12, 3])]
    specs.append(TrialSpec(9, "rf", {"max_depth": -1}))  # fails on its first rung; the race goes on
    experiment = ensure_experiment(tracking_uri, "asha-rungs")
    parent = start_parent_run(tracking_uri, experiment, "parent", {}, {})
    logger = TrialLogger(tracking_uri, experiment, parent, writers=3)  # a trial's rungs go on in one run
    with Client(dask_address) as client:
        results = DaskEngine(client).run(objective, ASHA(specs, {"rf": [4, 12, 36]}, "roc_auc", True), data,
                                         logger=logger)  # fmt: skip
    assert {r.rung for r in results} == {0, 1, 2} and sum(r.error is not None for r in results) == 1
    assert all(r.scores["continued"] == float(r.rung > 0) for r in results if r.error is None)
    children = get_client(tracking_uri).search_runs([experiment], f"tags.mlflow.parentRunId = '{parent}'")
    assert len(children) == len(specs) and {r.run_id for r in results} == {c.info.run_id for c in children}


def test_sqlite_stores_are_written_by_one_thread_servers_by_several() -> None:
    assert writers_for("sqlite:////tmp/x/mlflow.db") == 1 and writers_for("http://127.0.0.1:5000") > 1


def test_workers_keep_glibcs_adaptive_allocator(dask_address: str) -> None:
    """Dask's MALLOC_TRIM_THRESHOLD_ freezes glibc's mmap threshold: half speed for batch-sized arrays."""
    import os

    with Client(dask_address) as client:
        seen = client.run(lambda: sorted(k for k in os.environ if k.startswith("MALLOC_")))
        threads = client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
    assert all(found == [] for found in seen.values()), seen
    assert set(threads.values()) == {"1"}  # the rest of the nanny's environment stays


def test_the_search_data_stays_on_every_worker(dask_address: str) -> None:
    """Dask's active memory manager would drop broadcast copies within its 2 s cycle, and with them the folds
    each worker prepared: the cluster's scheduler does not run it, so a copy outlives the cycle."""
    import numpy as np

    with Client(dask_address) as client:
        assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.extensions["amm"].running) is False
        data = client.scatter(np.zeros(100_000), broadcast=True, hash=False)
        time.sleep(2.5)  # one cycle of the manager, had it run
        assert len(client.who_has(data)[data.key]) == len(client.nthreads()) == 2


def _tabular_flow(dask_address: str, work_dir: object, monkeypatch: pytest.MonkeyPatch, **values: Any
                  ) -> tuple[Any, list[Any]]:  # fmt: skip
    """The tabular flow on the session's cluster, in a work dir of its own: its summary and its child runs."""
    from prefect_dask import DaskTaskRunner

    from zygarde.flows.tabular import train_tabular
    from zygarde.settings import get_settings
    from zygarde.tabular.config import parse_config

    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(work_dir))
    summary = train_tabular.with_options(task_runner=DaskTaskRunner(address=dask_address))(
        config=parse_config(cv=3, **values)
    )
    children = get_client(get_settings().mlflow_tracking_uri).search_runs(
        [summary.mlflow["experiment_id"]], f"tags.mlflow.parentRunId = '{summary.mlflow['parent_run_id']}'"
    )
    return summary, children


def test_a_tpe_search_runs_in_the_flow_with_unique_trials_as_child_runs(
    dask_address: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary, children = _tabular_flow(dask_address, tmp_path, monkeypatch, search="tpe", algorithms=["rf", "xgboost"],
                                      trials=4, seed=2, experiment="tpe-e2e")  # fmt: skip
    assert summary.n_trials == len(children) == 8
    drawn = {(c.data.tags["zygarde.algorithm"], tuple(sorted(c.data.params.items()))) for c in children}
    assert len(drawn) == 8 and all("cv_roc_auc_mean" in c.data.metrics for c in children)
    assert summary.best_algorithm in ("rf", "xgboost") and 0.6 < summary.test_metrics["roc_auc"] <= 1


def test_an_asha_search_grows_its_trials_one_child_run_each_and_registers_the_full_budget(
    dask_address: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zygarde.settings import get_settings

    summary, children = _tabular_flow(dask_address, tmp_path, monkeypatch, search="asha", algorithms=["rf", "linear"],
                                      trials=4, seed=1, experiment="asha-e2e")  # fmt: skip
    mlflow = get_client(get_settings().mlflow_tracking_uri)
    assert len(children) == 8 < summary.n_trials  # one child run per configuration, a result per rung
    outcomes = [c.data.tags["zygarde.halving"] for c in children]
    assert sum(o.startswith("ran the full budget") for o in outcomes) >= 1, outcomes  # one race, both families
    assert any(o.startswith("stopped after rung 0") for o in outcomes), outcomes
    climbs = [[m.step for m in mlflow.get_metric_history(c.info.run_id, "cv_roc_auc_mean")]
              for c in children if c.data.tags["zygarde.rung"] == "2"]  # fmt: skip
    assert all(steps[-1] in (300, 100) for steps in climbs)  # the full budget: 300 trees, or 100% of rows
    assert [33, 100, 300] in climbs or [11, 33, 100] in climbs, climbs  # one climbed from the first rung
    assert [300] in climbs or [100] in climbs, climbs  # one started on the full budget (Hyperband's last bracket)
    if summary.best_algorithm == "rf":
        assert summary.best_params["n_estimators"] == 300
    assert all(row.get("rung") == 2 for row in summary.leaderboard)  # compared on the full budget only
    metrics = mlflow.get_run(summary.mlflow["parent_run_id"]).data.metrics
    assert metrics["halving_configurations"] == 8 and metrics["halving_brackets"] == 3


def test_auto_tries_every_family_and_keeps_to_its_time_budget(
    dask_address: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zygarde.tabular.algorithms import ALGORITHMS
    from zygarde.tabular.family import SEARCH_SHARE

    summary, children = _tabular_flow(dask_address, tmp_path, monkeypatch, algorithms=["auto"], time_budget=20, seed=4,
                                      experiment="auto-e2e")  # fmt: skip
    assert {c.data.tags["zygarde.algorithm"] for c in children} == set(ALGORITHMS)
    longest = max(c.data.metrics["wall_seconds"] for c in children)
    facts = summary.search_facts
    assert facts["time_budget_seconds"] == pytest.approx(20 * SEARCH_SHARE)  # the rest: the ensemble and refit
    assert facts["budget_overshoot_seconds"] <= max(longest, 1.2) + 2.0, facts  # + the last child runs' logging
    # the whole budgeted part (search, ensemble, refit) ends within the budget and one trial
    assert summary.time_budget["used_seconds"] <= 20 + max(longest, 1.2) + 2.0, summary.time_budget
    assert summary.cv_to_test["metric"] == "roc_auc" and summary.validation == "3-fold CV"
    assert all(row["predict_us_per_row"] > 0 for row in summary.leaderboard)
    _the_report_opens_in_a_browser(summary.mlflow["parent_run_id"], len(children), Path(str(tmp_path)))


def _the_report_opens_in_a_browser(run_id: str, trials: int, folder: Path) -> None:
    """The report of a tabular run: every section, with numbers (the importance of the table's columns)."""
    import re

    from tests.helpers import report_in_browser

    dom = report_in_browser(run_id, folder, (
        "Test metrics (held-out rows)", "Data", "Class balance of Outcome", "Expectation suite",
        "Why the champion predicts what it does", "Importance: ",
        "How the champion errs (held-out rows)", "Per class", f"Leaderboard: roc_auc ({trials} trials)", "Progress",
        "Families", "Parameters", "Time, CPU and memory per stage"))  # fmt: skip
    for figure in ("explain/importance.png", "explain/partial_dependence.png", "plots/confusion_matrix.png",
                   "plots/roc_curve.png", "plots/precision_recall.png", "plots/calibration.png"):  # fmt: skip
        assert f'alt="{figure}"' in dom, figure
    importance = dom[dom.index("Importance: ") :]
    assert re.search(r"<td>Glucose</td>\s*<td>0\.\d+", importance), "the top feature's importance is a number"
    assert "learning_rate=0.0140499" not in dom  # configurations print rounded
