"""zygarde: distributed, orchestrated model search (Prefect flows, Dask trials, MLflow tracking)."""

import warnings as _warnings

# pyspark 4.3 warns about pandas 3 whenever it is imported (great-expectations imports it too); zygarde's Spark
# paths are tested with pandas 3.1
_warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
