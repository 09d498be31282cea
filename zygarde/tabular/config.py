"""The tabular run's parameters: the table, the target, the algorithms and how to search them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from zygarde.config import RunConfig, parse_run_config
from zygarde.errors import ZygardeError, option
from zygarde.search.factory import check as check_search
from zygarde.tabular.algorithms import ALGORITHMS
from zygarde.tabular.catalog import get_algorithm, validate_space
from zygarde.tabular.datasets import BUILTIN_DATASETS

AlgorithmName = Literal["rf", "gbt", "xgboost", "extratrees", "lightgbm", "linear", "hgb", "auto"]


class TabularRunConfig(RunConfig):
    """What to train on and how to search; every field is a form field in the Prefect UI."""

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
        description="Algorithm families to search: the ensembles rf, gbt, xgboost (the default), extratrees, "
        "lightgbm, hgb (histogram gradient boosting) and linear (elastic net); or auto: every family, the next one "
        "to try chosen by FLAML's estimated cost for improvement, within time_budget.",
    )
    time_budget: float | None = Field(
        None,
        gt=0,
        description="Seconds the search may take (with algorithms auto): no trial starts after it, and the "
        "budget, not trials, decides when the search ends.",
    )
    ensemble: bool | None = Field(
        None,
        description="After the search, build a weighted ensemble of the best trials by greedy selection over "
        "their out-of-fold predictions (Caruana et al.); it wins only by a better CV score, and registers as one "
        "model. Default: on with algorithms auto, off otherwise.",
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
        "Parquet table too large to train in memory within it trains out of core (XGBoost external memory, hold-out "
        "validation). It covers every process of the run; below what zygarde's own processes need, it is refused.",
    )
    test_size: float = Field(0.2, ge=0.05, le=0.5, description="Share of rows held out for the final test.")
    seed: int = Field(42, description="Seed of the split, folds, random search and estimators.")
    space: dict[str, dict[str, list[Any]]] = Field(
        default_factory=dict,
        description="Replaces an algorithm's search space: {algorithm: {param: [values]}} (estimator's own names).",
    )
    resume: str | None = Field(
        None,
        description="MLflow run id of a search that stopped (a crash, a kill): continue it with the same "
        "parameters; its finished trials are not run again, and logging goes on in the same run.",
    )

    def search_name(self) -> str:
        """auto (every algorithm, by ECI), or the search over the algorithms named."""
        return "auto" if self.algorithms == ["auto"] else self.search

    def ensembles(self) -> bool:
        """Whether the run builds an ensemble: as asked, else with ``auto``."""
        return self.algorithms == ["auto"] if self.ensemble is None else self.ensemble

    def resumes(self) -> str | None:
        """``resume``: the run whose search this one continues."""
        return self.resume

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
            from zygarde.memory import parse_size

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
        spaces: dict[str, Any] = {name: self.space.get(name) or get_algorithm(name, self.engine).distributions
                  for name in self.algorithms if self.search == "gp" and name != "auto"}  # fmt: skip
        refusal = check_search(self.search, list(self.algorithms), spaces, time_budget=self.time_budget,
                               growable=self.engine == "dask")  # fmt: skip
        if refusal:
            raise ValueError(refusal)
        if self.engine == "spark" and self.ensemble:
            raise ValueError(f"{option('ensemble')}: ensembles are built on the dask engine; leave it out with spark")
        if self.engine == "spark":
            from zygarde.tabular.spark.algorithms import SPARK_ALGORITHMS

            missing = [a for a in self.algorithms if a not in SPARK_ALGORITHMS]
            if missing:
                raise ValueError(
                    f"{option('algorithms')}: the Spark engine has {', '.join(SPARK_ALGORITHMS)}, not "
                    f"{', '.join(missing)}: leave them out, or use the dask engine"
                )
        if self.engine == "spark":
            from zygarde.settings import get_settings
            from zygarde.tabular.spark.session import model_dir, shared_dir_needed

            master = get_settings().spark_master or ""
            try:
                model_dir()
            except ZygardeError:
                raise ValueError(f"{option('engine')} spark: " + shared_dir_needed(master)) from None
            if master.startswith("sc://") and "xgboost" in self.algorithms:
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
    return parse_run_config(TabularRunConfig, values)
