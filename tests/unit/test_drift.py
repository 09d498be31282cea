"""The drift check's champion metrics: loaded in the model's own flavour, and only for a labelled batch."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from zygarde.drift import champion_on_batch
from zygarde.registry import StoredReference


def _reference(name: str) -> StoredReference:
    features = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    return StoredReference(name=name, version="1", features=features, target="y", task="classification",
                           classes=["0", "1"], run_id="", trained_on="")  # fmt: skip


def test_an_unlabelled_batch_never_loads_the_model(tracking_uri: str) -> None:
    """The model here does not exist: a check that loaded it for an unlabelled batch would fail."""
    batch = pd.DataFrame({"a": [1.0, 5.0]})
    assert champion_on_batch(tracking_uri, _reference("zygarde-nowhere"), batch) is None


def test_a_labelled_batch_loads_the_model_it_scores(tracking_uri: str) -> None:
    batch = pd.DataFrame({"a": [1.0, 5.0], "y": [0, 1]})
    with pytest.raises(MlflowException):
        champion_on_batch(tracking_uri, _reference("zygarde-nowhere"), batch)
