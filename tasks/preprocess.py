"""Stage 2: set the stratified test split aside before any search."""

from __future__ import annotations

from prefect import task

from zygarde.config import TabularRunConfig
from zygarde.datasets import TabularDataset
from zygarde.preprocess import HoldoutSplit, split_holdout
from zygarde.tracking import RunContext, log_metrics

from ._stage import stage


@task(name="split", task_run_name="hold out {config.test_size} of {dataset.name}")
def split_data(dataset: TabularDataset, config: TabularRunConfig, run: RunContext) -> HoldoutSplit:
    """Hold out the test split (seeded); the search only ever sees the training part."""
    with stage("split", run):
        split = split_holdout(dataset, config.test_size, config.seed, config.cv)
    log_metrics(run.tracking_uri, run.run_id, {"rows_train": len(split.X_train), "rows_test": len(split.X_test)})
    return split
