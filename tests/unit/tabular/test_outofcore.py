"""The out-of-core path's pieces: sizes, the budget's shares, a row split that does not depend on batching,
and an XGBoost booster trained from Parquet batches through external memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zygarde.errors import ZygardeError
from zygarde.memory import BATCH_SHARE, WORKER_BYTES, MemoryBudget, check_floor, parse_size, services_floor
from zygarde.synthetic import make_table
from zygarde.tabular.outofcore.boosting import train_booster
from zygarde.tabular.outofcore.parquet import ParquetSplit, ParquetTable, class_values, count_parts


def test_sizes_read_as_spark_and_dask_write_them() -> None:
    assert parse_size("2GiB") == parse_size("2g") == 2 * 2**30
    assert parse_size("800MB") == 800 * 10**6 and parse_size("1.5 g") == int(1.5 * 2**30)
    with pytest.raises(ZygardeError, match=r"memory_limit.*'lots' is not a size; write it like 2GiB"):
        parse_size("lots")


def test_the_budget_is_shared_by_the_workers_and_bounds_batches_and_spark() -> None:
    budget = MemoryBudget(services_floor(2) + 2**31, workers=2)  # 2 GiB for data above the processes' floor
    assert budget.data_per_worker == 2**30 and budget.per_worker == WORKER_BYTES + 2**30
    assert budget.spark_driver_memory() == "512m" and budget.batch_rows(21) == 2**30 // BATCH_SHARE // (4 * 21)
    assert MemoryBudget(services_floor(2), 2).batch_rows(21) == 10_000  # floor
    assert MemoryBudget(2**40, 1).batch_rows(5) == 1_000_000  # ceiling


def test_a_budget_below_what_zygardes_own_processes_need_is_refused() -> None:
    check_floor(services_floor(2), 2)
    with pytest.raises(ZygardeError, match=r"memory.limit 1.0 GiB is below what zygarde's own processes need"):
        check_floor(2**30, 2)


def _split(path: Path, batch_rows: int) -> ParquetSplit:
    table = ParquetTable.scan(path)
    features = tuple(c for c in table.columns if c != "label")
    return ParquetSplit(table.files, features, "label", "classification", class_values(table, "label"), 3, 0.2, 0.1,
                        batch_rows, str(path.parent / "scratch"), table.rows)  # fmt: skip


def test_each_row_lands_in_one_part_whatever_the_batch_size(tmp_path: Path) -> None:
    make_table(tmp_path / "t", 30_000, 4, seed=1, rows_per_part=10_000)
    small, large = _split(tmp_path / "t", 10_000), _split(tmp_path / "t", 25_000)
    for part in ("train", "validation", "test"):
        a = np.concatenate([X for X, _ in small.batches(part)])  # type: ignore[arg-type]
        b = np.concatenate([X for X, _ in large.batches(part)])  # type: ignore[arg-type]
        np.testing.assert_array_equal(a, b)
    counts = count_parts(small)
    assert sum(counts.values()) == 30_000
    assert abs(counts["test"] / 30_000 - 0.2) < 0.02 and abs(counts["validation"] / 30_000 - 0.1) < 0.02
    fit = sum(len(y) for _, y in small.batches("fit"))
    assert fit == counts["train"] + counts["validation"]


def test_a_booster_trained_from_parquet_batches_scores_as_one_trained_in_memory(tmp_path: Path) -> None:
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    make_table(tmp_path / "t", 40_000, 10, seed=2, rows_per_part=10_000)
    split = _split(tmp_path / "t", 10_000)
    params = {"n_estimators": 30, "max_depth": 3}
    booster = train_booster(split, "train", params, nthread=1)
    y, proba = split.predict(booster, "validation")
    X_train, y_train = (np.concatenate(a) for a in zip(*split.batches("train"), strict=True))
    in_memory = xgb.XGBClassifier(**params, tree_method="hist", n_jobs=1).fit(X_train, y_train)
    X_valid = np.concatenate([X for X, _ in split.batches("validation")])
    expected = roc_auc_score(y, in_memory.predict_proba(X_valid)[:, 1])
    assert proba.shape == (len(y), 2) and expected > 0.7
    assert abs(roc_auc_score(y, proba[:, 1]) - expected) < 0.01
    assert any(p.name.startswith("xgb-cache-") for p in (tmp_path / "scratch").iterdir())  # pages on disk


def test_k_folds_cut_the_non_test_rows_into_equal_slices(tmp_path: Path) -> None:
    from dataclasses import replace

    make_table(tmp_path / "t", 20_000, 3, seed=4, rows_per_part=10_000)
    split = replace(_split(tmp_path / "t", 10_000), validation_size=0.0, folds=4)
    test = sum(len(y) for _, y in split.batches("test"))
    sizes = [sum(len(y) for _, y in split.batches(f"validation:{k}")) for k in range(4)]
    assert sum(sizes) == 20_000 - test and max(sizes) - min(sizes) < 0.1 * min(sizes)
    for k in range(4):
        assert sum(len(y) for _, y in split.batches(f"train:{k}")) + sizes[k] == 20_000 - test


def test_out_of_core_k_fold_trials_keep_their_finished_folds(tmp_path: Path) -> None:
    """The folds a crash interrupted are not trained again: a kept fold is read back, a missing one trained."""
    import json
    from dataclasses import replace

    from zygarde.search.trials import TrialSpec
    from zygarde.tabular.outofcore.family import HoldoutObjective

    make_table(tmp_path / "t", 12_000, 3, seed=5, rows_per_part=6_000)
    split = replace(_split(tmp_path / "t", 6_000), validation_size=0.0, folds=3)
    objective = HoldoutObjective("classification", 2, 3).with_checkpoints(str(tmp_path / "folds"))
    spec = TrialSpec(0, "xgboost", {"n_estimators": 10, "max_depth": 2})
    mean, _ = objective(spec, split)
    files = sorted((tmp_path / "folds").glob("*.json"))
    before = [json.loads(f.read_text())["roc_auc"] for f in files]
    assert len(files) == 3 and mean["roc_auc"] == pytest.approx(np.mean(before))
    files[0].write_text(json.dumps({**json.loads(files[0].read_text()), "roc_auc": 0.0}))
    files[2].unlink()
    again, _ = objective(spec, split)
    assert [json.loads(f.read_text())["roc_auc"] for f in files] == [0.0, before[1], before[2]]
    assert again["roc_auc"] == pytest.approx((before[1] + before[2]) / 3)


def test_auto_out_of_core_is_a_tpe_search_of_xgboost_within_its_time_budget(tmp_path: Path) -> None:
    """It was a 10-trial random search that ignored --time-budget, and the terminal did not say so."""
    from zygarde.search.samplers.auto import AutoSampler
    from zygarde.tabular.config import parse_config
    from zygarde.tabular.family import tabular_family
    from zygarde.tabular.outofcore.family import LargeTabularFamily

    make_table(tmp_path / "t", 20_000, 4, seed=2, rows_per_part=10_000)
    at_floor = f"{services_floor(2) // 2**20}MiB"  # nothing left for data: out of core
    config = parse_config(dataset=str(tmp_path / "t"), target="label", memory_limit=at_floor, algorithms=["auto"],
                          time_budget=30, seed=0)  # fmt: skip
    family = tabular_family(config)
    assert isinstance(family, LargeTabularFamily)
    assert "algorithms auto: xgboost is the one family that trains out of core" in family.describe()
    assert "for 30 s" in family.describe()
    plan = family.plan(family.prepare(family.load()))
    assert isinstance(plan.sampler, AutoSampler) and list(plan.sampler.spaces) == ["xgboost"]
    assert plan.sampler.budget_seconds == 30 and plan.sampler.extent == "for 30 s"
