"""Journals: what a search keeps beside its run, so a crashed attempt continues instead of starting over.

One ``Journal`` is one file: JSON lines appended as results arrive (a line a crash cut short is ended, and
skipped), or one JSON document replaced whole. Every write goes through ``zygarde.files.write_atomically``
or an append of one whole line, so a reader never sees half a record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zygarde.files import write_atomically


@dataclass(frozen=True)
class Journal:
    """A file kept beside a run (``<work dir>/runs/<run id>/<name>``); its folder is made on first write."""

    path: Path

    def beside(self, suffix: str) -> Journal:
        """Another journal next to this one (``<name>.<suffix>``)."""
        return Journal(self.path.with_name(f"{self.path.name}.{suffix}"))

    def location(self) -> str:
        """The path as text, its folder made (for a library that writes the file itself: Optuna's journal)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return str(self.path)

    def append(self, line: str) -> None:
        """Append one record (a line of JSON)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as journal:
            journal.write(line + "\n")

    def records(self) -> list[dict[str, Any]]:
        """Every whole record, in order; a last line a crash cut short is ended (so the next append starts a
        line of its own) and skipped."""
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            with open(self.path, "a", encoding="utf-8") as ended:
                ended.write("\n")
        out = []
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return [record for record in out if isinstance(record, dict)]

    def write(self, document: dict[str, Any]) -> None:
        """Replace the journal with one JSON document, whole or not at all."""
        write_atomically(self.path, lambda tmp: tmp.write_text(json.dumps(document), encoding="utf-8"))

    def read(self) -> dict[str, Any] | None:
        """The JSON document ``write`` kept (None: none, or unreadable)."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None
