"""Stage 4: refit the best configuration on the whole training split and score it on the test split."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_table_artifact
from sklearn.pipeline import Pipeline

from zygarde.evaluate import evaluate_model, leaderboard
from zygarde.objectives import CrossValidationObjective
from zygarde.preprocess import HoldoutSplit
from zygarde.search import best_result
from zygarde.tracking import RunContext, log_figure, log_json, log_metrics
from zygarde.trials import SearchOutcome, TrialResult

from ._stage import stage


@task(name="evaluate", task_run_name="evaluate the best of {objective.metric}")
def evaluate(
    split: HoldoutSplit, objective: CrossValidationObjective, outcome: SearchOutcome, run: RunContext
) -> tuple[Pipeline, TrialResult, dict[str, float]]:
    """Refit the winner, log test metrics and plots, publish the leaderboard; returns (model, best, metrics)."""
    best = best_result(outcome.results, objective.metric, objective.greater_is_better)
    with stage("evaluate", run):
        model = objective.build_pipeline(best, split.X_train).fit(split.X_train, split.y_train)
        evaluation = evaluate_model(model, split, objective.task)
    board = leaderboard(outcome.results, objective.metric, objective.greater_is_better)
    log_metrics(
        run.tracking_uri,
        run.run_id,
        {
            **{f"test_{k}": v for k, v in evaluation.metrics.items()},
            **{f"best_cv_{k}_mean": v for k, v in best.cv_mean.items()},
        },
    )
    for artifact_file, figure in evaluation.figures.items():
        log_figure(run.tracking_uri, run.run_id, figure, f"plots/{artifact_file}")
    log_json(run.tracking_uri, run.run_id, board.to_dict(orient="records"), "leaderboard.json")
    log_json(
        run.tracking_uri,
        run.run_id,
        {
            "algorithm": best.algorithm,
            "params": best.params,
            "trial_id": best.trial_id,
            "child_run_id": best.run_id,
            "cv_metrics": best.cv_mean,
            "test_metrics": evaluation.metrics,
            "classes": split.classes,
        },
        "best.json",
    )
    create_table_artifact(
        key="leaderboard",
        table=board.round(4).to_dict(orient="records"),
        description=f"Best trials by CV {objective.metric} (training split)",
    )
    return model, best, evaluation.metrics
