"""Logging a Spark ML model (``mlflow.spark``): serving it needs a JVM."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.models import infer_signature

from zygarde.registry.models import input_example, pinned_requirements
from zygarde.tabular.spark.session import model_dir
from zygarde.tracking import fluent_tracking_uri


def log_spark(tracking_uri: str, run_id: str, model: Any, X_example: pd.DataFrame) -> str:
    """Log a fitted Spark pipeline (``SparkTabularModel``) with ``mlflow.spark``: signature, pinned requirements,
    its temporary copy under the work dir; serving it needs a JVM."""
    import tempfile

    import mlflow.spark

    from zygarde.settings import get_settings

    example = input_example(X_example)
    signature = infer_signature(example, model.predict(example))
    scratch = get_settings().work_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with (tempfile.TemporaryDirectory(dir=scratch) as local, fluent_tracking_uri(tracking_uri),
          mlflow.start_run(run_id=run_id)):  # fmt: skip
        info = mlflow.spark.log_model(  # mlflow.spark still takes artifact_path (the other flavors: name)
            model.pipeline,
            "model",
            signature=signature,
            dfs_tmpdir=model_dir() or local,  # where Spark writes the model before MLflow copies it
            pip_requirements=pinned_requirements("pyspark", "pandas", "numpy"),
        )
    return info.model_uri
