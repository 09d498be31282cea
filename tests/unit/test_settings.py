"""Where zygarde keeps what it writes at run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO
from zygarde.settings import get_settings


def test_ingested_batches_stay_out_of_the_source_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a checkout, `zygarde ingest` copied each batch into the shipped data/raw/incoming/."""
    monkeypatch.setenv("ZYGARDE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("ZYGARDE_DATA_ROOT", raising=False)
    settings = get_settings()
    assert settings.incoming_dir == tmp_path / "work" / "incoming"
    assert not settings.incoming_dir.resolve().is_relative_to(REPO)
    settings.check_data_path(settings.incoming_dir / "diabetes" / "batch.csv")  # a deployment may read it


def test_a_data_root_the_user_sets_keeps_the_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZYGARDE_DATA_ROOT", str(tmp_path / "data"))
    assert get_settings().incoming_dir == tmp_path / "data" / "incoming"
