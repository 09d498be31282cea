"""Model registry: log a model, register it once per run, and ``promote()``: the one way a version becomes
``champion``.

``promote`` is a compare-and-swap on the alias: it takes a lock per registry name (a file lock in the work dir:
every process that shares the store on this host queues on it), re-reads the champion under the lock, scores
it on this run's evaluation rows with the same function that scored the challenger, and moves the alias only
if the challenger is better. A champion that cannot be scored on those rows is not beaten by a number from
other data: the new version stays a challenger and its tag says why. An error reading the registry is an
error, never "no champion".
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from zygarde.errors import ZygardeError
from zygarde.locks import file_lock
from zygarde.tracking import fluent_tracking_uri, get_client

CHAMPION = "champion"


CHALLENGER = "challenger"


log = logging.getLogger(__name__)


@dataclass
class RegisteredModel:
    """A registered version and what the champion decision was, and why."""

    name: str
    version: str
    model_uri: str
    became_champion: bool
    reason: str
    previous_champion: str | None = None


def registered_version(tracking_uri: str, name: str, run_id: str) -> tuple[str, str] | None:
    """(model URI, version) that run ``run_id`` already registered under ``name``: a retried task reuses it."""
    try:
        found = get_client(tracking_uri).search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    if not found:
        return None
    first = min(found, key=lambda v: int(v.version))
    return f"models:/{name}/{first.version}", str(first.version)


def register(tracking_uri: str, name: str, run_id: str, log_model: Callable[[], str]) -> tuple[str, str]:
    """Register the run's model under ``name`` once: a retry finds the version it made, logs nothing again."""
    existing = registered_version(tracking_uri, name, run_id)
    if existing is not None:
        log.info("%s v%s was already registered by run %s; reusing it", name, existing[1], run_id)
        return existing
    model_uri = log_model()
    # register_model prints its progress on stderr; it belongs in the log, not on the user's terminal
    with fluent_tracking_uri(tracking_uri), contextlib.redirect_stderr(io.StringIO()) as said:
        version = mlflow.register_model(model_uri, name, tags={"zygarde.run_id": run_id})
    log.info("%s", said.getvalue().strip())
    return model_uri, str(version.version)


def current_champion(tracking_uri: str, name: str) -> str | None:
    """Version holding the ``champion`` alias; None when the model or the alias does not exist.

    Any other registry error is raised: a store that cannot be read must not look like "no champion".
    """
    try:
        model = get_client(tracking_uri).get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise ZygardeError(f"Could not read the champion of {name} from {tracking_uri}: {exc}") from exc
    version = model.aliases.get(CHAMPION)
    return str(version) if version is not None else None


def registry_lock(lock_dir: Path, tracking_uri: str, name: str) -> AbstractContextManager[None]:
    """An exclusive lock per (store, registry name) across processes on this host."""
    digest = hashlib.sha256(f"{tracking_uri}\n{name}".encode()).hexdigest()[:16]
    return file_lock(lock_dir / f"promote-{digest}.lock")


@dataclass(frozen=True)
class Challenger:
    """A registered version, its score on this run's evaluation rows, and how to score the champion there."""

    name: str
    version: str
    model_uri: str
    value: float
    score_champion: Callable[[str], float]  # a models:/ URI -> the metric on the same rows


def promote(
    tracking_uri: str, challenger: Challenger, metric: str, greater_is_better: bool, rows: str, lock_dir: Path
) -> RegisteredModel:
    """Move ``champion`` to the challenger only if it beats the current champion on the same rows.

    Serialised per registry name; idempotent (a retry whose version already holds the alias keeps it).
    """
    client = get_client(tracking_uri)
    name, version, value = challenger.name, challenger.version, challenger.value
    with registry_lock(lock_dir, tracking_uri, name):
        client.set_model_version_tag(name, version, f"score_{metric}", f"{value:.6f}")
        client.set_model_version_tag(name, version, "scored_on", rows)
        previous = current_champion(tracking_uri, name)
        became, reason = _decide(tracking_uri, challenger, previous, metric, greater_is_better, rows)
        alias = CHAMPION if became else CHALLENGER
        decided = {
            "champion_decision": reason,
            "previous_champion": previous or "none",
            "zygarde.alias": alias,
            "zygarde.decided_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        for key, text in decided.items():
            client.set_model_version_tag(name, version, key, text)
        client.set_registered_model_alias(name, alias, version)
    log.info("%s v%s: %s", name, version, reason)
    return RegisteredModel(name, version, challenger.model_uri, became, reason, previous)


@dataclass(frozen=True)
class AliasMove:
    """One decision of ``promote``: which version got which alias, when, why, from which run."""

    version: str
    alias: str
    at: str
    reason: str
    run_id: str
    previous_champion: str
    score: str


def registered_name(tracking_uri: str, name: str) -> str:
    """The registered model a user means by ``name``: itself, or ``zygarde-<name>`` (what ``zygarde run <name>``
    registers a built-in as); an error that names the registered models that come close, when neither is."""
    import difflib

    client = get_client(tracking_uri)
    try:
        names = [m.name for m in client.search_registered_models(max_results=1000)]
    except MlflowException as exc:
        raise ZygardeError(f"Could not read the registry in {tracking_uri}: {exc}") from exc
    for candidate in (name, f"zygarde-{name}"):
        if candidate in names:
            return candidate
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5) + [n for n in names if name in n]
    hint = f" Did you mean {', '.join(dict.fromkeys(close))}?" if close else ""
    raise ZygardeError(
        f"No registered model {name!r} (nor zygarde-{name}) in {tracking_uri}.{hint} "
        "`zygarde models list` shows the names."
    )


def history(tracking_uri: str, name: str) -> list[AliasMove]:
    """Every champion/challenger decision on ``name`` (``registered_name``), oldest first (from the versions'
    tags)."""
    client = get_client(tracking_uri)
    name = registered_name(tracking_uri, name)
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        raise ZygardeError(f"Could not read model {name!r} from {tracking_uri}: {exc}") from exc
    if not versions:
        raise ZygardeError(f"No registered model {name!r} in {tracking_uri}; `zygarde models list` shows the names.")
    moves = [
        AliasMove(
            version=str(v.version),
            alias=v.tags.get("zygarde.alias", "none"),
            at=v.tags.get("zygarde.decided_at", ""),
            reason=v.tags.get("champion_decision", "(no decision recorded)"),
            run_id=v.run_id or "",
            previous_champion=v.tags.get("previous_champion", ""),
            score=next((f"{k[len('score_') :]}={val}" for k, val in v.tags.items() if k.startswith("score_")), ""),
        )
        for v in versions
    ]
    return sorted(moves, key=lambda move: int(move.version))


def _decide(
    tracking_uri: str, challenger: Challenger, previous: str | None, metric: str, greater_is_better: bool, rows: str
) -> tuple[bool, str]:
    value = challenger.value
    if previous is None:
        return True, f"first champion: {metric}={value:.4f} on {rows}"
    if previous == challenger.version:
        return True, f"already champion (a retried run): {metric}={value:.4f} on {rows}"
    try:
        with fluent_tracking_uri(tracking_uri):  # models:/ URIs resolve against this run's registry
            current = challenger.score_champion(f"models:/{challenger.name}/{previous}")
    except Exception as exc:  # another schema, flavour or class set: no comparison on these rows is possible
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return False, (
            f"champion v{previous} could not be scored on this run's {rows} ({type(exc).__name__}: {detail}); "
            f"v{challenger.version} ({metric}={value:.4f}) stays a challenger"
        )
    better = value > current if greater_is_better else value < current
    verdict = "beats" if better else "does not beat"
    where = f"re-scored on this run's {rows}"
    return better, f"{metric}={value:.4f} {verdict} champion v{previous} ({current:.4f}, {where})"
