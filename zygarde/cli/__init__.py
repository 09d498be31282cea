"""The ``zygarde`` command line: train a kind (``run``, ``cluster``, ``vision``), use the registry (``predict``,
``report``, ``models``), run the platform (``deploy``, ``serve``, ``submit``, ``ingest``, ``watch``).

Every input a user can get wrong without a service (a missing or unreadable file, an absent target, an
unknown algorithm, an impossible option) is checked before the Prefect API or the Dask cluster starts. The
terminal shows a progress bar and the summary; everything else goes to a log file in the work dir, whose
path an ``error:`` line names.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

import typer

from zygarde.cli import data, models, platform, training
from zygarde.errors import speak_cli

app = typer.Typer(
    help="zygarde: validated, parallel, tracked model search with Prefect, Dask and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for group in (training, models, platform, data):  # in this order in --help
    app.add_typer(group.commands)


def run_command(argv: list[str]) -> int:
    """Run one ``zygarde`` command, then the exit handlers (Prefect's queues, temporary folders, log files);
    its exit code."""
    code: int = 0
    speak_cli()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # its bars interleave with our output
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # ours name the view; stdout is --json's
    try:
        app(args=argv, prog_name="zygarde")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        logging.shutdown()
    return code


def main() -> None:
    """Run the command line's command, then leave without tearing the interpreter's modules down
    (docs/decisions/0005)."""
    os._exit(run_command(sys.argv[1:]))


if __name__ == "__main__":
    main()
