"""Data validation with great-expectations 1.x: suites as JSON (GX form), run on a frame in an ephemeral context."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@dataclass
class ValidationReport:
    """Outcome of a suite on a table: which expectations failed, on which column, with what evidence."""

    suite: str
    evaluated: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    checked: list[dict[str, Any]] = field(default_factory=list)  # every expectation: kind, column, held
    # what else the run should record about the data (e.g. quarantined files): JSON artifacts, metrics, tables
    artifacts: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, float] = field(default_factory=dict)
    tables: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """True when every expectation held."""
        return not self.failures

    def describe(self) -> str:
        """A readable list of the failed expectations (or a one-line pass)."""
        if self.success:
            return f"suite {self.suite!r}: all {self.evaluated} expectations passed"
        lines = [f"suite {self.suite!r}: {len(self.failures)} of {self.evaluated} expectations failed:"]
        lines += [f"  - {f['expectation']} on {f['column'] or 'the table'}: {f['details']}" for f in self.failures]
        return "\n".join(lines)


def load_suite(expectations_dir: Path, name: str) -> dict[str, Any] | None:
    """The stored suite ``<name>.json`` under ``expectations_dir``, or None when there is none."""
    path = expectations_dir / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def run_suite(frame: pd.DataFrame, suite: dict[str, Any]) -> ValidationReport:
    """Validate ``frame`` against a suite (GX JSON form) in an ephemeral GX context."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite["name"], expectations=suite["expectations"]))
    asset = context.data_sources.add_pandas("zygarde").add_dataframe_asset("table")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame})
    outcome = batch.validate(gx_suite)
    failures = [_describe_failure(r, set(frame.columns)) for r in outcome.results if not r.success]
    checked = [{"expectation": r.expectation_config.type, "column": r.expectation_config.kwargs.get("column", ""),
                "held": bool(r.success)} for r in outcome.results]  # fmt: skip
    return ValidationReport(suite["name"], len(outcome.results), failures, checked)


def _describe_failure(result: Any, columns: set[str]) -> dict[str, Any]:
    kwargs = {k: v for k, v in result.expectation_config.kwargs.items() if k not in ("batch_id", "column")}
    details = dict(result.result or {})
    column = result.expectation_config.kwargs.get("column")
    if column is not None and column not in columns:
        evidence = "the column is missing"
    elif result.exception_info and result.exception_info.get("raised_exception"):
        evidence = result.exception_info.get("exception_message", "could not be evaluated")
    elif "unexpected_count" in details:
        evidence = (
            f"{details['unexpected_count']} unexpected values, e.g. {details.get('partial_unexpected_list', [])[:5]}"
        )
    else:
        evidence = f"observed {details.get('observed_value')!r}"
    expected = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return {
        "expectation": result.expectation_config.type,
        "column": column,
        "details": f"expected {expected or 'to hold'}; {evidence}",
    }


def with_baseline(stored: dict[str, Any] | None, baseline: dict[str, Any]) -> dict[str, Any]:
    """A stored suite (shipped data) extended by the baseline every table must pass; the baseline alone without one."""
    if stored is None:
        return baseline
    return {"name": stored["name"], "expectations": stored["expectations"] + baseline["expectations"]}


def expect(kind: str, **kwargs: Any) -> dict[str, Any]:
    """One expectation in GX's JSON form: ``expect("column_to_exist", column="x")``."""
    return {"type": f"expect_{kind}", "kwargs": kwargs}
