"""Short, stable names for what a value describes: registry names, trial keys, fold checkpoints."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def digest(value: Any, length: int = 12) -> str:
    """The first ``length`` hex characters of the SHA-256 of a JSON-able ``value`` (keys sorted; anything else by
    ``str``): equal values, equal digests, in any process."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:length]
