from pathlib import Path

import pandas as pd

from tests.helpers import DATA, REPO
from zygarde.settings import get_settings
from zygarde.tabular.config import parse_config
from zygarde.tabular.datasets import TabularDataset, load_dataset, prepare_table
from zygarde.tabular.family import TabularFamily
from zygarde.validation import ValidationReport

EXPECTATIONS = REPO / "expectations"


def validate_dataset(dataset: TabularDataset, expectations: Path, cv: int) -> ValidationReport:
    return TabularFamily(parse_config(cv=cv)).validate(dataset, expectations)


def test_shipped_diabetes_passes_its_suite() -> None:
    report = validate_dataset(load_dataset("diabetes", data_root=DATA), EXPECTATIONS, cv=5)
    assert report.success and report.suite == "diabetes" and report.evaluated > 25


def test_broken_diabetes_lists_each_failed_expectation() -> None:
    dataset = load_dataset("diabetes", data_root=DATA)
    dataset.frame.loc[0, "Glucose"] = 999
    dataset.frame = dataset.frame.drop(columns=["BMI"])
    text = validate_dataset(dataset, EXPECTATIONS, cv=5).describe()
    assert "expect_column_values_to_be_between on Glucose" in text and "[999]" in text
    assert "on BMI" in text and "the column is missing" in text


def test_baseline_suite_for_a_users_table() -> None:
    ok = prepare_table(
        pd.DataFrame({"x": [i % 4 for i in range(30)], "y": [0, 1, 2] * 10}),
        name="mine",
        source=DATA / "mine.csv",
        target="y",
    )
    assert validate_dataset(ok, EXPECTATIONS, cv=5).success
    few = prepare_table(pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]}), name="few", source=DATA / "few.csv", target="y")
    report = validate_dataset(few, EXPECTATIONS, cv=5)
    assert not report.success and "expect_table_row_count_to_be_between" in report.describe()


def test_expectations_dir_setting_points_at_the_shipped_suites() -> None:
    assert (get_settings().expectations_dir / "diabetes.json").read_text() == (
        EXPECTATIONS / "diabetes.json"
    ).read_text()
