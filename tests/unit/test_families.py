"""The registry of kinds: every surface (CLI, job spec, served deployments) offers what it lists, and each
entry's parts resolve."""

from __future__ import annotations

from importlib import import_module
from typing import get_args

import pytest

from zygarde.config import RunConfig
from zygarde.errors import ZygardeError
from zygarde.families import FAMILIES, family_kind
from zygarde.jobs import JobSpec, Kind


def test_every_kind_resolves_its_config_family_flow_and_printer() -> None:
    for entry in FAMILIES.values():
        config = entry.parse(dataset=entry.config_type().model_fields["dataset"].default)
        assert isinstance(config, RunConfig)
        family = entry.family(config)
        assert family.kind == entry.kind and family.config is config
        assert entry.training_flow().name == entry.deployment
        module, name = entry.printer.split(":")
        assert callable(getattr(import_module(module), name))


def test_the_job_spec_and_the_cli_offer_exactly_the_registered_kinds() -> None:
    from typer.main import get_command

    from zygarde.cli import app

    assert set(get_args(Kind)) == set(FAMILIES)
    assert JobSpec.model_fields["kind"].annotation == Kind
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert {entry.command for entry in FAMILIES.values()} <= commands


def test_an_unknown_kind_is_named() -> None:
    with pytest.raises(ZygardeError, match="Unknown kind 'audio'; choose from tabular, cluster, vision"):
        family_kind("audio")
