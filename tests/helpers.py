"""What tests share that is not a fixture: the repository's paths, running the installed ``zygarde`` as a user
does and reading what their terminal shows, and stopping the servers a test started."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zygarde.orchestration import free_port

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "raw"

__all__ = ["DATA", "REPO", "CliRun", "assert_one_clear_error", "free_port", "multihost_harness", "report_in_browser",
           "stop_process", "zygarde"]  # fmt: skip


def stop_process(process: subprocess.Popen | None) -> None:
    """Terminate a server a test started; kill it if it has not exited within 20 s."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class CliRun:
    """What a user's terminal showed for one ``zygarde`` command: exit code, stdout and stderr together."""

    code: int
    output: str
    stdout: str
    seconds: float

    def error_lines(self) -> list[str]:
        """Lines that start with ``error:``."""
        return [line for line in self.output.splitlines() if line.startswith("error:")]


def zygarde(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> CliRun:
    """Run the installed ``zygarde`` console script as a subprocess, as a user would."""
    script = Path(sys.executable).with_name("zygarde")
    started = time.perf_counter()
    done = subprocess.run(
        [str(script), *args],
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    return CliRun(done.returncode, done.stdout + done.stderr, done.stdout, seconds)


def assert_one_clear_error(run: CliRun, message: str) -> None:
    """Exit 1, exactly one ``error:`` line, the message, and none of Python's or Prefect's noise."""
    assert run.code == 1, run.output
    assert len(run.error_lines()) == 1, run.output
    assert message in " ".join(run.output.split()), run.output
    for noise in ("Traceback", "Error logging to API", "| INFO", "| ERROR"):
        assert noise not in run.output, run.output


def report_in_browser(run_id: str, folder: Path, headings: tuple[str, ...]) -> str:
    """`zygarde report RUN_ID` as a user runs it (the store of ``folder`` as work dir), the page opened by headless
    Chromium: self-contained, every one of ``headings`` present, rendered (a screenshot, not blank). The DOM."""
    import shutil

    made = zygarde("report", run_id, "--out", str(folder / "report.html"), env={"ZYGARDE_WORK_DIR": str(folder)})
    assert made.code == 0 and "report.html" in made.output, made.output
    page = (folder / "report.html").read_text()
    assert "http://" not in page and "https://" not in page  # self-contained: nothing to fetch
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert browser, "Chromium is needed to open the report (.ci/run installs it: apt-get install chromium)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={folder / 'chromium'}"]  # fmt: skip
    page_uri = (folder / "report.html").as_uri()
    dom = subprocess.run([browser, *flags, "--dump-dom", page_uri], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    for heading in headings:
        assert heading in dom, heading
    shot = folder / "report.png"
    subprocess.run([browser, *flags, "--window-size=1200,2000", f"--screenshot={shot}", page_uri],
                   capture_output=True, timeout=120, check=True)  # fmt: skip
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
    return dom


def multihost_harness() -> Any:
    """``deploy/multihost/harness.py`` (a script, not a package), imported once."""
    import importlib.util

    name = "zygarde_multihost_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "deploy" / "multihost" / "harness.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]
