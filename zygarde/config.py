"""Typed run parameters, validated once at the boundary (CLI, Prefect UI form, job spec, deployment YAML).

``RunConfig`` holds what every family's run has (the data, the seed, the MLflow experiment, profiling); each
family package declares its own config on it (``zygarde.tabular.config``, ``cluster.config``, ``vision.config``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zygarde.errors import ZygardeError, option

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class RunConfig(BaseModel):
    """What every training run is given; every field is a form field in the Prefect UI."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="A built-in dataset's name, or the path of the data.")
    seed: int = Field(42, description="Seed of splits, searches and estimators.")
    experiment: str | None = Field(None, description="MLflow experiment; default zygarde-<dataset>.")
    profile: bool = Field(False, description="cProfile every stage; .prof and top-30 text logged to MLflow.")

    def search_name(self) -> str:
        """The search in a word, for the run's name in MLflow ("" when the kind has one way to search)."""
        return ""

    def resumes(self) -> str | None:
        """The MLflow run this run continues (None: a new run)."""
        return None


def parse_run_config(model: type[ConfigT], values: dict[str, Any]) -> ConfigT:
    """``model`` from ``values``; pydantic's errors as one readable ``ZygardeError`` naming each parameter."""
    try:
        return model(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():  # a check across fields names its field in its own message
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{option(str(error['loc'][0]))}: {message}" if error["loc"] else message)
        raise ZygardeError("Invalid parameters:\n  " + "\n  ".join(problems)) from None
