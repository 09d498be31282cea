"""The main search across worker hosts: trials per second on 1, 2 and 4 worker hosts, and its efficiency against
one host; and what crossing hosts costs, against the same workers on one host.

Runs on the multi-host harness (`deploy/multihost/harness.py`, needs root): the Prefect server, the MLflow
tracking server, the Dask scheduler and the driver each on a host of their own, every Dask worker a one-thread
process on its worker host. For each layout the workers are restarted, and the driver runs the main job's
search (`zygarde run diabetes --algorithms rf,xgboost --trials T --cv 5 --json`) `--rounds` times; trials per
second = trials / the search's wall seconds (the search task's own clock), the median of the rounds.

- scaling: 1, 2 and 4 worker hosts; efficiency at N = (trials/s at N) / (N x trials/s at 1). Each worker is one
  thread, so on a machine of C cores, N > C hosts share cores: there the figure measures the machine, not the
  network (the output says how many cores it ran on);
- the network's cost: 2 workers on one host against 2 workers on 2 hosts (same processes, same threads): a ratio
  near 1 says nothing is lost to crossing hosts; and 2 hosts with 50 ms added to every packet each host sends
  (`tc netem`, or where the kernel has none an NFQUEUE delay line, `deploy/multihost/delay.py`).

Run: sudo .venv/bin/python benchmarks/multihost.py [--hosts 1,2,4] [--trials 12] [--rounds 2] [--quick]
(CI runs its quick mode inside tests/multihost, on the hosts that module has up.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _quick import parse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers import multihost_harness  # noqa: E402 (the harness is a script under deploy/)

mh = multihost_harness()
WORKERS = ("worker1", "worker2", "worker3", "worker4")
DRIVER_WORK = "/srv/bench-work"


def layout(harness: Any, placement: list[tuple[str, str]], settle: float = 15) -> None:
    """Stop every Dask worker; start one one-thread worker per (name, host); wait until the scheduler has them, and
    ``settle`` seconds more (the workers' first imports are not the search's)."""
    for name in [n for n, entry in list(harness.processes.items()) if entry["argv"][:2] == ["dask", "worker"]]:
        harness.stop(name, grace=5)
    for name, host in placement:
        mh.start_worker(harness, host, name=name)
    code = (f"from distributed import Client\nwith Client({mh.ENV['ZYGARDE_DASK_ADDRESS']!r}, timeout=60) as c:\n"
            f" c.wait_for_workers({len(placement)}, timeout=120)\n n = len(c.scheduler_info()['workers'])\n"
            f"assert n == {len(placement)}, n")  # fmt: skip
    done = harness.run("driver", [str(mh.SOFTWARE / "venv" / "bin" / "python"), "-c", code], timeout=240)
    if done.returncode != 0:
        raise RuntimeError(f"workers {placement} did not all join: {done.stderr[-2000:]}")
    time.sleep(settle)


def search_rate(harness: Any, trials: int) -> tuple[float, int]:
    """One run of the main search from the driver: (trials per second of the search, trials)."""
    argv = ["zygarde", "run", "diabetes", "--algorithms", "rf,xgboost", "--trials", str(trials), "--cv", "5",
            "--json"]  # fmt: skip
    done = harness.run("driver", argv, {"ZYGARDE_WORK_DIR": DRIVER_WORK}, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the run failed: {done.stdout[-2000:]}{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return summary["n_trials"] / summary["search_wall_seconds"], summary["n_trials"]


def scaling(harness: Any, counts: list[int], trials: int, rounds: int, settle: float = 15) -> dict[str, float]:
    """Trials per second (the median of ``rounds`` runs) on each layout, printed as they come; 50 ms of latency
    on 2 hosts too where the kernel has netem. The hosts' usual two workers are back afterwards."""
    layouts = {f"{n} host{'s' if n > 1 else ''}": [(w, w) for w in WORKERS[:n]] for n in counts}
    if 2 in counts:
        layouts["2 workers on 1 host"] = [("worker1", "worker1"), ("worker1-b", "worker1")]
    delay = 2 in counts and mh.can_delay()
    rates: dict[str, float] = {}

    def measure(name: str) -> None:
        runs = [search_rate(harness, trials) for _ in range(rounds)]
        rates[name] = statistics.median(rate for rate, _ in runs)
        print(f"{name:24} {rates[name]:6.2f} trials/s  ({runs[0][1]} trials a run, {rounds} runs)", flush=True)

    try:
        for name, placement in layouts.items():
            layout(harness, placement, settle)
            measure(name)
            if delay and name == "2 hosts":
                mh.latency(harness, 50)
                try:
                    measure("2 hosts, 50 ms each link")
                finally:
                    mh.latency(harness, 0)
    finally:
        layout(harness, [("worker1", "worker1"), ("worker2", "worker2")], settle=0)
    return rates


def report(rates: dict[str, float], counts: list[int]) -> None:
    """Efficiency against one host, the network's cost, and latency's."""
    print(f"on {os.cpu_count()} cores, every worker one thread")
    one = rates["1 host"] if 1 in counts else None
    for n in [c for c in counts if c > 1 and one]:
        rate = rates[f"{n} hosts"]
        print(f"efficiency at {n} hosts: {rate / (n * one):.2f}  (trials/s {rate:.2f} vs {n} x {one:.2f})")
    if "2 workers on 1 host" in rates:
        ratio = rates["2 hosts"] / rates["2 workers on 1 host"]
        print(f"2 hosts / 2 workers on 1 host, trials per second: {ratio:.2f}")
    if "2 hosts, 50 ms each link" in rates:
        ratio = rates["2 hosts, 50 ms each link"] / rates["2 hosts"]
        print(f"50 ms / no added latency, trials per second: {ratio:.2f}")
    elif 2 in counts:
        print("50 ms of latency: not measured, this machine has neither netem nor iptables' NFQUEUE")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="1,2,4", help="worker host counts to run, comma-separated")
    parser.add_argument("--trials", type=int, default=12, help="random-search trials per algorithm")
    parser.add_argument("--rounds", type=int, default=2)
    args = parse(parser, argv, hosts="1,2", trials=1, rounds=1)
    reason = mh.can_create_namespaces()
    if reason:
        raise SystemExit(f"benchmarks/multihost.py needs the multi-host harness: {reason}")
    counts = [int(n) for n in args.hosts.split(",")]
    harness = mh.up()
    try:
        rates = scaling(harness, counts, args.trials, args.rounds, settle=2 if args.quick else 15)
    finally:
        mh.down()
    report(rates, counts)


if __name__ == "__main__":
    main()
