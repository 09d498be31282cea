"""Vision: a CNN on an image folder (one subfolder per class). Configurations race by successive halving on
epochs; the winner is trained data-parallel on the Dask workers and scored once on the test images."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from zygarde.digests import digest
from zygarde.explain import DEFAULT_SECONDS, Explanation
from zygarde.explain.data import data_profile
from zygarde.explain.vision import explain_images
from zygarde.family import ChampionRule, DataInput, Evaluation, Identity, Plan, Prepared, Trained, slug
from zygarde.search.factory import make_sampler
from zygarde.search.trials import TrialResult, TrialSpec, best_result, leaderboard, on_top_rung
from zygarde.settings import get_settings
from zygarde.summary import FlowSummary
from zygarde.validation import ValidationReport, run_suite
from zygarde.vision.config import VisionRunConfig
from zygarde.vision.data import HeldOutImages, ImageData, split_images
from zygarde.vision.evaluate import accuracy, confusion_figure, probabilities, sample_figure, score_predictions
from zygarde.vision.manifest import (
    SHIRTS,
    ImageManifest,
    build_manifest,
    check_classes,
    check_folder,
    image_suite,
    inspect_images,
    inspect_on_cluster,
    manifest_frames,
)
from zygarde.vision.model import Normalized, build_model
from zygarde.vision.parallel import run_on_workers
from zygarde.vision.search import VisionObjective, epoch_budgets, plan_vision_trials
from zygarde.vision.train import check_batch_size, train_rank

SCORED_ON = "validation split (part of the training split)"


class VisionSummary(FlowSummary):
    """Outcome of ``train_vision``: validation metrics of the search winner, test metrics of the final model."""

    dataset: str
    class_names: list[str]
    image_size: int
    n_train: int
    n_val: int
    n_test: int
    best_params: dict[str, Any]
    val_metrics: dict[str, float]
    test_metrics: dict[str, float]
    quarantined: dict[str, Any]


class VisionFamily:
    """The CNN search and data-parallel training over one image folder."""

    kind: ClassVar[str] = "vision"
    warm_modules: ClassVar[tuple[str, ...]] = (
        "torch.distributed",
        "torchvision",
    )
    registry_modules: ClassVar[tuple[str, ...]] = (
        "mlflow.pytorch",
        "matplotlib.pyplot",
    )
    summary_type: ClassVar[type[BaseModel]] = VisionSummary

    def __init__(self, config: VisionRunConfig) -> None:
        self.config = config

    @property
    def root(self) -> Path:
        """The folder of the built-in image set (``shirts``) or the user's folder."""
        dataset = self.config.dataset
        return get_settings().data_root / SHIRTS if dataset == SHIRTS else Path(dataset).expanduser()

    def data_paths(self) -> list[Path]:
        """The user's folder (none for the built-in)."""
        return [] if self.config.dataset == SHIRTS else [self.root]

    def preflight(self) -> None:
        """The folder, its classes and their sizes, without decoding an image."""
        check_folder(self.root)

    def describe(self) -> str | None:
        """Nothing to say before the run: it does what the user asked."""
        return None

    def load(self, client: Any = None) -> ImageManifest:
        """Every file's class, split, size, mode and decodability (decoded on ``client``'s workers, when given);
        at least two classes with readable images."""
        inspect = partial(inspect_on_cluster, client) if client is not None else inspect_images
        manifest = build_manifest(self.root, inspect)
        check_classes(manifest)
        return manifest

    def identify(self, manifest: ImageManifest) -> Identity:
        """Models of the same classes at the same image size compete; the shipped set is ``zygarde-shirts``."""
        name = Path(str(manifest.root)).name.lower() or "images"
        registry = f"zygarde-{slug(name)}"
        if self.config.dataset != SHIRTS or self.config.image_size != 28:
            registry += "-" + digest([*manifest.class_names, str(self.config.image_size)], 8)
        return Identity(name, str(manifest.root), registry, {"classes": ",".join(manifest.class_names)})

    def validate(self, manifest: ImageManifest, expectations_dir: Path) -> ValidationReport:
        """The manifest's suite; quarantined files are listed (MLflow JSON, Prefect table), never fatal alone."""
        frames, suites = manifest_frames(manifest), image_suite()
        reports = [run_suite(frames[key], {"name": f"images-{key}", "expectations": suites[key]}) for key in suites]
        quarantined = manifest.quarantined[["path", "label", "bytes", "problem"]].to_dict(orient="records")
        return ValidationReport(
            suite="images",
            evaluated=sum(r.evaluated for r in reports),
            failures=[f for r in reports for f in r.failures],
            artifacts={"validation/quarantined.json": quarantined},
            facts={"n_files": len(manifest.frame), "n_quarantined": len(quarantined)},
            tables={"quarantined-images": ("Skipped files, and why", quarantined)},
        )

    def prepare(self, manifest: ImageManifest) -> Prepared[ImageData, HeldOutImages]:
        """Stratified splits, decoded and resized once; normalisation statistics from the training split."""
        config = self.config
        data, test = split_images(manifest, config.image_size, config.seed, config.test_size,
                                  max_per_class=config.max_per_class)  # fmt: skip
        facts: dict[str, float] = {"n_train": len(data.train_y), "n_val": len(data.val_y), "n_test": len(test.y),
                 "channels": data.channels}  # fmt: skip
        normalisation = {"mean": data.mean.tolist(), "std": data.std.tolist(), "from": "training split"}
        # the image folder's manifest (path, class, split, size, decodable) is the dataset MLflow shows
        inputs = [DataInput(manifest.frame, manifest.root.name, str(manifest.root), "label")]
        artifacts = {"preprocess/normalisation.json": normalisation,
                     "data/profile.json": data_profile(manifest.frame, "label", "classification")}  # fmt: skip
        return Prepared(data, test, facts, artifacts, inputs)

    def plan(self, prepared: Prepared[ImageData, Any]) -> Plan:
        """Configurations raced by asynchronous successive halving on epochs (rungs at a quarter, a half, all):
        a promoted network trains on from where its last rung stopped."""
        config, n_train = self.config, len(prepared.search.train_y)
        specs = plan_vision_trials(config.search, config.trials, config.seed, n_train, config.arch)
        if config.batch_size is not None:
            check_batch_size(config.batch_size, n_train)
            specs = [TrialSpec(s.trial_id, s.algorithm, {**s.params, "batch_size": config.batch_size}) for s in specs]
        objective = VisionObjective(seed=config.seed, epochs=config.epochs)
        sampler = make_sampler("asha", spaces={}, draw=lambda _: specs, n_trials=len(specs), metric=objective.metric,
                               greater_is_better=True, seed=config.seed,
                               budgets={config.arch: epoch_budgets(config.epochs)})  # fmt: skip
        return Plan(objective, sampler, scored_on=SCORED_ON, cv_names=False)

    def select(self, results: list[TrialResult], prepared: Prepared[Any, Any]) -> TrialResult:
        """The best validation accuracy on the highest rung reached: configurations compare on the same budget."""
        return best_result(results, "val_accuracy", True, on_top_rung(results))

    def finalize(self, prepared: Prepared[ImageData, Any], best: TrialResult, client: Any) -> Trained:
        """Refit the winner on training + validation rows for the epochs its search run needed to peak,
        data-parallel (torch.distributed, gloo), one rank per Dask worker."""
        data, config = prepared.search, self.config
        epochs = int(best.scores.get("best_epoch", config.epochs))
        params = {**best.params, "epochs": epochs, "early_stopping": False}
        final = data.with_validation_in_training()
        results = run_on_workers(client, train_rank, config.processes, final, params, config.seed)
        state, history = results[0]
        model = build_model(params, data.channels, len(data.class_names), data.size)
        model.load_state_dict(state)
        facts = {"final_processes": len(results), "final_epochs": epochs, "final_train_rows": len(final.train_y),
                 "final_images_per_second": sum(h.images_per_second for _, h in results)}  # fmt: skip
        # validation rows are training rows now: no validation curve
        curves = {f"final_{name}": history.curves[name] for name in ("train_loss", "train_accuracy")}
        artifacts = {"final_training.json": {"params": params, "curves": history.curves}}
        return Trained(Normalized(model, final.mean, final.std), facts, artifacts, curves)

    def evaluate(
        self, model: Any, prepared: Prepared[ImageData, HeldOutImages], best: TrialResult, results: list[TrialResult]
    ) -> Evaluation:
        """Test accuracy, per-class precision/recall, confusion matrix, sample predictions (mistakes first)."""
        test = prepared.evaluation
        proba = probabilities(model, test)
        predicted = proba.argmax(1)
        metrics, per_class = score_predictions(predicted, test)
        board = leaderboard(results, "val_accuracy", True).to_dict(orient="records")
        return Evaluation(
            metrics,
            figures={
                "plots/confusion_matrix.png": confusion_figure(test.y.numpy(), predicted, test.class_names),
                "plots/predictions.png": sample_figure(test, predicted, proba),
            },
            json={"per_class.json": per_class, "leaderboard.json": board},
            tables={
                "test-per-class": ("Test split: precision and recall per class", per_class),
                "leaderboard": ("Best trials by validation accuracy", board),
            },
        )

    def explain(
        self, model: Any, prepared: Prepared[ImageData, HeldOutImages], best: TrialResult, results: list[TrialResult]
    ) -> Explanation:
        """Grad-CAM on the most confident right and wrong test images (``zygarde.explain.vision``)."""
        test = prepared.evaluation
        return explain_images(model, test, probabilities(model, test), DEFAULT_SECONDS)

    def champion_rule(self, prepared: Prepared[Any, Any]) -> ChampionRule:
        """Accuracy on the test images."""
        return ChampionRule("accuracy", True, "test split")

    def score(self, model: Any, prepared: Prepared[Any, HeldOutImages]) -> float:
        """Accuracy of a registered-style model on this run's test images."""
        return accuracy(model, prepared.evaluation)

    def log_model(self, model: Any, prepared: Prepared[ImageData, Any], tracking_uri: str, run_id: str) -> str:
        """The network (normalisation inside) with ``mlflow.pytorch``; input example: 4 training images."""
        from zygarde.vision.registered import log_torch

        example = (prepared.search.train_x[:4].float() / 255).numpy()
        return log_torch(tracking_uri, run_id, model, example)

    def load_model(self, model_uri: str) -> Any:
        """A registered network, on the CPU."""
        import mlflow.pytorch

        return mlflow.pytorch.load_model(model_uri, map_location="cpu")

    def reference(self, prepared: Prepared[Any, Any]) -> None:
        """Image drift is not measured (no tabular features to compare)."""
        return None

    def summarize(
        self,
        manifest: ImageManifest,
        prepared: Prepared[ImageData, HeldOutImages],
        best: TrialResult,
        evaluation: Evaluation,
        results: list[TrialResult],
    ) -> dict[str, Any]:
        """The vision fields of the summary."""
        data = prepared.search
        quarantined = manifest.quarantined[["path", "problem"]].to_dict(orient="records")
        return {
            "dataset": self.identify(manifest).dataset,
            "class_names": manifest.class_names,
            "image_size": self.config.image_size,
            "n_train": len(data.train_y),
            "n_val": len(data.val_y),
            "n_test": len(prepared.evaluation.y),
            "best_params": best.params,
            "val_metrics": best.scores,
            "test_metrics": evaluation.metrics,
            "quarantined": {"count": len(quarantined), "files": quarantined},
        }
