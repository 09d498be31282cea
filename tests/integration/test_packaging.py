"""A regular (non-editable) install, used from another directory: it finds its shipped suites and deployments, and
loads a model registered from the development checkout (the model needs only the installed package's classes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _registered_pipeline(tracking_uri: str) -> str:
    """The diabetes pipeline zygarde registers (zeros-as-missing, impute, scale, a forest), logged as it logs it."""
    from zygarde.registry import log_sklearn
    from zygarde.search.trials import TrialSpec
    from zygarde.tabular.config import parse_config
    from zygarde.tabular.family import TabularFamily
    from zygarde.tracking import ensure_experiment, start_parent_run

    family = TabularFamily(parse_config(algorithms=["rf"], cv=2))
    prepared = family.prepare(family.load())
    data = prepared.search
    spec = TrialSpec(0, "rf", {"n_estimators": 20, "max_depth": 3})
    model = family._objective(data).build_pipeline(spec, data).fit(data.X, data.y)
    run_id = start_parent_run(tracking_uri, ensure_experiment(tracking_uri, "packaging"), "packaging", {}, {})
    return log_sklearn(tracking_uri, run_id, model, data.X)


def test_a_non_editable_install_finds_its_data_and_loads_a_registered_model(tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target"]
    subprocess.run([*install, str(target), str(REPO)], check=True, capture_output=True, timeout=240)
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    model_uri = _registered_pipeline(tracking_uri)
    probe = (
        "import sys, zygarde, zygarde.settings as s, mlflow, pandas as pd; "
        "from zygarde.deployments import prefect_yaml; d = s.get_settings().expectations_dir; "
        "print(zygarde.__file__); print(d); print(sorted(p.name for p in d.glob('*.json'))); print(prefect_yaml()); "
        f"mlflow.set_tracking_uri({tracking_uri!r}); m = mlflow.pyfunc.load_model({model_uri!r}); "
        f"rows = pd.read_csv({str(REPO / 'data' / 'raw' / 'diabetes.csv')!r}).drop(columns='Outcome').head(5); "
        "print(len(m.predict(rows.astype(float)))); print(sys.modules['zygarde.tabular.preprocess'].__file__)"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "MLFLOW_LOGGING_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    module, folder, suites, deployments, predicted, classes_from = done.stdout.splitlines()
    assert module.startswith(str(target)) and folder.startswith(str(target)), done.stdout
    assert "diabetes.json" in suites and "fastfood.json" in suites
    assert deployments.startswith(str(target)) and Path(deployments).exists()
    assert predicted == "5" and classes_from.startswith(str(target)), done.stdout
