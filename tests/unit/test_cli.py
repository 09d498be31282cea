"""CLI messages: errors are printed as written, even when they quote something that looks like markup."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from zygarde.cli import app


def test_error_messages_keep_their_brackets(tmp_path: Path) -> None:
    space = tmp_path / "space[draft].yaml"
    space.write_text("xgboost: [unclosed")
    result = CliRunner().invoke(app, ["run", "--space", str(space)])
    assert result.exit_code == 1
    assert f"--space {space}: cannot read it as YAML" in " ".join(result.output.split()), result.output
