"""Fold checkpoints: the scores of each fold of a trial, kept as the fold finishes, so a trial that a crash (a
killed driver, a lost worker, a ``kill -9``) interrupted fits only its unfinished folds when it runs again.

One small JSON file per (trial, fold), written atomically (``zygarde.files.write_atomically``), under a folder of
the run: on a cluster of this host, ``<work dir>/runs/<run id>/folds``; on workers of other hosts (the driver's
disk is not theirs), a relative folder each worker resolves under its own Dask local directory (``resolve``),
removed from every worker when the search ends. A trial is named by a digest of what its scores depend on (its
algorithm, parameters and budget, the objective's folds and seed, and the rows), not by its number, so a TPE
trial asked again under a new number after a crash finds its folds too. Best effort: a worker that cannot write
there computes every fold, as without checkpoints.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zygarde.files import write_atomically

log = logging.getLogger(__name__)


def resolve(folder: str | Path, worker: Any = None) -> Path:
    """An absolute folder as it is; a relative one under the Dask worker's local directory (the folder its
    ``--local-directory`` names, kept across the worker's restarts; ``worker``: this process's, found when not
    given), or the temp dir outside a worker."""
    path = Path(folder)
    if path.is_absolute():
        return path
    if worker is None:
        from distributed import get_worker

        try:
            worker = get_worker()
        except ValueError:
            return Path(tempfile.gettempdir()) / path
    return Path(worker.local_directory).parent / path  # the worker's own scratch folder is new at each start


def remove(folder: str, dask_worker: Any = None) -> None:
    """Remove ``folder`` (``resolve``d here): the checkpoints of a finished search. ``client.run`` passes the
    worker as ``dask_worker`` (``get_worker`` finds none outside a task)."""
    shutil.rmtree(resolve(folder, dask_worker), ignore_errors=True)


class FoldCheckpoints:
    """The finished folds of one trial (``key``) under ``folder`` (``resolve``d where the trial runs)."""

    def __init__(self, folder: str | Path, key: str) -> None:
        self.folder, self.key = resolve(folder), key

    def _path(self, fold: int) -> Path:
        return self.folder / f"{self.key}.{fold}.json"

    def get(self, fold: int) -> dict[str, float] | None:
        """The scores ``fold`` reported before, or None (never finished, or unreadable)."""
        try:
            return json.loads(self._path(fold).read_text())
        except (OSError, ValueError):
            return None

    def put(self, fold: int, scores: dict[str, float]) -> None:
        """Keep a finished fold's scores (whole or not at all: a kill mid-write leaves no partial file)."""
        try:
            write_atomically(self._path(fold), lambda tmp: tmp.write_text(json.dumps(scores)))
        except OSError as exc:
            log.debug("fold %d of %s not checkpointed: %s", fold, self.key, exc)


def scored_folds(folder: str, key: str, folds: int, score: Callable[[int], dict[str, float]]) -> list[dict[str, float]]:
    """Every fold's scores, ``score(i)`` computing fold i; with a ``folder`` (empty: none), each fold is kept as
    it finishes and a fold kept before is read back, not computed."""
    kept = FoldCheckpoints(folder, key) if folder else None
    per_fold = []
    for index in range(folds):
        scores = kept.get(index) if kept else None
        if scores is None:
            scores = score(index)
            if kept:
                kept.put(index, scores)
        per_fold.append(scores)
    return per_fold
