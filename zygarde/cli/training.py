"""The training commands (``run``, ``cluster``, ``vision``): each turns its options into its kind's config
(``zygarde.families``) and launches it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from zygarde.cli.common import AsJson, Experiment, Profile, Seed, Verbose, read_space, seconds, split_list
from zygarde.cli.launch import launch
from zygarde.families import FAMILIES
from zygarde.settings import Settings

commands = typer.Typer()


@commands.command(rich_help_panel="Train")
def run(
    dataset: Annotated[str, typer.Argument(help="Built-in dataset name (diabetes).")] = "diabetes",
    data: Annotated[Path | None, typer.Option(help="Your own CSV or Parquet file (instead of a built-in).")] = None,
    target: Annotated[str | None, typer.Option(help="Column to predict (required with --data).")] = None,
    name: Annotated[
        str | None, typer.Option(help="What --data is a batch of (a built-in's name: its target, suite, champion).")
    ] = None,
    task: Annotated[str, typer.Option(help="auto | classification | regression")] = "auto",
    algorithms: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated: rf,gbt,xgboost (the default), extratrees, lightgbm, hgb, linear, or auto (all, "
            "chosen by cost for improvement); Spark: rf,gbt (default), xgboost"
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="dask (scikit-learn, XGBoost) | spark (MLlib, xgboost.spark); default ZYGARDE_ENGINE or dask"
        ),
    ] = None,
    ensemble: Annotated[
        bool | None,
        typer.Option(
            "--ensemble/--no-ensemble",
            help="A weighted ensemble of the best trials competes with them (default: on with --algorithms auto)",
        ),
    ] = None,
    search: Annotated[
        str,
        typer.Option(
            help="grid | random | tpe (Bayesian optimisation, Optuna) | gp (the same by a Gaussian process: one "
            "algorithm, a numeric space) | asha (successive halving)"
        ),
    ] = "random",
    trials: Annotated[int, typer.Option(help="Random search: configurations per algorithm.")] = 10,
    brackets: Annotated[
        int, typer.Option(help="asha: Hyperband's brackets, 1-3 (3: a hedge for slow learners; 1: quicker)")
    ] = 3,
    cv: Annotated[
        int | None, typer.Option(help="Cross-validation folds (default 5; out of core: a hold-out part unless given)")
    ] = None,
    test_size: Annotated[float, typer.Option(help="Held-out test share.")] = 0.2,
    time_budget: Annotated[
        str | None,
        typer.Option(help="With --algorithms auto: how long the search may take (120s, 2m, 1h); no trial starts after"),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            help="Memory zygarde may use (2GiB, 800MB), split between the Dask workers; a Parquet table over a "
            "too large to train in memory within it trains out of core. Default ZYGARDE_MEMORY_LIMIT, else what is "
            "free."
        ),
    ] = None,
    seed: Seed = None,
    space: Annotated[Path | None, typer.Option(help="YAML: {algorithm: {param: [values]}} replacing a space.")] = None,
    resume: Annotated[
        str | None,
        typer.Option(help="MLflow run id of a search that stopped: continue it (same arguments); done trials are kept"),
    ] = None,
    experiment: Experiment = None,
    profile: Profile = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Validate, search, evaluate and register the best model for a dataset (the main job)."""

    def values(settings: Settings) -> dict[str, Any]:
        if memory_limit:  # the local cluster's workers share it
            os.environ["ZYGARDE_MEMORY_LIMIT"] = memory_limit
        return {
            **run_values(settings, data or dataset, seed, experiment, profile),
            "name": name,
            "target": target,
            "task": task,
            **({"algorithms": split_list(algorithms)} if algorithms else {}),
            "engine": engine or settings.engine,
            "ensemble": ensemble,
            "search": search,
            "trials": trials,
            "brackets": brackets,
            **({"cv": cv} if cv is not None else {}),
            "test_size": test_size,
            "memory_limit": memory_limit or settings.memory_limit,
            "time_budget": seconds(time_budget, "time_budget") if time_budget else None,
            "space": read_space(space),
            "resume": resume,
        }

    launch(FAMILIES["tabular"], values, as_json=as_json, verbose=verbose)


@commands.command("cluster", rich_help_panel="Train")
def cluster_command(
    dataset: Annotated[str, typer.Argument(help="Built-in table name (fastfood).")] = "fastfood",
    data: Annotated[Path | None, typer.Option(help="Your own CSV or Parquet file (instead of a built-in).")] = None,
    restaurant: Annotated[
        str, typer.Option(help="Rows of this restaurant (tables with that column); all: every row.")
    ] = "Burger King",
    features: Annotated[str, typer.Option(help="Comma-separated numeric columns (default: all numeric).")] = "",
    algorithms: Annotated[
        str, typer.Option(help="Comma-separated: kmeans,dbscan,agglomerative")
    ] = "kmeans,dbscan,agglomerative",
    search: Annotated[str, typer.Option(help="grid | random")] = "grid",
    trials: Annotated[int, typer.Option(help="Random search: configurations per algorithm.")] = 10,
    max_clusters: Annotated[int, typer.Option(help="Search cluster counts 2..N.")] = 8,
    preset: Annotated[str, typer.Option(help="none | study (K-means k=2 on total_fat, total_carb)")] = "none",
    seed: Seed = None,
    experiment: Experiment = None,
    profile: Profile = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Cluster a table (default: the Burger King menu) with K-means, DBSCAN and Agglomerative in parallel."""

    def values(settings: Settings) -> dict[str, Any]:
        return {
            **run_values(settings, data or dataset, seed, experiment, profile),
            "restaurant": restaurant,
            "features": split_list(features),
            "algorithms": split_list(algorithms),
            "search": search,
            "trials": trials,
            "max_clusters": max_clusters,
            "preset": preset,
        }

    launch(FAMILIES["cluster"], values, as_json=as_json, verbose=verbose)


@commands.command("vision", rich_help_panel="Train")
def vision_command(
    dataset: Annotated[str, typer.Argument(help="Built-in image set (shirts).")] = "shirts",
    data: Annotated[
        Path | None, typer.Option(help="Your folder: one subfolder per class (or train/ and test/).")
    ] = None,
    arch: Annotated[str, typer.Option(help="cnn (searched small CNN) | resnet18 (torchvision, untrained)")] = "cnn",
    epochs: Annotated[int, typer.Option(help="Most epochs a configuration gets (the search races up to this).")] = 6,
    image_size: Annotated[int, typer.Option(help="Resize images to N x N.")] = 28,
    trials: Annotated[int, typer.Option(help="Random search: CNN configurations raced by successive halving.")] = 6,
    search: Annotated[str, typer.Option(help="grid (16 configurations) | random")] = "grid",
    batch_size: Annotated[int | None, typer.Option(help="Fix the batch size (default: searched).")] = None,
    max_per_class: Annotated[int | None, typer.Option(help="At most N images per class and split.")] = None,
    processes: Annotated[int, typer.Option(help="Data-parallel processes of the final training.")] = 2,
    seed: Seed = None,
    experiment: Experiment = None,
    profile: Profile = False,
    as_json: AsJson = False,
    verbose: Verbose = False,
) -> None:
    """Train a CNN on an image folder: quarantine bad files, race configurations, train data-parallel."""

    def values(settings: Settings) -> dict[str, Any]:
        return {
            **run_values(settings, data or dataset, seed, experiment, profile),
            "arch": arch,
            "epochs": epochs,
            "image_size": image_size,
            "trials": trials,
            "search": search,
            "batch_size": batch_size,
            "max_per_class": max_per_class,
            "processes": processes,
        }

    launch(FAMILIES["vision"], values, as_json=as_json, verbose=verbose)


def run_values(settings: Settings, data: Path | str, seed: int | None, experiment: str | None, profile: bool
               ) -> dict[str, Any]:  # fmt: skip
    """The fields every kind's config shares (``zygarde.config.RunConfig``), from the options and the settings."""
    return {"dataset": str(data), "seed": settings.seed if seed is None else seed, "experiment": experiment,
            "profile": profile}  # fmt: skip
