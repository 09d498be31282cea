"""`zygarde make-data`: reproducible partitioned Parquet, read back as one table; folders with mixed schemas refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import zygarde
from zygarde.errors import ZygardeError
from zygarde.synthetic import make_table
from zygarde.tables import read_table


def test_parts_are_reproducible_and_read_back_as_one_table(tmp_path: Path) -> None:
    first = make_table(tmp_path / "a", 2500, 6, seed=7, rows_per_part=1000)
    again = make_table(tmp_path / "b", 2500, 6, seed=7, rows_per_part=1000)
    assert first.parts == 3 and sorted(p.name for p in (tmp_path / "a").glob("*.parquet"))[-1] == "part-00002.parquet"
    table = read_table(tmp_path / "a")
    assert table.shape == (2500, 7) and set(table["label"]) == {0, 1}
    pd.testing.assert_frame_equal(table, read_table(tmp_path / "b"))
    assert json.loads((tmp_path / "a" / "_zygarde.json").read_text())["rows"] == 2500 == again.rows
    other_seed = read_table(Path(make_table(tmp_path / "c", 2500, 6, seed=8, rows_per_part=1000).path))
    assert not table.equals(other_seed)


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(ZygardeError, match="exists and is not empty"):
        make_table(tmp_path / "out", 10, 2)
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep"


def test_a_part_with_another_schema_is_named(tmp_path: Path) -> None:
    make_table(tmp_path / "t", 200, 3, rows_per_part=100)
    odd = tmp_path / "t" / "part-00009.parquet"
    pd.DataFrame({"x0": ["a"], "x1": [1.0], "x2": [1.0], "label": [1]}).to_parquet(odd, index=False)
    with pytest.raises(ZygardeError, match=r"part-00009\.parquet does not share the schema of part-00000\.parquet"):
        read_table(tmp_path / "t")


def test_the_tabular_family_trains_on_a_parquet_folder(tmp_path: Path) -> None:
    from zygarde.tabular.config import parse_config
    from zygarde.tabular.family import TabularFamily

    make_table(tmp_path / "t", 600, 5, rows_per_part=250)
    family = TabularFamily(parse_config(dataset=str(tmp_path / "t"), target="label", cv=3))
    family.preflight()
    assert family.load().frame.shape == (600, 6)


def test_make_data_from_the_command_line(tmp_path: Path) -> None:
    run = zygarde(
        "make-data", "--rows", "1200", "--features", "4", "--rows-per-part", "500", "--out", str(tmp_path / "d")
    )
    assert run.code == 0 and "1,200 rows x 4 features in 3 parts" in run.output, run.output
