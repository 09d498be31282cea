"""The ``Family`` seam: what differs between tabular, clustering and vision training.

Every flow runs the same stages over one family (``zygarde.flows.pipeline.train``):
preflight -> load -> validate -> prepare -> plan -> search -> select -> finalize -> evaluate -> explain -> promote ->
summarize. A family supplies each stage's logic as a plain method (no Prefect), and the data it hands on:

- ``prepare`` splits the data into a **search view** (what trials see; scattered to the workers) and an
  **evaluation view** (what the final model and the current champion are scored on). Held-out rows live only
  in the evaluation view: no trial ever receives them.
- ``champion`` is the rule the registry applies: the metric, its direction, the words for the rows it is
  measured on; ``score`` computes it on the evaluation view, the same way for challenger and champion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

from zygarde.config import RunConfig
from zygarde.search.objective import Objective
from zygarde.search.samplers.base import Sampler
from zygarde.search.trials import TrialResult
from zygarde.validation import ValidationReport

SearchT = TypeVar("SearchT")
EvalT = TypeVar("EvalT")


@dataclass(frozen=True)
class Identity:
    """What a run is about: a short dataset name, where the data came from, and the registry name it competes
    under (dataset identity, task and target, feature set: a user's file named like a built-in does not
    compete with the built-in)."""

    dataset: str
    source: str
    registry_name: str
    params: dict[str, Any] = field(default_factory=dict)  # resolved facts logged with the run's parameters


@dataclass(frozen=True)
class DataInput:
    """A table the run learned from, logged as the MLflow run's dataset input (name, digest, source, schema): what
    the runs table's Dataset column shows and filters on."""

    frame: Any  # a pandas DataFrame
    name: str
    source: str
    target: str | None = None
    context: str = "training"


@dataclass
class Prepared(Generic[SearchT, EvalT]):
    """The two views of the data after preprocessing, and facts about them to log."""

    search: SearchT
    evaluation: EvalT
    facts: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)  # JSON artifacts: path -> payload
    inputs: list[DataInput] = field(default_factory=list)  # the data, as the run's MLflow dataset inputs

    def without_evaluation(self) -> Prepared[SearchT, None]:
        """The search view alone: what is shipped to a worker to train the winner (held-out rows stay here)."""
        return Prepared(self.search, None)


@dataclass
class Trained:
    """The model to register, with what its training reported: metrics, JSON artifacts, per-epoch curves."""

    model: Any
    facts: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Reference:
    """What a model learned from, stored with it (a sample of its training rows): drift is measured against it,
    and a labelled batch is scored by ``target`` and ``task`` (classification labels encoded as ``classes``)."""

    features: Any  # a pandas DataFrame of feature columns
    target: str | None = None
    task: str | None = None
    classes: list[str] = field(default_factory=list)

    MAX_ROWS: ClassVar[int] = 10_000

    def tags(self) -> dict[str, str]:
        """The model-version tags that describe the reference (the rows themselves are an artifact)."""
        tags = {"zygarde.features": json.dumps([str(c) for c in self.features.columns])}
        if self.target:
            tags |= {
                "zygarde.target": self.target,
                "zygarde.task": self.task or "",
                "zygarde.classes": json.dumps(self.classes),
            }
        return tags


@dataclass(frozen=True)
class ChampionRule:
    """How a model competes for ``champion``: ``metric`` on the evaluation rows (``rows``, in words)."""

    metric: str
    greater_is_better: bool
    rows: str


@dataclass
class Evaluation:
    """The final model measured on the evaluation view: metrics (named without a split prefix; ``prefix`` is
    prepended when logged), figures, JSON artifacts and Prefect table artifacts."""

    metrics: dict[str, float]
    prefix: str = "test_"
    figures: dict[str, Any] = field(default_factory=dict)  # artifact path -> matplotlib figure
    json: dict[str, Any] = field(default_factory=dict)  # artifact path -> payload
    tables: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)  # key -> (description, rows)


@dataclass(frozen=True)
class Plan:
    """What the search runs: the objective, the sampler, and how trials are described in MLflow."""

    objective: Objective
    sampler: Sampler
    scored_on: str
    cv_names: bool = True  # child-run metrics named cv_<metric>_mean/_std; False: the metric's own name


class Family(Protocol):
    """One kind of training (tabular, clustering, vision): the stages' logic, no orchestration."""

    kind: ClassVar[str]
    # imported while the services start: by every worker (what trials need), and by the flow's process
    # (what evaluate and register need)
    warm_modules: ClassVar[tuple[str, ...]]
    registry_modules: ClassVar[tuple[str, ...]]
    config: RunConfig

    def data_paths(self) -> list[Path]:
        """The user's files or folders the config names (checked against the data root for UI/deployment runs)."""
        ...

    def preflight(self) -> None:
        """Checks that need no service (files, columns, options); raise ``ZygardeError`` before any starts."""
        ...

    def describe(self) -> str | None:
        """What the terminal says before the services start, when the run takes a path the user did not name
        (a table trained out of core); None: nothing to say."""
        ...

    def load(self, client: Any = None) -> Any:
        """Read the data named by the config (``client``: the flow's Dask cluster, for families that fan work out)."""
        ...

    def identify(self, loaded: Any) -> Identity:
        """The run's dataset name, source and registry name."""
        ...

    def validate(self, loaded: Any, expectations_dir: Path) -> ValidationReport:
        """The data's great-expectations suite."""
        ...

    def prepare(self, loaded: Any) -> Prepared[Any, Any]:
        """Search view and evaluation view (held-out rows only in the latter)."""
        ...

    def plan(self, prepared: Prepared[Any, Any]) -> Plan:
        """The objective and the sampler of the search."""
        ...

    def select(self, results: list[TrialResult], prepared: Prepared[Any, Any]) -> TrialResult:
        """The winning trial, by ``trials.rank``."""
        ...

    def finalize(self, prepared: Prepared[Any, Any], best: TrialResult, client: Any) -> Trained:
        """The model to register: the winner refitted (or trained data-parallel on ``client``'s workers)."""
        ...

    def evaluate(
        self, model: Any, prepared: Prepared[Any, Any], best: TrialResult, results: list[TrialResult]
    ) -> Evaluation:
        """The final model on the evaluation view: metrics, plots, the leaderboard."""
        ...

    def explain(self, model: Any, prepared: Prepared[Any, Any], best: TrialResult, results: list[TrialResult]) -> Any:
        """Why ``model`` predicts what it does (a ``zygarde.explain.Explanation``), on a sample of the evaluation
        view, each step within its time (falling back, and saying so, when it runs out)."""
        ...

    def champion_rule(self, prepared: Prepared[Any, Any]) -> ChampionRule:
        """The rule the registry applies to challenger and champion alike."""
        ...

    def score(self, model: Any, prepared: Prepared[Any, Any]) -> float:
        """The champion rule's metric of ``model`` on the evaluation view."""
        ...

    def log_model(self, model: Any, prepared: Prepared[Any, Any], tracking_uri: str, run_id: str) -> str:
        """Log ``model`` into the run (signature, example); returns its model URI."""
        ...

    def load_model(self, model_uri: str) -> Any:
        """A registered model, loaded to be scored."""
        ...

    def reference(self, prepared: Prepared[Any, Any]) -> Reference | None:
        """The training rows (a sample) to store with the model for drift checks; None where drift is not measured."""
        ...

    def summarize(
        self,
        loaded: Any,
        prepared: Prepared[Any, Any],
        best: TrialResult,
        evaluation: Evaluation,
        results: list[TrialResult],
    ) -> dict[str, Any]:
        """The family's own fields of the run's summary."""
        ...

    summary_type: ClassVar[type[BaseModel]]  # the pydantic model of the flow's result


def slug(text: str) -> str:
    """Lower-case letters, digits and dashes: safe in registry and experiment names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
