"""Tables larger than the memory budget: read in batches from Parquet, never whole.

The out-of-core path is XGBoost's external memory: an ``ExtMemQuantileDMatrix`` built from a ``DataIter`` that
reads the Parquet files batch by batch (the quantised pages live in a disk cache, not in memory). Every row is
assigned to the train, validation or test part by a seeded hash of (file, row number), so the parts are the same
whatever the batch size, and no part is ever materialised: each pass re-reads the files.

What is *not* out-of-core, to be exact: ``xgboost.dask`` and ``xgboost.spark`` hold each partition in worker
memory (about twice its raw size); they scale out across machines, not beyond memory. Hold-out validation
replaces K folds here (K passes over a table that does not fit would cost K times the reading and training).
"""
