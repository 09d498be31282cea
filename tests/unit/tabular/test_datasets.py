import re
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import DATA
from zygarde.errors import ZygardeError
from zygarde.tables import DataQualityWarning, read_table
from zygarde.tabular.datasets import infer_task, load_dataset, prepare_table


def test_builtin_diabetes_loads_with_its_target_and_quirks() -> None:
    dataset = load_dataset("diabetes", data_root=DATA)
    assert dataset.target == "Outcome" and dataset.task == "classification"
    assert len(dataset.frame) == 768 and "Insulin" in dataset.zero_as_missing
    assert dataset.features == [c for c in dataset.frame.columns if c != "Outcome"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        (b"", "empty (0 bytes)"),
        (b"\n\n", "no columns or rows"),
        (b"a,b\n", "no data rows"),
        (b"a,b\n1,2\n3,4,5,6\n", "could not be read as CSV"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00garbage\xff", "could not be read as CSV"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "table.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ZygardeError, match=re.escape(message)) as error:
        read_table(path)
    assert str(path) in str(error.value)


def test_unknown_builtin_and_missing_target_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ZygardeError, match="Unknown dataset 'nope'"):
        load_dataset("nope", data_root=DATA)
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1, 2], "y": [0, 1]}).to_csv(path, index=False)
    with pytest.raises(ZygardeError, match="target"):
        load_dataset(str(path), data_root=DATA)
    with pytest.raises(ZygardeError, match=re.escape("target column 'label' not found. Columns are: a, y")):
        load_dataset(str(path), data_root=DATA, target="label")


def test_empty_and_identifier_columns_are_dropped_with_a_warning_naming_them() -> None:
    n = 50
    frame = pd.DataFrame(
        {
            "id": range(n),
            "name": [f"item {i}" for i in range(n)],
            "empty": [None] * n,
            "x": [i % 7 for i in range(n)],
            "y": [i % 2 for i in range(n)],
        }
    )
    with pytest.warns(DataQualityWarning) as caught:
        dataset = prepare_table(frame, name="t", source=Path("t.csv"), target="y")
    messages = " ".join(str(w.message) for w in caught)
    assert "'id'" in messages and "'name'" in messages and "'empty'" in messages
    assert dataset.features == ["x"] and set(dataset.dropped) == {"id", "name", "empty"}


def test_task_inference() -> None:
    assert infer_task(pd.Series([0, 1, 1, 0])) == "classification"
    assert infer_task(pd.Series(["cat", "dog"])) == "classification"
    assert infer_task(pd.Series([0.5, 1.25, 3.0, 8.1])) == "regression"
    assert infer_task(pd.Series(range(100))) == "regression"


def test_a_builtin_with_another_target_predicts_that_column_and_competes_apart() -> None:
    from zygarde.tabular.config import parse_config
    from zygarde.tabular.family import TabularFamily

    bmi = load_dataset("diabetes", data_root=DATA, target="BMI")
    assert bmi.target == "BMI" and bmi.task == "regression"
    assert len(bmi.frame) == 768 - 11 and "BMI" not in bmi.zero_as_missing  # BMI 0 means "not measured"
    own = TabularFamily(parse_config()).identify(load_dataset("diabetes", data_root=DATA))
    other = TabularFamily(parse_config(target="BMI")).identify(bmi)
    assert own.registry_name == "zygarde-diabetes"
    assert other.registry_name.startswith("zygarde-diabetes-bmi-") and other.registry_name != own.registry_name


def test_a_users_file_named_like_a_builtin_does_not_compete_with_it(tmp_path: Path) -> None:
    from zygarde.tabular.config import parse_config
    from zygarde.tabular.family import TabularFamily

    copy = tmp_path / "diabetes.csv"
    copy.write_bytes((DATA / "diabetes.csv").read_bytes())
    family = TabularFamily(parse_config(dataset=str(copy), target="Outcome"))
    assert family.identify(family.load()).registry_name.startswith("zygarde-diabetes-outcome-")


def test_a_file_named_as_a_builtins_batch_competes_with_that_builtin(tmp_path: Path, diabetes: pd.DataFrame) -> None:
    from zygarde.tabular.config import parse_config
    from zygarde.tabular.family import TabularFamily

    batch = tmp_path / "2026-11-27-batch.csv"
    diabetes.sample(frac=0.5, random_state=0).to_csv(batch, index=False)
    family = TabularFamily(parse_config(dataset=str(batch), name="diabetes"))
    loaded = family.load()
    assert loaded.builtin and loaded.target == "Outcome" and loaded.source == batch
    assert family.identify(loaded).registry_name == "zygarde-diabetes"
    unnamed = TabularFamily(parse_config(dataset=str(batch), target="Outcome"))
    assert unnamed.identify(unnamed.load()).registry_name != "zygarde-diabetes"
