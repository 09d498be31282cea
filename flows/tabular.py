"""The tabular training flow."""

from __future__ import annotations

from prefect import flow

from zygarde.tabular.config import TabularRunConfig
from zygarde.tabular.family import TabularSummary, tabular_family

from .hooks import TRAINING_HOOKS
from .pipeline import dask_task_runner, train


@flow(name="train-tabular", task_runner=dask_task_runner(), log_prints=True, **TRAINING_HOOKS)
def train_tabular(config: TabularRunConfig = TabularRunConfig()) -> TabularSummary:  # noqa: B008 (form default)
    """Train the best model for a table.

    Steps: load -> validate (great-expectations) -> hold out a test split -> search every algorithm x
    configuration with K-fold CV (one task; trials are Dask futures) -> refit the best on the training split
    -> score it on the test split -> register it in MLflow, moving `champion` only if it is better there.
    A Parquet table beyond a quarter of the memory budget trains XGBoost out of core, on hold-out parts.
    """
    return train(tabular_family(config))
