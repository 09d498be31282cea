"""The warm runner of ``zygarde up``: a process that has imported what a training command needs, and forks a
child for each one the ``zygarde`` command hands it (docs/decisions/0008-warm-services.md).

A training command imports Prefect, MLflow, great-expectations, skops, scikit-learn and XGBoost before its
first stage: seconds of CPU that every run pays again. The runner pays them once. For each request on its Unix
socket (readable by its user alone) it receives the command's arguments, environment, working directory and
its terminal's three file descriptors, forks, and the child runs the command as the console script would,
writing straight to that terminal; its exit code goes back to the waiting ``zygarde`` process. The runner has
no thread of its own when it forks (checked at start): a child starts its own (Prefect's, Dask's).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import threading
from importlib import import_module
from pathlib import Path
from typing import TypedDict

from zygarde.digests import digest

COMMANDS = ("run", "cluster", "vision")  # what the runner takes: the training commands
PRELOAD = (
    "zygarde.cli", "zygarde.flows.pipeline", "zygarde.flows.tabular", "zygarde.flows.cluster", "prefect_dask",
    "great_expectations", "zygarde.serialization", "mlflow.sklearn", "matplotlib.pyplot", "zygarde.tabular.family",
    "zygarde.cluster.family", "zygarde.tabular.objective", "xgboost", "sklearn.ensemble",
)  # fmt: skip
_MAX_REQUEST = 1 << 20


def socket_path(work_dir: Path) -> Path:
    """Where the runner of ``work_dir`` listens: a short path (a Unix socket's is at most 107 bytes) in a folder
    of this user's alone."""
    folder = Path(tempfile.gettempdir()) / f"zygarde-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise PermissionError(f"{folder} is not this user's alone: no runner is used or started there")
    return folder / f"{digest(str(work_dir.resolve()), 16)}.sock"


def delegate(path: Path, argv: list[str]) -> int | None:
    """Hand ``argv`` to the runner at ``path`` with this process's terminal, environment and folder; the
    command's exit code, or None when no runner answers there (the caller runs the command itself)."""
    try:
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        channel.connect(str(path))
    except OSError:  # no runner: none started, or it stopped
        return None
    request: Request = {"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}
    with channel:
        try:
            socket.send_fds(channel, [json.dumps(request).encode()], [0, 1, 2])
        except OSError:  # a closed standard stream cannot be handed on: run here
            return None
        reader = channel.makefile("r")
        child = int(reader.readline() or 0)
        if not child:
            return None
        for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C reaches the command, in a session of its own
            signal.signal(signum, lambda received, _: os.kill(child, received))
        code = reader.readline().strip()
    return int(code) if code else 1  # no code: the command died without one


def serve(path: Path) -> None:
    """Import ``PRELOAD``, then listen on ``path`` and fork a child per request until SIGTERM."""
    for module in PRELOAD:
        with contextlib.suppress(ImportError):  # a kind whose extra is missing fails in its own run
            import_module(module)
    if threading.active_count() != 1:
        raise SystemExit(f"the runner has threads after its imports ({threading.enumerate()}): forking is unsafe")
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            connection, _ = listener.accept()
            message, fds, _, _ = socket.recv_fds(connection, _MAX_REQUEST, 3)
            sys.stdout.flush()
            sys.stderr.flush()
            if os.fork() == 0:
                listener.close()
                _child(connection, json.loads(message), fds)
            connection.close()
            for fd in fds:
                os.close(fd)
    finally:
        path.unlink(missing_ok=True)


class Request(TypedDict):
    """What ``delegate`` sends: the command's arguments, environment and working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


def _child(connection: socket.socket, request: Request, fds: list[int]) -> None:
    """Become the command: its terminal, environment and folder; run it; send its exit code; leave."""
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    os.setsid()  # `zygarde down` stops the runner, not the commands it started
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()  # Prefect read its settings from the runner's environment at import
    connection.sendall(f"{os.getpid()}\n".encode())
    from zygarde.cli import run_command

    code = run_command(request["argv"])
    with contextlib.suppress(OSError):
        connection.sendall(f"{code}\n".encode())
    os._exit(code)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
