"""Typed run parameters, validated once at the boundary (CLI, Prefect UI form, deployment YAML)."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zygarde.errors import ZygardeError, option
from zygarde.search.factory import check as check_search
from zygarde.tabular.algorithms import ALGORITHMS
from zygarde.tabular.catalog import get_algorithm, validate_space
from zygarde.tabular.datasets import BUILTIN_DATASETS

AlgorithmName = Literal["rf", "gbt", "xgboost", "linear", "hgb", "auto"]
ConfigT = TypeVar("ConfigT", bound=BaseModel)


class TabularRunConfig(BaseModel):
    """What to train on and how to search; every field is a form field in the Prefect UI."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        "diabetes",
        description=f"A built-in dataset ({', '.join(BUILTIN_DATASETS)}) or the path of a CSV/Parquet file "
        "(from a form or a deployment: under the data root, ZYGARDE_DATA_ROOT).",
        examples=list(BUILTIN_DATASETS),
    )
    name: str | None = Field(
        None,
        description="What the file is a batch of: a built-in's name brings its target, expectations and champion; "
        "any other name groups the file's models in the registry. Default: the file's name.",
    )
    target: str | None = Field(None, description="Column to predict; required for your own file.")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="Inferred from the target when auto."
    )
    algorithms: list[AlgorithmName] = Field(
        default_factory=lambda: ["rf", "gbt", "xgboost"],
        min_length=1,
        description="Algorithm families to search: the ensembles rf, gbt, xgboost (the default), and linear "
        "(elastic net) and hgb (histogram gradient boosting); or auto: every family, the next one to try chosen "
        "by FLAML's estimated cost for improvement, within time_budget.",
    )
    time_budget: float | None = Field(
        None,
        gt=0,
        description="Seconds the search may take (with algorithms auto): no trial starts after it, and the "
        "budget, not trials, decides when the search ends.",
    )
    search: Literal["grid", "random", "tpe", "gp", "asha"] = Field(
        "random",
        description="Whole grid; random draws per algorithm; tpe: Bayesian optimisation (Optuna's TPE) over "
        "every algorithm at once, each trial chosen from the scores so far; gp: the same with a Gaussian process "
        "(one algorithm, a space of numbers: xgboost, gbt, hgb, linear); or asha: random draws raced by "
        "asynchronous successive halving, each trial growing its trees, stages or rounds (rows for linear) "
        "rung by rung, the best third going on.",
    )
    trials: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Random, tpe, gp and asha search: configurations per algorithm (tpe: in all, x algorithms).",
    )
    brackets: int = Field(
        3,
        ge=1,
        le=3,
        description="asha: Hyperband's brackets. 3 deals a third of the configurations to brackets starting on "
        "the second rung and on the full budget (a hedge for slow learners); 1 is plain ASHA, quicker.",
    )
    engine: Literal["dask", "spark"] = Field(
        "dask",
        description="Where trials fit: scikit-learn/XGBoost on Dask workers, or Spark (MLlib rf, gbt; "
        "xgboost.spark) in each Dask worker's Spark session.",
    )
    cv: int = Field(5, ge=2, le=20, description="Cross-validation folds on the training split.")
    memory_limit: str | None = Field(
        None,
        description="Memory zygarde may use (2GiB, 800MB; default ZYGARDE_MEMORY_LIMIT, else what is free). A "
        "Parquet table over a quarter of it trains out of core (XGBoost external memory, hold-out validation).",
    )
    test_size: float = Field(0.2, ge=0.05, le=0.5, description="Share of rows held out for the final test.")
    seed: int = Field(42, description="Seed of the split, folds, random search and estimators.")
    space: dict[str, dict[str, list[Any]]] = Field(
        default_factory=dict,
        description="Replaces an algorithm's search space: {algorithm: {param: [values]}} (estimator's own names).",
    )
    profile: bool = Field(False, description="cProfile every stage; .prof and top-30 text logged to MLflow.")
    experiment: str | None = Field(None, description="MLflow experiment; default zygarde-<dataset>.")
    resume: str | None = Field(
        None,
        description="MLflow run id of a search that stopped (a crash, a kill): continue it with the same "
        "parameters; its finished trials are not run again, and logging goes on in the same run.",
    )

    @model_validator(mode="before")
    @classmethod
    def _engine_defaults(cls, values: Any) -> Any:
        if isinstance(values, dict) and values.get("engine") == "spark" and not values.get("algorithms"):
            return {**values, "algorithms": ["rf", "gbt"]}  # what MLlib offers of the default three
        return values

    @field_validator("memory_limit")
    @classmethod
    def _a_size(cls, value: str | None) -> str | None:
        if value is not None:
            from zygarde.tabular.outofcore import parse_size

            try:
                parse_size(value)
            except ZygardeError as exc:
                raise ValueError(str(exc).removeprefix(f"{option('memory_limit')}: ")) from None
        return value

    @model_validator(mode="after")
    def _check_engine_and_space(self) -> TabularRunConfig:
        if "auto" in self.algorithms and (len(self.algorithms) > 1 or self.engine != "dask"):
            raise ValueError(
                f"{option('algorithms')}: auto stands alone (it is every family) and runs on the dask engine"
            )
        spaces = {name: self.space.get(name) or get_algorithm(name, self.engine).distributions
                  for name in self.algorithms if self.search == "gp" and name != "auto"}  # fmt: skip
        refusal = check_search(self.search, list(self.algorithms), spaces, time_budget=self.time_budget,
                               growable=self.engine == "dask")  # fmt: skip
        if refusal:
            raise ValueError(refusal)
        if self.engine == "spark":
            from zygarde.tabular.spark.algorithms import SPARK_ALGORITHMS

            missing = [a for a in self.algorithms if a not in SPARK_ALGORITHMS]
            if missing:
                raise ValueError(
                    f"{option('algorithms')}: the Spark engine has {', '.join(SPARK_ALGORITHMS)}, not "
                    f"{', '.join(missing)}: leave them out, or use the dask engine"
                )
        if self.engine == "spark" and "xgboost" in self.algorithms:
            from zygarde.settings import get_settings

            master = get_settings().spark_master or ""
            if master.startswith("sc://"):
                raise ValueError(
                    f"{option('algorithms')}: xgboost.spark needs a classic Spark session, and ZYGARDE_SPARK_MASTER "
                    f"is the Spark Connect address {master}: leave xgboost out, or use a spark:// master"
                )
        for name, params in self.space.items():
            if self.search == "asha" and ALGORITHMS.get(name) and ALGORITHMS[name].resource.param in params:
                raise ValueError(
                    f"{option('space')}: {name}.{ALGORITHMS[name].resource.param} is what asha grows rung by rung "
                    f"(up to {ALGORITHMS[name].resource.maximum}); leave it out of the space"
                )
            if name not in ALGORITHMS:
                raise ValueError(f"{option('space')}: unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}")
            try:
                validate_space(name, params, self.engine)
            except ZygardeError as exc:
                raise ValueError(str(exc)) from None
        return self


def parse_config(**values: Any) -> TabularRunConfig:
    """Build a config, turning pydantic's errors into one readable ``ZygardeError`` naming each parameter."""
    return _parse(TabularRunConfig, values)


def _parse(model: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    try:
        return model(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():  # a check across fields names its field in its own message
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{option(str(error['loc'][0]))}: {message}" if error["loc"] else message)
        raise ZygardeError("Invalid parameters:\n  " + "\n  ".join(problems)) from None


ClusterAlgorithmName = Literal["kmeans", "dbscan", "agglomerative"]


class ClusterRunConfig(BaseModel):
    """What to cluster and how to search; every field is a form field in the Prefect UI."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field("fastfood", description="A built-in table (fastfood) or a path to a CSV/Parquet file.")
    restaurant: str = Field(
        "Burger King", description="Keep the rows of this restaurant (tables with a restaurant column); all: every row."
    )
    features: list[str] = Field(default_factory=list, description="Numeric feature columns; empty: all numeric ones.")
    algorithms: list[ClusterAlgorithmName] = Field(
        default_factory=lambda: ["kmeans", "dbscan", "agglomerative"], min_length=1, description="Families to search."
    )
    search: Literal["grid", "random"] = Field("grid", description="Whole grid, or random draws per algorithm.")
    trials: int = Field(10, ge=1, le=10_000, description="Random search: configurations drawn per algorithm.")
    max_clusters: int = Field(8, ge=2, le=100, description="Cluster counts searched: 2 .. max_clusters.")
    preset: Literal["none", "study"] = Field(
        "none", description="study: K-means k=2 on standardised total_fat, total_carb (the original study)."
    )
    seed: int = Field(42, description="Seed of K-means and of the random search.")
    experiment: str | None = Field(None, description="MLflow experiment; default zygarde-<dataset>.")
    profile: bool = Field(False, description="cProfile every stage; .prof and top-30 text logged to MLflow.")


def parse_cluster_config(**values: Any) -> ClusterRunConfig:
    """Build a clustering config, turning pydantic's errors into one readable ``ZygardeError``."""
    return _parse(ClusterRunConfig, values)


class VisionRunConfig(BaseModel):
    """What images to learn from and how to search; every field is a form field in the Prefect UI."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        "shirts", description="A built-in image set (shirts) or a folder with one subfolder per class."
    )
    arch: Literal["cnn", "resnet18"] = Field(
        "cnn", description="cnn: the searched small CNN; resnet18: torchvision's, untrained (BatchNorm)."
    )
    epochs: int = Field(6, ge=1, le=200, description="Epochs of the final training; the search races up to this.")
    image_size: int = Field(28, ge=8, le=512, description="Images are resized to image_size x image_size.")
    trials: int = Field(6, ge=1, le=1000, description="CNN configurations raced by successive halving.")
    search: Literal["grid", "random"] = Field("grid", description="The 16-configuration grid, or random draws.")
    batch_size: int | None = Field(None, ge=1, description="Fix the batch size (default: searched).")
    test_size: float = Field(0.2, ge=0.05, le=0.5, description="Held-out share when the folder has no test/ split.")
    max_per_class: int | None = Field(None, ge=2, description="Use at most this many images per class and split.")
    processes: int = Field(2, ge=1, le=64, description="Data-parallel processes of the final training.")
    seed: int = Field(42, description="Seed of splits, initial weights, batches and augmentation.")
    experiment: str | None = Field(None, description="MLflow experiment; default zygarde-<dataset>.")
    profile: bool = Field(False, description="cProfile every stage; .prof and top-30 text logged to MLflow.")


def parse_vision_config(**values: Any) -> VisionRunConfig:
    """Build a vision config, turning pydantic's errors into one readable ``ZygardeError``."""
    return _parse(VisionRunConfig, values)
