"""Does ``--memory-limit`` hold for the whole process tree (this CLI process with the flow and Dask's scheduler,
the Prefect API, the Dask workers, any JVM)?

1. The floor: ``zygarde run diabetes`` (a 768-row table: what zygarde's own processes hold, data aside), peak
   RSS of the tree. ``zygarde.memory.services_floor`` is set from it; a smaller ``--memory-limit`` is refused.
2. The in-memory multiplier: a generated table trained in memory (``--memory-limit`` far above it); (peak RSS
   of the tree - the floor) / the table's estimated size in pandas (8 bytes a number, what the choice uses).
   ``zygarde.tabular.family.IN_MEMORY_SHARE`` is set from it: a Parquet table whose size x the multiplier +
   the floor is over the budget trains out of core.
3. Budgets: for each table size and budget, ``zygarde run --data TABLE --target label --memory-limit B``, its
   peak tree RSS against B (target: at most B, for budgets above the floor).

Run: .venv/bin/python benchmarks/memory_budget.py [--rows 2000000 8000000] [--budgets 2GiB 4GiB] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from _quick import parse
from engines import measured

from zygarde.memory import human, parse_size, services_floor
from zygarde.synthetic import make_table
from zygarde.tabular.family import IN_MEMORY_SHARE
from zygarde.tabular.outofcore.parquet import ParquetTable

FEATURES = 20


def run(arguments: list[str], work: Path) -> tuple[dict, int, float]:
    """``zygarde run ARGUMENTS --json`` in its own work dir: its summary, the tree's peak RSS, the wall."""
    env = {**os.environ, "ZYGARDE_WORK_DIR": str(work), "PYTHONWARNINGS": "ignore"}
    for name in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "ZYGARDE_DASK_ADDRESS", "ZYGARDE_MEMORY_LIMIT"):
        env.pop(name, None)
    cli = Path(sys.executable).with_name("zygarde")
    wall, peak, stdout, stderr = measured([str(cli), "run", *arguments, "--json"], env)
    if not stdout.strip():
        raise SystemExit(f"zygarde run {' '.join(arguments)} failed:\n{stderr[-3000:]}")
    return json.loads(stdout), peak, wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000, 8_000_000])
    parser.add_argument("--budgets", nargs="+", default=["2GiB", "4GiB"])
    parser.add_argument("--multiplier-rows", type=int, default=2_000_000)
    args = parse(parser, argv, rows=[60_000], budgets=["3GiB"], multiplier_rows=30_000)
    scratch = Path(tempfile.mkdtemp(prefix="zygarde-memory-"))

    _, floor, wall = run(["diabetes", "--algorithms", "xgboost", "--trials", "2", "--cv", "3"], scratch / "floor")
    print(
        f"floor (diabetes, services and workers): peak tree RSS {human(floor)} in {wall:.0f} s; "
        f"zygarde assumes {human(services_floor(2))} for 2 workers",
        flush=True,
    )

    table = Path(make_table(scratch / "multiplier", args.multiplier_rows, FEATURES, seed=1).path)
    size = ParquetTable.scan(table).in_memory_bytes()  # what the choice multiplies: 8 bytes a number
    _, peak, wall = run(["--data", str(table), "--target", "label", "--algorithms", "xgboost", "--trials", "2",
                         "--memory-limit", "64GiB"], scratch / "multiplier-run")  # fmt: skip
    print(f"in-memory multiplier ({args.multiplier_rows:,} rows, {human(size)} at 8 bytes a number): peak "
          f"{human(peak)}, (peak - floor) / size = {(peak - floor) / size:.1f}; zygarde assumes {IN_MEMORY_SHARE}",
          flush=True)  # fmt: skip

    rows_out = []
    for rows in args.rows:
        table = Path(make_table(scratch / f"t{rows}", rows, FEATURES, seed=2).path)
        for budget in args.budgets:
            arguments = ["--data", str(table), "--target", "label", "--algorithms", "xgboost", "--trials", "2"]
            summary, peak, wall = run([*arguments, "--memory-limit", budget], scratch / f"run-{rows}-{budget}")
            path = "out of core" if summary.get("out_of_core") else "in memory"
            ratio = peak / parse_size(budget)
            rows_out.append(ratio)
            print(
                f"{rows:>10,} rows  budget {budget:>6}  {path:11}  peak tree RSS {human(peak):>9}  "
                f"peak/budget {ratio:.2f}  ({summary['best_algorithm']}, {wall:.0f} s)",
                flush=True,
            )
    print(f"peak/budget at most {max(rows_out):.2f} (target: at most 1.00)")


if __name__ == "__main__":
    main()
