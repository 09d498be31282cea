"""The model registry: logging a model (``models``), registering it once per run and ``promote()``, the one
way a version becomes ``champion`` (``promotion``, docs/decisions/0004), and a version's training reference
(``reference``). The public names are re-exported here."""

from zygarde.registry.models import log_sklearn
from zygarde.registry.promotion import (
    CHALLENGER,
    CHAMPION,
    AliasMove,
    Challenger,
    RegisteredModel,
    current_champion,
    history,
    promote,
    register,
    registered_name,
    registered_version,
    registry_lock,
)
from zygarde.registry.reference import StoredReference, load_reference

__all__ = [
    "CHALLENGER", "CHAMPION", "AliasMove", "Challenger", "RegisteredModel", "StoredReference", "current_champion",
    "history", "load_reference", "log_sklearn", "promote", "register", "registered_name", "registered_version",
    "registry_lock",
]  # fmt: skip
