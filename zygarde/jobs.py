"""A job request: one declarative spec (YAML or JSON) for a training run, whoever sends it.

``zygarde submit JOB``, the ``train-job`` deployment's form and a ``zygarde.job.submitted`` event's payload all
carry the same ``JobSpec``, validated by this one model: an invalid spec fails with one message that lists
every bad field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zygarde.errors import ZygardeError
from zygarde.families import family_kind

Kind = Literal["tabular", "cluster", "vision"]  # the kinds of zygarde.families.FAMILIES, as the form's choices
_EMAIL = r"^[^@\s]+@[^@\s]+$"
_SEP = "\n"  # between the problems one check found


class Notify(BaseModel):
    """Whom to tell when the job completes or fails."""

    model_config = ConfigDict(extra="forbid")

    email: list[str] = Field(default_factory=list, description="E-mail addresses (sent over ZYGARDE_SMTP_*).")
    webhook: list[str] = Field(default_factory=list, description="URLs that receive a JSON POST.")

    @field_validator("email")
    @classmethod
    def _emails(cls, addresses: list[str]) -> list[str]:
        bad = [a for a in addresses if not re.match(_EMAIL, a)]
        if bad:
            raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
        return addresses

    @field_validator("webhook")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"not http(s) URLs: {', '.join(bad)}")
        return urls


class JobSpec(BaseModel):
    """One training job: what data, which task, which algorithms and spaces, how to search, on how many workers,
    and whom to notify. Family-specific settings go in ``options`` (the family's own field names)."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind = Field("tabular", description="tabular (ensembles), cluster, or vision (CNN).")
    data: str = Field("diabetes", description="A built-in dataset's name, or a file/folder under the data root.")
    name: str | None = Field(None, description="Tabular: what the file is a batch of (a built-in's name).")
    task: Literal["auto", "classification", "regression"] = Field("auto", description="Tabular: the task.")
    target: str | None = Field(None, description="Tabular: the column to predict (required for your own file).")
    algorithms: list[str] | None = Field(None, description="Algorithm families to search; default: the family's.")
    spaces: dict[str, dict[str, list[Any]]] = Field(
        default_factory=dict, description="Tabular: {algorithm: {param: [values]}} replacing declared spaces."
    )
    search: Literal["grid", "random", "tpe", "gp", "asha"] = Field(
        "random",
        description="Whole grid, random draws per algorithm, tpe or gp (Bayesian) or asha (successive halving); "
        "tpe, gp and asha: tabular jobs.",
    )
    trials: int = Field(10, ge=1, le=10_000, description="The search budget: random configurations per algorithm.")
    seed: int = Field(42, description="Seed of splits, folds, sampling and estimators.")
    min_workers: int = Field(1, ge=1, le=256, description="Dask workers to start with (a local cluster adapts).")
    max_workers: int = Field(2, ge=1, le=256, description="Most Dask workers the local cluster may grow to.")
    experiment: str | None = Field(None, description="MLflow experiment; default zygarde-<dataset>.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="The family's own settings, e.g. {cv: 3} or {max_clusters: 6}."
    )
    notify: Notify = Field(default_factory=Notify, description="Who hears when the job completes or fails.")

    @model_validator(mode="after")
    def _check(self) -> JobSpec:
        problems = []
        if self.min_workers > self.max_workers:
            problems.append(f"min_workers: {self.min_workers} is more than max_workers ({self.max_workers})")
        try:
            self.run_config()  # the family's own model judges the rest: every bad field named at once
        except ValueError as exc:
            problems.extend(str(exc).split(_SEP))
        if problems:
            raise ValueError(_SEP.join(problems))
        return self

    def run_config(self) -> BaseModel:
        """The family's run config (``TabularRunConfig`` ...) this job asks for."""
        values: dict[str, Any] = {"dataset": self.data, "search": self.search, "trials": self.trials,
                                  "seed": self.seed, "experiment": self.experiment}  # fmt: skip
        if self.algorithms is not None:
            values["algorithms"] = self.algorithms
        if self.kind == "tabular":
            values |= {"name": self.name, "task": self.task, "target": self.target, "space": self.spaces}
        else:
            unused = [f"{f}: applies to tabular jobs only, not {self.kind}" for f in ("name", "target", "spaces")
                      if getattr(self, f)]  # fmt: skip
            if unused:
                raise ValueError(_SEP.join(unused))
        clash = sorted(set(self.options) & set(values))
        if clash:
            raise ValueError(_SEP.join(f"options.{c}: set it as the top-level field {c!r}" for c in clash))
        model = family_kind(self.kind).config_type()
        try:
            return model(**values, **self.options)
        except ValidationError as exc:
            renamed = {"dataset": "data", "space": "spaces"}
            problems = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else model.__name__
                where = (
                    f"options.{field}" if field in self.options or field not in values else renamed.get(field, field)
                )
                problems.append(f"{where}: {error['msg']}")
            raise ValueError(_SEP.join(problems)) from None


def _problems(exc: ValidationError) -> list[str]:
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:
            lines.append(f"{'.'.join(str(p) for p in error['loc'])}: {message}")
        else:  # the spec's own check: already one "field: problem" per part
            lines.extend(message.split(_SEP))
    return lines


def parse_spec(values: Any, source: str = "job spec") -> JobSpec:
    """A ``JobSpec`` from parsed YAML/JSON; a ``ZygardeError`` listing every bad field otherwise.

    Pydantic skips the spec's own check (the family's fields) when a field already failed; that check is run
    again without the failed fields, so one message names every problem.
    """
    if not isinstance(values, dict):
        raise ZygardeError(f"{source}: a job spec is a mapping of fields (kind, data, target ...).")
    try:
        return JobSpec(**values)
    except ValidationError as exc:
        problems = _problems(exc)
        failed = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        try:
            JobSpec(**{k: v for k, v in values.items() if k not in failed})
        except ValidationError as more:
            problems += [p for p in _problems(more) if p not in problems]
        raise ZygardeError(f"{source}: invalid job spec:\n" + "\n".join(f"  {p}" for p in problems)) from None


def read_spec(path: Path) -> JobSpec:
    """Read a job spec file (YAML or JSON)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ZygardeError(f"Job spec {path} cannot be read: {exc.strerror or exc}.") from None
    try:
        values = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ZygardeError(
            f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} ({exc})."
        ) from None
    return parse_spec(values, str(path))
