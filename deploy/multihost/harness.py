"""Several hosts on one machine: a network namespace per host on a bridge of its own, each with its own address,
host name, mounts and disk, running zygarde from a wheel installed outside the repository.

    sudo python deploy/multihost/harness.py up      # build the hosts, start the services (prints the addresses)
    sudo python deploy/multihost/harness.py run driver -- zygarde run diabetes
    sudo python deploy/multihost/harness.py down    # stop every process it started, remove the hosts

Hosts (``HOSTS``): the Prefect server, the MLflow tracking server (SQLite on its own disk, artifacts proxied:
clients get ``mlflow-artifacts:`` URIs, never a path), the Dask scheduler, four Dask worker hosts (two with a
worker unless asked), a Spark master and worker, and the driver that runs ``zygarde``. Their addresses
(``SUBNET``.x) live on the bridge of a namespace of their own: the machine's own namespace has no leg on it,
and nothing routes, forwards or NATs out.
Every host but the driver sees neither the repository nor the driver's temp dir: each gets a private ``/tmp``
and the repository's parent hidden; what it keeps is its own disk (``/srv``, kept across restarts of its
processes), one folder every host mounts (``SHARED``: where a table Spark reads lives, as it would on NFS, HDFS
or S3), and the software: a venv whose site-packages hold the wheel built from the checkout, its
dependencies read-only from the repository's environment.

Faults: ``link`` takes a host's cable out; ``latency`` delays every packet each host sends (netem, or where the
kernel has none, an NFQUEUE rule and ``delay.py``). What the harness starts it records (``STATE/processes.json``)
and stops by that record; ``down`` removes the namespaces (their links and rules go with them) and the hosts
files, whatever is left from an earlier run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

PREFIX = "zgmh"
SUBNET = "10.77.0"  # the harness's own bridge: reachable from its hosts only
# named as docker/docker-compose.yml names the services (a test compares the two)
HOSTS = {"driver": 2, "prefect-server": 10, "mlflow": 11, "dask-scheduler": 12, "worker1": 21, "worker2": 22,
         "worker3": 23, "worker4": 24, "spark-master": 31, "spark-worker": 32}  # fmt: skip
# worker3 and worker4 have no processes unless asked for (benchmarks/multihost.py scales to four worker hosts)
STATE = Path(os.environ.get("ZYGARDE_MULTIHOST_STATE", "/tmp/zygarde-multihost"))
SOFTWARE = Path(os.environ.get("ZYGARDE_MULTIHOST_SOFTWARE", "/opt/zygarde-multihost"))
REPO = Path(__file__).resolve().parents[2]
PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"

SHARED = "/srv/shared"  # the one folder every host mounts (a network file system's stand-in): tables Spark reads
WORKER_TTL = "15s"
PORTS = {"prefect-server": 4200, "mlflow": 5000, "dask-scheduler": 8786, "spark-master": 7077}
ENV = {  # what every zygarde process on every host is told: the services by host name
    "PREFECT_API_URL": f"http://prefect-server:{PORTS['prefect-server']}/api",
    "MLFLOW_TRACKING_URI": f"http://mlflow:{PORTS['mlflow']}",
    "ZYGARDE_DASK_ADDRESS": f"tcp://dask-scheduler:{PORTS['dask-scheduler']}",
    "ZYGARDE_SPARK_MASTER": f"spark://spark-master:{PORTS['spark-master']}",  # used by --engine spark only
    "ZYGARDE_SPARK_SHARED_DIR": f"{SHARED}/spark",  # where Spark's executors write a model for MLflow to copy
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def address(host: str) -> str:
    """The host's address on the harness's bridge."""
    return f"{SUBNET}.{HOSTS[host]}"


def namespace(host: str) -> str:
    """The host's network namespace."""
    return f"{PREFIX}-{host}"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command of the machine (ip, tc), its output captured."""
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def can_create_namespaces() -> str | None:
    """None where this machine can build the hosts; else why not (not root, no ``ip netns``, no veth)."""
    if os.geteuid() != 0:
        return "the multi-host harness needs root (network namespaces, mounts)"
    if not shutil.which("ip") or not shutil.which("unshare"):
        return "the multi-host harness needs iproute2's `ip` and util-linux's `unshare`"
    probe = f"{PREFIX}-probe"
    made = sh("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"this machine cannot create network namespaces: {made.stderr.strip()}"
    veth = sh("ip", "-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1", check=False)
    sh("ip", "netns", "delete", probe, check=False)
    return None if veth.returncode == 0 else f"this machine cannot create veth links: {veth.stderr.strip()}"


# ---------------------------------------------------------------------------------------------------- software


def install(rebuild: bool = True) -> Path:
    """The hosts' venv under ``SOFTWARE``: the wheel built from the checkout in its site-packages, the
    dependencies from this environment (``deps``, bind-mounted read-only into each host), console scripts for
    every entry point. Returns its python."""
    venv = SOFTWARE / "venv"
    site = venv / "lib" / PYTHON / "site-packages"
    if rebuild:
        shutil.rmtree(SOFTWARE, ignore_errors=True)
    if not (venv / "bin" / "python").exists():
        base = sys._base_executable  # the interpreter this environment was made from
        subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
        (SOFTWARE / "deps").mkdir(parents=True, exist_ok=True)
        wheels = SOFTWARE / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(wheels), str(REPO)], check=True, capture_output=True)  # fmt: skip
        wheel = next(wheels.glob("zygarde-*.whl"))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target",
                        str(site), str(wheel)], check=True, capture_output=True)  # fmt: skip
        (site / "_zygarde_multihost_deps.pth").write_text(f"{SOFTWARE / 'deps'}\n")
        _console_scripts(venv)
    return venv / "bin" / "python"


def dependencies() -> Path:
    """This environment's site-packages: what the hosts' venv reads its dependencies from."""
    return Path(sysconfig.get_paths()["purelib"])


def _console_scripts(venv: Path) -> None:
    """A script in the venv's bin/ for every console entry point of this environment (mlflow, uvicorn, prefect,
    dask, zygarde ...): servers start their helpers by name."""
    from importlib.metadata import entry_points

    python = venv / "bin" / "python"
    for point in entry_points(group="console_scripts"):
        module, _, attribute = point.value.partition(":")
        script = venv / "bin" / point.name
        call = f"{attribute.split('.')[0]}()" if attribute else "None"
        attribute_import = f"from {module} import {attribute.split('.')[0]}" if attribute else f"import {module}"
        # the main guard: a worker's processes are spawned, and re-import the main module
        script.write_text(f"#!{python}\nimport sys\n{attribute_import}\nif __name__ == '__main__':\n"
                          f"    sys.exit({call})\n")  # fmt: skip
        script.chmod(0o755)


# ---------------------------------------------------------------------------------------------------- network


def build_network() -> None:
    """The switch namespace and its bridge; one namespace per host, linked to the bridge by a veth pair; the
    hosts files naming every host."""
    switch = f"{PREFIX}-switch"
    sh("ip", "netns", "add", switch)
    sh("ip", "-n", switch, "link", "add", "br0", "type", "bridge")
    sh("ip", "-n", switch, "link", "set", "br0", "up")
    hosts_file = "127.0.0.1 localhost\n" + "".join(f"{address(h)} {h}\n" for h in HOSTS)
    for host, number in HOSTS.items():
        ns, port = namespace(host), f"{PREFIX}-v{number}"
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", port, "netns", switch)
        sh("ip", "-n", switch, "link", "set", port, "master", "br0")
        sh("ip", "-n", switch, "link", "set", port, "up")
        sh("ip", "-n", ns, "addr", "add", f"{address(host)}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        etc = Path("/etc/netns") / ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(hosts_file)
        (etc / "hostname").write_text(f"{host}\n")


def link(host: str, up: bool) -> None:
    """Take the host's link to the bridge down (a cable pulled) or up again."""
    sh("ip", "-n", f"{PREFIX}-switch", "link", "set", f"{PREFIX}-v{HOSTS[host]}", "up" if up else "down")


def _probe(*command: str) -> bool:
    """Whether ``command`` succeeds in a throwaway namespace (what this kernel and machine can do)."""
    probe = f"{PREFIX}-probe"
    sh("ip", "netns", "add", probe, check=False)
    try:
        sh("ip", "-n", probe, "link", "set", "lo", "up", check=False)
        return sh("ip", "netns", "exec", probe, *command, check=False).returncode == 0
    finally:
        sh("ip", "netns", "delete", probe, check=False)


def has_netem() -> bool:
    """Whether this kernel has the netem queueing discipline."""
    return _probe("tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")


QUEUE_RULE = ["OUTPUT", "-o", "eth0", "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"]


def can_delay() -> bool:
    """Whether latency can be added: netem, or else iptables' NFQUEUE target and a netfilter queue (``delay.py``)."""
    if has_netem():
        return True
    return shutil.which("iptables") is not None and _probe("iptables", "-A", *QUEUE_RULE)


def latency(harness: Harness, milliseconds: int, lifetime: float = 1200) -> None:
    """Add ``milliseconds`` of delay to every packet each host sends to the others (0: none). With netem, a qdisc on
    each host's link; without, an NFQUEUE rule and a ``delay.py`` process per host (recorded: ``down`` stops it,
    and it ends by itself after ``lifetime`` seconds)."""
    netem = has_netem()
    for host in HOSTS:
        ns = namespace(host)
        harness.stop(f"delay-{host}", grace=2)
        sh("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", "eth0", "root", check=False)
        if shutil.which("iptables"):
            sh("ip", "netns", "exec", ns, "iptables", "-D", *QUEUE_RULE, check=False)
        if not milliseconds:
            continue
        if netem:
            sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay",
               f"{milliseconds}ms")  # fmt: skip
            continue
        source = (Path(__file__).with_name("delay.py")).read_text()  # the hosts cannot see the repository
        harness.start(f"delay-{host}", host, [str(SOFTWARE / "venv" / "bin" / "python"), "-c", source,
                                              str(milliseconds), str(lifetime)])  # fmt: skip
        sh("ip", "netns", "exec", ns, "iptables", "-A", *QUEUE_RULE)


# ---------------------------------------------------------------------------------------------------- processes


def host_argv(host: str, argv: list[str]) -> list[str]:
    """``argv`` run as a process of ``host``: its network namespace, host name, and private mounts (its own
    ``/tmp``, its disk at ``/srv``, the shared folder at ``SHARED``, the repository's parent hidden, the
    dependencies read-only)."""
    disk, shared = STATE / "disks" / host, STATE / "shared"
    disk.mkdir(parents=True, exist_ok=True)
    shared.mkdir(parents=True, exist_ok=True)
    deps = SOFTWARE / "deps"
    steps = [
        f"mount --bind {shlex.quote(str(dependencies()))} {deps} && mount -o remount,bind,ro {deps}",
        f"mkdir -p /srv && mount --bind {shlex.quote(str(disk))} /srv",
        f"mkdir -p {SHARED} && mount --bind {shlex.quote(str(shared))} {SHARED}",
        f"mount -t tmpfs tmpfs {shlex.quote(str(REPO.parent))}",
        "mount -t tmpfs tmpfs /tmp",
        f"hostname {host}",
        "cd /srv",  # the caller's directory may be hidden here
        'exec "$@"',
    ]
    return ["ip", "netns", "exec", namespace(host), "unshare", "--mount", "--uts", "--propagation", "private", "--",
            "sh", "-ec", "; ".join(steps), host, *argv]  # fmt: skip


@dataclass
class Harness:
    """The running hosts: their processes by name, and how to run more."""

    processes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def environment(self, host: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A host's environment: the services by name, the venv first on PATH, its own work dir."""
        path = f"{SOFTWARE / 'venv' / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM", "JAVA_HOME")}
        return {**keep, **ENV, "PATH": path, "HOME": "/srv", "ZYGARDE_WORK_DIR": "/srv/work", **(extra or {})}

    def start(self, name: str, host: str, argv: list[str], extra: dict[str, str] | None = None) -> int:
        """Start ``argv`` on ``host`` in the background (logs under ``STATE/logs``); its pid, recorded."""
        logs = STATE / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.log", "ab") as out:
            process = subprocess.Popen(host_argv(host, argv), env=self.environment(host, extra), stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        self.processes[name] = {"pid": process.pid, "host": host, "argv": argv}
        self.save()
        return process.pid

    def run(self, host: str, argv: list[str], extra: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run ``argv`` on ``host`` to the end; its output (stdout and stderr apart)."""
        return subprocess.run(host_argv(host, argv), env=self.environment(host, extra), capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip

    def stop(self, name: str, grace: float = 10) -> None:
        """Stop one recorded process (its whole session): SIGTERM, then SIGKILL after ``grace`` seconds."""
        entry = self.processes.pop(name, None)
        self.save()
        if entry is None:
            return
        pid = int(entry["pid"])
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and psutil.pid_exists(pid):
            time.sleep(0.2)
        _signal_group(pid, signal.SIGKILL)

    def save(self) -> None:
        STATE.mkdir(parents=True, exist_ok=True)
        (STATE / "processes.json").write_text(json.dumps(self.processes, indent=2))

    @classmethod
    def load(cls) -> Harness:
        path = STATE / "processes.json"
        return cls(json.loads(path.read_text())) if path.exists() else cls()

    def wait_for(self, host: str, port: int, timeout: float = 120) -> None:
        """Until something on ``host`` accepts connections on ``port`` (asked from the host itself)."""
        probe = (f"import socket,time,sys\nd=time.time()+{timeout}\nwhile True:\n try:\n  socket.create_connection("
                 f"('{address(host)}',{port}),2).close(); break\n except OSError:\n  time.sleep(0.5)\n  "
                 "if time.time()>d: sys.exit(1)")  # fmt: skip
        done = self.run(host, [str(SOFTWARE / "venv" / "bin" / "python"), "-c", probe], timeout=timeout + 30)
        if done.returncode != 0:
            raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:g} s; see {STATE / 'logs'}")


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


# ---------------------------------------------------------------------------------------------------- services


def start_services(harness: Harness, workers: tuple[str, ...] = ("worker1", "worker2")) -> None:
    """The Prefect server, the MLflow tracking server (artifacts proxied), the Dask scheduler and workers."""
    harness.start("prefect", "prefect-server", ["prefect", "server", "start", "--host", address("prefect-server"),
                                                "--port", str(PORTS["prefect-server"])],
                  {"PREFECT_HOME": "/srv/prefect"})  # fmt: skip
    start_mlflow(harness)
    # a worker that stops answering is given up after WORKER_TTL (Dask's default: 5 minutes), its tasks rerun elsewhere
    harness.start("scheduler", "dask-scheduler", ["dask", "scheduler", "--host", address("dask-scheduler"), "--port",
                                                  str(PORTS["dask-scheduler"]), "--no-dashboard"],
                  {"DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL": WORKER_TTL})  # fmt: skip
    harness.wait_for("dask-scheduler", PORTS["dask-scheduler"])
    for host in workers:
        start_worker(harness, host)
    harness.wait_for("mlflow", PORTS["mlflow"])
    harness.wait_for("prefect-server", PORTS["prefect-server"])


def start_mlflow(harness: Harness) -> None:
    """The tracking server: SQLite on its host's disk, artifacts stored there and proxied to every client."""
    mlflow_hosts = f"mlflow,mlflow:{PORTS['mlflow']},{address('mlflow')},{address('mlflow')}:{PORTS['mlflow']}"
    harness.start("mlflow", "mlflow", ["mlflow", "server", "--host", address("mlflow"), "--port", str(PORTS["mlflow"]),
                                       "--backend-store-uri", "sqlite:////srv/mlflow.db", "--artifacts-destination",
                                       "/srv/mlartifacts", "--serve-artifacts", "--workers", "1",
                                       "--allowed-hosts", mlflow_hosts])  # fmt: skip


def start_spark(harness: Harness) -> None:
    """A Spark standalone master and one worker, each on its own host, from the environment's pyspark. The worker
    offers 3 cores and 3g (an executor of 1g each): one for each Dask worker's Spark driver (held until that worker
    stops) and one for the refit's."""
    home = str(SOFTWARE / "deps" / "pyspark")
    spark = {"SPARK_HOME": home, "SPARK_WORKER_DIR": "/srv/spark-work", "SPARK_LOG_DIR": "/srv/spark-logs",
             "SPARK_NO_DAEMONIZE": "1", "PYSPARK_PYTHON": str(SOFTWARE / "venv" / "bin" / "python")}  # fmt: skip
    master = f"spark://spark-master:{PORTS['spark-master']}"
    # named by host name: Spark's RPC drops messages addressed to another name than the one it bound
    harness.start("spark-master", "spark-master", ["bash", f"{home}/bin/spark-class",
                  "org.apache.spark.deploy.master.Master", "--host", "spark-master", "--port",
                  str(PORTS["spark-master"]), "--webui-port", "8080"], spark)  # fmt: skip
    harness.wait_for("spark-master", PORTS["spark-master"])
    harness.start("spark-worker", "spark-worker", ["bash", f"{home}/bin/spark-class",
                  "org.apache.spark.deploy.worker.Worker", master, "--host", "spark-worker", "--cores", "3",
                  "--memory", "3g", "--webui-port", "8081"], spark)  # fmt: skip


def start_worker(harness: Harness, host: str, name: str | None = None, threads: int = 1) -> None:
    """One Dask worker process (``name``, default the host's) of ``threads`` threads on ``host``, advertising the
    host's own address."""
    name = name or host
    harness.start(name, host, ["dask", "worker", ENV["ZYGARDE_DASK_ADDRESS"], "--host", address(host), "--name", name,
                               "--nworkers", "1", "--nthreads", str(threads), "--no-dashboard", "--local-directory",
                               f"/srv/dask-{name}"])  # fmt: skip


# ---------------------------------------------------------------------------------------------------- up, down


def up(rebuild: bool = True) -> Harness:
    """Remove what an earlier run left (its hosts' disks and logs too), install the software, build the hosts, start
    the services."""
    down()
    shutil.rmtree(STATE, ignore_errors=True)
    install(rebuild)
    build_network()
    harness = Harness()
    start_services(harness)
    return harness


def down() -> list[str]:
    """Stop every recorded process, delete the namespaces and hosts files; what was removed, in words."""
    removed = []
    harness = Harness.load()
    for name in list(harness.processes):
        harness.stop(name, grace=5)
        removed.append(f"process {name}")
    listed = sh("ip", "netns", "list", check=False).stdout.split()
    for ns in [n for n in listed if n.startswith(f"{PREFIX}-")]:
        sh("ip", "netns", "delete", ns, check=False)
        shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        removed.append(f"namespace {ns}")
    return removed


def leftovers() -> list[str]:
    """What of the harness still exists: namespaces, links, hosts files, processes in its namespaces."""
    found = [f"namespace {n}" for n in sh("ip", "netns", "list", check=False).stdout.split() if n.startswith(PREFIX)]
    found += [f"link {line.split(':')[1].strip()}" for line in sh("ip", "-o", "link", check=False).stdout.splitlines()
              if f" {PREFIX}-" in line]  # fmt: skip
    found += [f"hosts file {p}" for p in Path("/etc/netns").glob(f"{PREFIX}-*")] if Path("/etc/netns").exists() else []
    found += [
        f"process {name}" for name, entry in Harness.load().processes.items() if psutil.pid_exists(int(entry["pid"]))
    ]
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up")
    commands.add_parser("down")
    runner = commands.add_parser("run")
    runner.add_argument("host", choices=list(HOSTS))
    runner.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    reason = can_create_namespaces()
    if reason:
        raise SystemExit(reason)
    if args.command == "up":
        up()
        print("\n".join(f"{h:13} {address(h)}" for h in HOSTS))
    elif args.command == "down":
        print("\n".join(down()) or "nothing to remove")
    else:
        done = Harness.load().run(args.host, [a for a in args.argv if a != "--"])
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        raise SystemExit(done.returncode)


if __name__ == "__main__":
    main()
