import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zygarde.errors import ZygardeError
from zygarde.synthetic import churn_table
from zygarde.tabular.columns import DateFeatures, plan_columns
from zygarde.tabular.datasets import prepare_table
from zygarde.tabular.objective import CrossValidationObjective, TrialData


def _kinds(frame: pd.DataFrame, target: str = "y") -> dict[str, str]:
    return {r.column: r.kind for r in plan_columns(frame, target).roles}


def test_a_business_table_gets_one_role_a_column() -> None:
    kinds = _kinds(churn_table(400), "churned")
    assert kinds == {
        "customer_id": "dropped", "plan": "category", "region": "category", "city": "many-level category",
        "autopay": "boolean", "tenure_months": "numeric", "monthly_charges": "numeric", "signup_date": "datetime",
        "notes": "dropped",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["2024-01-31", "2024-02-29", None, "2023-12-01"] * 10, "datetime"),
        (["31/01/2024", "29/02/2024", "01/12/2023", "15/06/2022"] * 10, "datetime"),
        ([20240131, 20240229, 20231201, 20220615] * 10, "datetime"),
        (pd.date_range("2024-01-01", periods=40, freq="h", tz="Europe/Paris"), "datetime"),
        (["yes", "no", None, "yes"] * 10, "boolean"),
        (["March", "April", "May", "June"] * 10, "category"),  # month names alone are no dates
        ([1.5, 2.5, np.nan, 4.0] * 10, "numeric"),
        (pd.to_timedelta([1, 2, 3, 4] * 10, unit="D"), "numeric"),
        ([[1, 2], [3], [4, 5], [6]] * 10, "dropped"),
        ([None] * 40, "dropped"),
    ],
)
def test_column_kinds(values: object, kind: str) -> None:
    frame = pd.DataFrame({"c": values, "y": [0, 1] * 20})
    assert _kinds(frame)["c"] == kind


def test_dates_become_calendar_features_the_same_from_text_or_datetimes() -> None:
    text = pd.DataFrame({"d": ["2024-01-31", "2024-03-01", None]})
    parsed = pd.DataFrame({"d": pd.to_datetime(text["d"])})
    fitted = DateFeatures().fit(parsed)
    out = fitted.transform(text)
    assert out.equals(fitted.transform(parsed))
    assert list(out.columns) == ["d_year", "d_month", "d_day", "d_weekday", "d_dayofyear", "d_days"]
    assert out.loc[1, "d_days"] == 30 and out.loc[1, "d_month"] == 3 and np.isnan(out.loc[2, "d_year"])
    hours = pd.DataFrame({"d": pd.to_datetime(["2024-01-31 08:00", "2024-01-31 17:30"])})
    assert "d_hour" in DateFeatures().fit(hours).get_feature_names_out()


def test_the_plan_prints_as_a_short_table_a_line_a_kind() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = prepare_table(churn_table(400), name="churn", source=Path("churn.csv"), target="churned")
    table = dataset.columns.table()
    assert table.splitlines()[0] == "columns: 7 used, 2 dropped"
    assert re.search(r"city \(1\d\d\)", table) and "target-encoded" in table and "customer_id" in table
    assert "signup_date" not in dataset.dropped and dataset.frame["signup_date"].dtype.kind == "M"


def _data(frame: pd.DataFrame, target: str) -> TrialData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = prepare_table(frame, name="t", source=Path("t.csv"), target=target)
    y = (dataset.frame[target] == dataset.frame[target].iloc[0]).to_numpy().astype(int)
    return TrialData(dataset.frame[dataset.features], y, columns=dataset.columns)


def test_a_column_no_model_can_take_fails_before_the_search_naming_it() -> None:
    frame = pd.DataFrame({"ok": np.arange(60.0), "waves": np.arange(60) * (1 + 2j), "y": [0, 1, 1] * 20})
    data = _data(frame, "y")
    with pytest.raises(ZygardeError, match=r"column 'waves' \(numeric, complex128\) cannot go into a model"):
        CrossValidationObjective("classification", 2, 3, 0).check_round_trip(data)


def test_the_churn_tables_pipeline_survives_the_registrys_round_trip() -> None:
    data = _data(churn_table(300), "churned")
    CrossValidationObjective("classification", 2, 3, 0).check_round_trip(data)  # raises if it would not
