"""Tables larger than the memory budget: read in batches from Parquet, never whole.

The out-of-core path is XGBoost's external memory: an ``ExtMemQuantileDMatrix`` built from a ``DataIter`` that
reads the Parquet files batch by batch (the quantised pages live in a disk cache, not in memory). Every row is
assigned to the train, validation or test part by a seeded hash of (file, row number), so the parts are the same
whatever the batch size, and no part is ever materialised: each pass re-reads the files.

What is *not* out-of-core, to be exact: ``xgboost.dask`` and ``xgboost.spark`` hold each partition in worker
memory (about twice its raw size); they scale out across machines, not beyond memory. Hold-out validation
replaces K folds here (K passes over a table that does not fit would cost K times the reading and training).
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zygarde.errors import ZygardeError, option

# fit: train + validation, what the winner is refitted on; "train:k" / "validation:k": fold k of K-fold CV
# over every row not in the test part (when a split has folds)
Part = str
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}  # fmt: skip
MAX_CLASSES = 20


def parse_size(text: str) -> int:
    """Bytes in ``"2GiB"``, ``"1.5g"``, ``"800MB"``, ``"512m"`` (k/m/g/t: powers of 1024, as Spark reads them)."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not found or found.group(2).lower() not in _UNITS:
        raise ZygardeError(f"{option('memory_limit')}: {text!r} is not a size; write it like 2GiB, 1.5g or 800MB.")
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def human(size: float) -> str:
    """``1.6 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} GiB"


@dataclass(frozen=True)
class MemoryBudget:
    """The memory zygarde may use, split between the Dask workers; each worker's share bounds its Spark driver
    and the rows of an XGBoost batch."""

    total: int
    workers: int = 1

    @property
    def per_worker(self) -> int:
        """What Dask's nanny lets one worker hold before it pauses and then restarts it."""
        return self.total // max(1, self.workers)

    def spark_driver_memory(self) -> str:
        """Half a worker's share for its Spark session's heap (the JVM needs as much again off-heap)."""
        return f"{max(256, self.per_worker // 2 // 2**20)}m"

    def batch_rows(self, n_columns: int) -> int:
        """Rows per batch: a sixteenth of a worker's share as float32 (reading, converting and the
        quantile sketch each hold a few copies), between 10,000 and 1,000,000 rows."""
        rows = self.per_worker // 16 // (4 * max(1, n_columns))
        return int(min(1_000_000, max(10_000, rows)))


def _uniform(salt: int, file_index: int, start: int, n: int) -> np.ndarray:
    """A uniform [0, 1) number per row, from a splitmix64 hash of (salt, file, row number): batching-proof."""
    with np.errstate(over="ignore"):
        base = np.uint64(salt & 0xFFFFFFFF) << np.uint64(40) | np.uint64(file_index & 0xFFFFFF) << np.uint64(16)
        z = np.arange(start, start + n, dtype=np.uint64) + base * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass(frozen=True)
class ParquetTable:
    """What the files' metadata say: the parts, the columns, the rows; read without loading any data."""

    source: Path
    files: tuple[str, ...]
    columns: dict[str, str]  # name -> Arrow type
    rows: int

    @classmethod
    def scan(cls, source: Path) -> ParquetTable:
        """The Parquet file, or the folder's part files (one schema: a different one is named)."""
        import pyarrow.parquet as pq

        from zygarde.tables import parquet_parts

        files = parquet_parts(source)
        schema = pq.read_schema(files[0])
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        if rows == 0:
            raise ZygardeError(f"{source} has Parquet files but no rows.")
        return cls(source, tuple(str(f) for f in files), {f.name: str(f.type) for f in schema}, rows)

    def in_memory_bytes(self) -> int:
        """What pandas would hold: 8 bytes per numeric cell (float64 after cleaning), 50 per string cell."""
        per_row = sum(50 if "string" in t or "large_utf8" in t else 8 for t in self.columns.values())
        return self.rows * per_row


@dataclass(frozen=True)
class ParquetSplit:
    """A Parquet table read in batches of ``batch_rows``, each row in the train, validation or test part."""

    files: tuple[str, ...]
    features: tuple[str, ...]
    target: str
    task: str
    class_values: tuple[Any, ...]  # sorted raw labels; a label's index is its class
    seed: int
    test_size: float
    validation_size: float
    batch_rows: int
    scratch: str  # where each process's XGBoost disk cache lives
    table_rows: int = 0
    folds: int = 0  # K-fold CV over the non-test rows instead of the validation part (then validation_size 0)

    def batches(self, part: Part, columns: tuple[str, ...] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(float32 features, labels) of ``part``, batch by batch; rows without a label are skipped."""
        import pyarrow.parquet as pq

        columns = columns or self.features
        for index, path in enumerate(self.files):
            start = 0
            for batch in pq.ParquetFile(path).iter_batches(batch_size=self.batch_rows, columns=[*columns, self.target]):
                n = batch.num_rows
                u = _uniform(self.seed, index, start, n)
                start += n
                keep = self._mask(part, u) & batch.column(self.target).is_valid().to_numpy(zero_copy_only=False)
                if not keep.any():
                    continue
                X = np.empty((int(keep.sum()), len(columns)), dtype=np.float32)
                for j, name in enumerate(columns):
                    X[:, j] = np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=np.float32)[keep]
                yield X, self._labels(batch.column(self.target).to_numpy(zero_copy_only=False)[keep])

    def _mask(self, part: Part, u: np.ndarray) -> np.ndarray:
        test, validation = self.test_size, self.test_size + self.validation_size
        name, _, fold = part.partition(":")
        if fold:  # the non-test rows cut into `folds` equal slices of the hash
            index = np.floor((u - test) / (1 - test) * self.folds)
            return (u >= test) & ((index == int(fold)) if name == "validation" else (index != int(fold)))
        return {"test": u < test, "validation": (u >= test) & (u < validation), "train": u >= validation,
                "fit": u >= test}[part]  # fmt: skip

    def _labels(self, values: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            return values.astype(np.float32)
        return np.searchsorted(np.asarray(self.class_values), values).astype(np.float32)

    def sample(self, part: Part, n: int) -> pd.DataFrame:
        """About ``n`` rows of ``part`` drawn evenly over the table (a second seeded hash), features and target."""
        shares = {"test": self.test_size, "validation": self.validation_size,
                  "train": 1 - self.test_size - self.validation_size, "fit": 1 - self.test_size}  # fmt: skip
        share = min(1.0, 1.2 * n / max(1.0, self.table_rows * shares[part]))  # 1.2: enough rows despite chance
        frames: list[pd.DataFrame] = []
        for X, y in self.batches(part):
            pick = np.random.default_rng([self.seed, len(frames)]).random(len(y)) < share
            frame = pd.DataFrame(X[pick], columns=list(self.features))
            frame[self.target] = y[pick]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True).head(n)

    def predict(self, booster: Any, part: Part) -> tuple[np.ndarray, np.ndarray]:
        """(labels, predictions) of ``part``, batch by batch: probabilities (n, classes) or values (n,)."""
        ys, outputs = [], []
        for X, y in self.batches(part):
            ys.append(y)
            outputs.append(booster.inplace_predict(X))
        predicted = np.concatenate(outputs)
        if self.task == "classification" and predicted.ndim == 1:
            predicted = np.column_stack([1 - predicted, predicted])
        return np.concatenate(ys), predicted


def count_parts(split: ParquetSplit) -> dict[str, int]:
    """Rows of each part (one pass over the labels)."""
    import pyarrow.parquet as pq

    counts = {"train": 0, "validation": 0, "test": 0}
    for index, path in enumerate(split.files):
        start = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=split.batch_rows, columns=[split.target]):
            n = batch.num_rows
            u = _uniform(split.seed, index, start, n)[batch.column(0).is_valid().to_numpy(zero_copy_only=False)]
            start += n
            for part in counts:
                counts[part] += int(split._mask(part, u).sum())
    return counts


def class_values(table: ParquetTable, target: str) -> tuple[Any, ...]:
    """The distinct labels of ``target`` (one column read), sorted; too many for a classification is an error."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    seen: set[Any] = set()
    for path in table.files:
        column = pq.read_table(path, columns=[target]).column(target)
        seen.update(pc.unique(pc.drop_null(column)).to_pylist())
        if len(seen) > MAX_CLASSES:  # a quantity, or too many classes: enough to tell
            break
    return tuple(sorted(seen))


class _Batches:
    """An ``xgboost.DataIter`` over one part of a split (built lazily: xgboost is imported where trials run)."""

    @staticmethod
    def iterator(split: ParquetSplit, part: Part, cache_prefix: str) -> Any:
        import xgboost as xgb

        class Batches(xgb.DataIter):
            def __init__(self) -> None:
                self._batches: Iterator[tuple[np.ndarray, np.ndarray]] | None = None
                super().__init__(cache_prefix=cache_prefix)

            def next(self, input_data: Any) -> bool:
                if self._batches is None:
                    self._batches = split.batches(part)
                try:
                    X, y = next(self._batches)
                except StopIteration:
                    return False
                input_data(data=X, label=y)
                return True

            def reset(self) -> None:
                self._batches = None

        return Batches()


_MATRICES: dict[tuple[Any, ...], Any] = {}  # per process: (split, part, max_bin) -> ExtMemQuantileDMatrix


def external_matrix(split: ParquetSplit, part: Part, max_bin: int = 256, nthread: int = 1) -> Any:
    """This process's ``ExtMemQuantileDMatrix`` of ``part``: built once (its pages cached on disk under the
    split's scratch folder), reused by every trial that lands here."""
    import xgboost as xgb

    key = (split, part, max_bin)
    if key not in _MATRICES:
        Path(split.scratch).mkdir(parents=True, exist_ok=True)
        cache = tempfile.mkdtemp(prefix="xgb-cache-", dir=split.scratch)
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        iterator = _Batches.iterator(split, part, str(Path(cache) / "pages"))
        _MATRICES[key] = xgb.ExtMemQuantileDMatrix(iterator, max_bin=max_bin, nthread=nthread)
    return _MATRICES[key]


def booster_params(task: str, n_classes: int, seed: int, params: dict[str, Any], nthread: int) -> dict[str, Any]:
    """XGBoost's native parameters from the sklearn-style names the search spaces use."""
    native = {k: v for k, v in params.items() if k != "n_estimators"}
    if task == "regression":
        objective: dict[str, Any] = {"objective": "reg:squarederror"}
    elif n_classes == 2:
        objective = {"objective": "binary:logistic"}
    else:
        objective = {"objective": "multi:softprob", "num_class": n_classes}
    return {**objective, "tree_method": "hist", "seed": seed, "nthread": nthread, "verbosity": 0, **native}


def train_booster(split: ParquetSplit, part: Part, params: dict[str, Any], nthread: int) -> Any:
    """An XGBoost booster trained out of core on ``part`` with sklearn-style ``params``."""
    import xgboost as xgb

    matrix = external_matrix(split, part, int(params.get("max_bin", 256)), nthread)
    native = booster_params(split.task, len(split.class_values), split.seed, params, nthread)
    return xgb.train(native, matrix, num_boost_round=int(params.get("n_estimators", 100)))
