"""Spark inside zygarde: one lazily created SparkSession per process (a Dask worker's, or the flow's), and the
Spark ML pieces trials use. Importing this package starts no JVM."""
