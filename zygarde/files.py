"""Files written whole or not at all."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write`` on a temporary file in ``path``'s folder, then rename it to ``path``.

    A reader (a person, a watcher, a triggered flow, a resumed search) sees the old file or the new one, never
    half of one; a failed ``write`` leaves no temporary file behind. Writers in other processes or threads use
    temporary files of their own.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
