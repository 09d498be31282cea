"""The wheel's package list is explicit (``pyproject.toml``): a new package folder left out of it installs nowhere
but an editable checkout, and a real install fails on its first import."""

from __future__ import annotations

import tomllib

from setuptools import find_packages

from tests.helpers import REPO


def test_every_package_folder_is_in_the_wheel() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {f"zygarde.{name}" for name in find_packages(str(REPO / "zygarde"))} | {"zygarde"}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
