"""The job spec: one model for `zygarde submit`, the job form and an event's payload."""

from __future__ import annotations

import pytest

from zygarde.cluster.config import ClusterRunConfig
from zygarde.errors import ZygardeError
from zygarde.jobs import parse_spec
from zygarde.tabular.config import TabularRunConfig


def test_a_spec_becomes_its_familys_run_config() -> None:
    tabular = parse_spec({"data": "diabetes", "algorithms": ["rf"], "spaces": {"rf": {"max_depth": [3]}},
                          "options": {"cv": 3}}).run_config()  # fmt: skip
    assert isinstance(tabular, TabularRunConfig) and tabular.cv == 3 and tabular.space == {"rf": {"max_depth": [3]}}
    cluster = parse_spec({"kind": "cluster", "data": "fastfood", "options": {"max_clusters": 5}}).run_config()
    assert isinstance(cluster, ClusterRunConfig) and cluster.max_clusters == 5


def test_an_invalid_spec_names_every_bad_field_at_once() -> None:
    spec = {"data": "diabetes", "trials": 0, "algorithms": ["svm"], "min_workers": 4,
            "notify": {"email": ["nobody"], "webhook": ["ftp://x"]}, "colour": "red", "options": {"cv": 1}}  # fmt: skip
    with pytest.raises(ZygardeError) as raised:
        parse_spec(spec, "job.yaml")
    message = str(raised.value)
    assert message.startswith("job.yaml: invalid job spec:")
    for problem in ("trials:", "notify.email:", "notify.webhook:", "colour:", "min_workers:", "algorithms:",
                    "options.cv:"):  # fmt: skip
        assert problem in message, message


def test_fields_of_another_family_are_refused() -> None:
    with pytest.raises(ZygardeError, match="target: applies to tabular jobs only, not cluster"):
        parse_spec({"kind": "cluster", "target": "calories"})
