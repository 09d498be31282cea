"""The vision flow: manifest -> validate -> split -> race CNNs (Dask futures) -> data-parallel training ->
evaluate -> register."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from zygarde.config import VisionRunConfig
from zygarde.search import best_result, halving_trials
from zygarde.summary import VisionSummary, finished
from zygarde.tasks.search import search_trials
from zygarde.tasks.track import close_run, open_run
from zygarde.tasks.vision import (
    evaluate_network,
    prepare_images,
    quarantine_summary,
    register_network,
    scan_images,
    train_final,
    validate_manifest,
)
from zygarde.trials import TrialResult, TrialSpec
from zygarde.vision import VisionObjective, check_batch_size, plan_vision_trials

from .tabular import dask_task_runner


def epoch_budgets(epochs: int) -> list[int]:
    """Successive-halving rungs up to ``epochs``: a quarter, a half, all (deduplicated)."""
    return sorted({max(1, epochs // 4), max(1, epochs // 2), epochs})


@flow(name="train-vision", task_runner=dask_task_runner(), log_prints=True)
def train_vision(config: VisionRunConfig = VisionRunConfig()) -> VisionSummary:  # noqa: B008 (form default)
    """Train the best CNN for a folder of images (one subfolder per class; default: the shipped shirts).

    Steps: manifest every file (corrupt/empty/non-image files quarantined) -> validate (great-expectations)
    -> stratified splits, normalisation from the training split -> race CNN configurations by successive
    halving on epochs (trials are Dask futures) -> train the winner data-parallel (torch.distributed, one
    rank per Dask worker) -> test metrics and plots -> register, moving `champion` only if it is better.
    """
    manifest = scan_images(config)
    name = Path(str(manifest.root)).name.lower() or "images"
    run = open_run(config, name, str(manifest.root), {"classes": ",".join(manifest.class_names)})
    try:
        validate_manifest(manifest, run)
        data = prepare_images(manifest, config, run)
        specs = plan_vision_trials(config.search, config.trials, config.seed, len(data.train_y), config.arch)
        if config.batch_size is not None:
            check_batch_size(config.batch_size, len(data.train_y))
            specs = [TrialSpec(s.trial_id, s.algorithm, {**s.params, "batch_size": config.batch_size}) for s in specs]
        budgets = epoch_budgets(config.epochs)
        objective = VisionObjective(seed=config.seed)
        logger = run.trial_logger(scored_on="validation split (part of the training split)", cv_names=False)
        total = halving_trials(len(specs), len(budgets))
        outcome = search_trials.submit(data, objective, specs, run, logger, total, budgets).result()
        best = _best_of_last_rung(outcome.results)
        model = train_final.submit(data, best, config, config.processes, run).result()  # on a worker: ranks beside it
        metrics = evaluate_network(model, data, run)
        registered = register_network(model, data, metrics["accuracy"], f"zygarde-{name}", run)
    except BaseException:
        close_run(run, "FAILED")
        raise
    close_run(run, "FINISHED")
    return VisionSummary(
        dataset=name,
        class_names=manifest.class_names,
        image_size=config.image_size,
        n_train=len(data.train_y),
        n_val=len(data.val_y),
        n_test=len(data.test_y),
        best_params={k: v for k, v in best.params.items() if k != "rung"},
        val_metrics=best.cv_mean,
        test_metrics=metrics,
        quarantined=quarantine_summary(manifest),
        **finished(outcome, run, registered),
    )


def _best_of_last_rung(results: list[TrialResult]) -> TrialResult:
    """The best trial of the highest rung reached: configurations compare on the same budget."""
    top = max((r.params.get("rung", 0) for r in results if r.error is None), default=0)
    return best_result([r for r in results if r.params.get("rung", 0) == top], "val_accuracy", True)
