"""skops, the format MLflow stores scikit-learn models in safely, imported without PyTorch.

To list its trusted types, skops walks every scikit-learn estimator, which imports scikit-learn's array-API
shim for PyTorch and with it PyTorch itself when it is installed (the vision extra): 2 s of a tabular run's
start on these machines (``python -X importtime -c "import skops.io"``), for a library no scikit-learn or
XGBoost model uses. Where PyTorch is not loaded yet, it is hidden for that one import (``None`` in
``sys.modules``: importing it fails as if it were not installed).
"""

from __future__ import annotations

import sys

import sklearn.base  # noqa: F401  (before the hiding: importing scipy probes sys.modules["torch"] and fails on None)

if "torch" in sys.modules:
    import skops.io as skops_io
else:
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import skops.io as skops_io
    finally:
        del sys.modules["torch"]

__all__ = ["skops_io"]
