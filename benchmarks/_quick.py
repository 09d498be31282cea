"""``--quick``: every benchmark's small run. CI makes it (tests/benchmarks) so that a change cannot silently
break a benchmark; its figures mean nothing."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "a small run that only shows the benchmark still works (CI runs it; its figures mean nothing)"


def parse(parser: argparse.ArgumentParser, argv: list[str] | None = None, **small: Any) -> argparse.Namespace:
    """The command line; with ``--quick``, the ``small`` values replace the options' own."""
    parser.add_argument("--quick", action="store_true", help=HELP)
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(small)
    return args
