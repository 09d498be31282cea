"""MLflow tracking: the store (``store``), a flow's parent run (``runs``), and the trials' child runs
(``trials``). The public names of each are re-exported here."""

from zygarde.tracking.runs import (
    RESUMABLE,
    RUN_KEY_TAG,
    RunContext,
    check_resumable,
    end_run,
    reopen_run,
    run_params,
    start_parent_run,
)
from zygarde.tracking.store import (
    default_artifact_root,
    ensure_experiment,
    fluent_tracking_uri,
    get_client,
    log_curves,
    log_dataset,
    log_figure,
    log_files,
    log_json,
    log_metrics,
    log_outputs,
    log_table,
    log_tags,
    log_text,
    temp_dir,
)
from zygarde.tracking.trials import TrialLogger, finished_trials, writers_for

__all__ = [
    "RESUMABLE", "RUN_KEY_TAG", "RunContext", "TrialLogger", "check_resumable", "default_artifact_root",
    "end_run", "ensure_experiment", "finished_trials", "fluent_tracking_uri", "get_client", "log_curves", "log_dataset",
    "log_figure", "log_files", "log_json", "log_metrics", "log_outputs", "log_table", "log_tags", "log_text",
    "reopen_run", "run_params", "start_parent_run", "temp_dir", "writers_for",
]  # fmt: skip
