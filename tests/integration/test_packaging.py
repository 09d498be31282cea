"""A regular (non-editable) install, used from another directory, finds its shipped great-expectations suites."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_a_non_editable_install_finds_the_suites(tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target"]
    subprocess.run([*install, str(target), str(REPO)], check=True, capture_output=True, timeout=240)
    probe = (
        "import zygarde, zygarde.settings as s; d = s.get_settings().expectations_dir; "
        "print(zygarde.__file__); print(d); print(sorted(p.name for p in d.glob('*.json')))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    module, folder, suites = done.stdout.splitlines()
    assert module.startswith(str(target)) and folder.startswith(str(target)), done.stdout
    assert "diabetes.json" in suites and "fastfood.json" in suites
