"""Every kind of training in one registry: its config, how its ``Family`` is built, its Prefect flow, its CLI
command and how the terminal shows its summary. The CLI, the job spec, the served deployments and
``training_flow`` read it, so a new kind is a package (family, config, printer), a flow module and one entry here.

Entries name their parts as ``"module:attribute"`` and import them when asked: the CLI checks a run's inputs
before Prefect, MLflow or PyTorch are imported, and a kind whose extra is not installed fails only when used.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from zygarde.config import RunConfig, parse_run_config
from zygarde.errors import ZygardeError

if TYPE_CHECKING:
    from prefect import Flow

    from zygarde.family import Family


def _load(path: str) -> Any:
    module, name = path.split(":")
    return getattr(import_module(module), name)


@dataclass(frozen=True)
class FamilyKind:
    """One kind of training and where its parts live."""

    kind: str
    command: str  # the CLI command that trains it
    config: str  # its RunConfig subclass
    build: str  # config -> Family (a function, or the class itself)
    flow: str  # the Prefect flow that runs it
    printer: str  # summary dict -> what the terminal shows
    deployment: str  # the name `zygarde serve` gives the flow's deployment
    needs: str = ""  # what must be installed beyond the core, and how (its import error names it)

    def config_type(self) -> type[RunConfig]:
        """The kind's config model (a form in the Prefect UI, a CLI's options, a job spec's ``options``)."""
        model: type[RunConfig] = _load(self.config)
        return model

    def parse(self, **values: Any) -> RunConfig:
        """The config from ``values``; one ``ZygardeError`` naming every bad parameter otherwise."""
        return parse_run_config(self.config_type(), values)

    def family(self, config: RunConfig) -> Family:
        """The ``Family`` that trains ``config``."""
        return self._needed(self.build)(config)

    def training_flow(self) -> Flow[..., Any]:
        """The kind's Prefect flow."""
        return self._needed(self.flow)

    def print_summary(self, summary: dict[str, Any]) -> None:
        """Show a finished run's summary on the terminal."""
        _load(self.printer)(summary)

    def _needed(self, path: str) -> Any:
        try:
            return _load(path)
        except ImportError as exc:
            if not self.needs:
                raise
            raise ZygardeError(f"The {self.kind} flow needs {self.needs} ({exc}).") from None


FAMILIES: dict[str, FamilyKind] = {
    entry.kind: entry
    for entry in (
        FamilyKind("tabular", "run", "zygarde.tabular.config:TabularRunConfig", "zygarde.tabular.family:tabular_family",
                   "zygarde.flows.tabular:train_tabular", "zygarde.tabular.printer:print_tabular", "train-tabular"),
        FamilyKind("cluster", "cluster", "zygarde.cluster.config:ClusterRunConfig",
                   "zygarde.cluster.family:ClusterFamily", "zygarde.flows.cluster:cluster",
                   "zygarde.cluster.printer:print_cluster", "cluster"),
        FamilyKind("vision", "vision", "zygarde.vision.config:VisionRunConfig", "zygarde.vision.family:VisionFamily",
                   "zygarde.flows.vision:train_vision", "zygarde.vision.printer:print_vision", "train-vision",
                   needs="PyTorch: pip install -e '.[vision]'"),
    )
}  # fmt: skip


def family_kind(kind: str) -> FamilyKind:
    """The registry's entry for ``kind``; an error naming the kinds there are."""
    try:
        return FAMILIES[kind]
    except KeyError:
        raise ZygardeError(f"Unknown kind {kind!r}; choose from {', '.join(FAMILIES)}.") from None
