"""Logging a model into its run, with what serving it needs: a signature, an input example, exact pins of
the installed packages (so MLflow need not import the model again to infer them). Each flavour's own step
lives with its family; scikit-learn's, which tabular and clustering share, is here."""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from zygarde.tracking import fluent_tracking_uri


def input_example(X: pd.DataFrame) -> pd.DataFrame:
    """Five rows, integer and float32 columns declared as doubles: a missing value at inference is then no schema
    error, nor a table whose numbers read as float64 (a CSV) for a model trained from float32 Parquet."""
    return X.head(5).astype({c: "float64" for c in X.select_dtypes(["integer", "float32", "float16"]).columns})


def log_sklearn(tracking_uri: str, run_id: str, model: Any, X_example: pd.DataFrame) -> str:
    """Log a fitted sklearn pipeline into the run (signature, input example, pinned requirements); its URI. A
    classifier is served (``mlflow models serve``, ``pyfunc.predict``) by its ``predict_proba``: one probability per
    class, in the order of the version's ``zygarde.classes`` tag."""
    from sklearn.base import is_classifier

    from zygarde.serialization import skops_io

    example = input_example(X_example)
    predict_fn = "predict_proba" if is_classifier(model) and hasattr(model, "predict_proba") else "predict"
    signature = infer_signature(example, getattr(model, predict_fn)(example))
    # skops (MLflow's safe default) refuses unknown types; trust exactly the ones this pipeline is made of
    trusted = skops_io.get_untrusted_types(data=skops_io.dumps(model))
    with fluent_tracking_uri(tracking_uri), mlflow.start_run(run_id=run_id):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=example,
            skops_trusted_types=trusted,
            pyfunc_predict_fn=predict_fn,
            pip_requirements=pinned_requirements(
                "scikit-learn", "xgboost", "lightgbm", "skops", "pandas", "numpy", "scipy"
            ),
        )
    return info.model_uri


def pinned_requirements(*packages: str) -> list[str]:
    """Exact pins of the installed ``packages``: given, MLflow does not re-import the model in a subprocess to
    infer them (seconds per registration)."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in packages:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return [f"mlflow=={mlflow.__version__}", *pins]
