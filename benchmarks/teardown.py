"""What skipping the interpreter's teardown saves (docs/decisions/0005-skip-interpreter-teardown.md).

Each round starts two fresh interpreters that import what a training run imports and then leave: one the
ordinary way (exit handlers, then module teardown), one as ``zygarde.cli.main`` does (exit handlers, then
``os._exit``). They alternate; the medians and their difference are printed.

Run: .venv/bin/python benchmarks/teardown.py [--rounds 5] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _quick import parse

MODULES = ("prefect", "prefect_dask", "mlflow", "great_expectations", "distributed", "sklearn.ensemble", "xgboost",
           "pandas", "pyarrow.parquet", "matplotlib.pyplot")  # fmt: skip
EXIT = {
    "teardown": "",
    "os._exit": "import atexit, logging, os, sys; sys.stdout.flush(); atexit._run_exitfuncs(); logging.shutdown(); "
    "os._exit(0)",
}


def leave(how: str, modules: tuple[str, ...]) -> tuple[float, float]:
    """(seconds from the imports' end to the process's end, seconds of the whole process)."""
    code = f"import time, {', '.join(modules)}\nprint(time.time(), flush=True)\n{EXIT[how]}\n"
    with tempfile.TemporaryDirectory() as folder:  # a script, not `python -c`: pyspark's doctest hook, which
        script = Path(folder) / "leave.py"  # great-expectations imports, exits a `-c` process at import
        script.write_text(code)
        started = time.time()
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
        ended = time.time()
    return ended - float(done.stdout.split()[0]), ended - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parse(parser, rounds=1)
    modules = ("json", "decimal") if args.quick else MODULES
    rounds = args.rounds
    exits: dict[str, list[float]] = {how: [] for how in EXIT}
    for _ in range(rounds):
        for how in EXIT:
            exits[how].append(leave(how, modules)[0])
    for how, seconds in exits.items():
        print(f"{how:>9}: leaving took {statistics.median(seconds):.2f} s (median of {rounds}; {min(seconds):.2f}-"
              f"{max(seconds):.2f})")  # fmt: skip
    saved = statistics.median(exits["teardown"]) - statistics.median(exits["os._exit"])
    print(f"os._exit after the exit handlers saves {saved:.2f} s a run")


if __name__ == "__main__":
    main()
