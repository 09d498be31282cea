"""The ``zygarde`` console script. A training command goes to the warm runner that ``zygarde up`` started for
this work dir, when there is one (``ZYGARDE_RUNNER=off``: never); anything else runs in this process. Only the
standard library is imported before that choice."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    """Hand a training command to the warm runner, else run the command line here."""
    argv = sys.argv[1:]
    from zygarde.runner import COMMANDS, delegate, socket_path

    if argv and argv[0] in COMMANDS and os.environ.get("ZYGARDE_RUNNER", "").lower() != "off":
        work_dir = Path(os.environ.get("ZYGARDE_WORK_DIR") or Path.cwd() / ".zygarde")
        try:
            code = delegate(socket_path(work_dir), argv)
        except PermissionError:  # a runner folder that is not this user's alone is never used
            code = None
        if code is not None:
            os._exit(code)
    from zygarde.cli import main as run_here

    run_here()
