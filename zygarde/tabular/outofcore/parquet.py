"""A Parquet table known by its metadata, and its split into train, validation and test parts by a seeded
hash of (file, row number): the same parts whatever the batch size, none ever materialised."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zygarde.errors import ZygardeError

# fit: train + validation, what the winner is refitted on; "train:k" / "validation:k": fold k of K-fold CV
# over every row not in the test part (when a split has folds)
Part = str


MAX_CLASSES = 20


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

    def _mask(self, part: Part, u: Any, floor: Any = np.floor) -> Any:
        """Which rows of uniform numbers ``u`` are in ``part``: on numpy arrays, or Spark columns (``floor``:
        ``pyspark.sql.functions.floor``)."""
        test, validation = self.test_size, self.test_size + self.validation_size
        name, _, fold = part.partition(":")
        if fold:  # the non-test rows cut into `folds` equal slices of the hash
            index = floor((u - test) / (1 - test) * self.folds)
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

    def count_parts(self) -> dict[str, int]:
        """Rows of each part (one pass over the labels)."""
        return count_parts(self)

    def first_rows(self, part: Part, n: int) -> tuple[pd.DataFrame, np.ndarray]:
        """About the first ``n`` rows of ``part``: (features, labels)."""
        Xs, ys, seen = [], [], 0
        for X, y in self.batches(part):
            Xs.append(X)
            ys.append(y)
            seen += len(y)
            if seen >= n:
                break
        return pd.DataFrame(np.concatenate(Xs), columns=list(self.features)), np.concatenate(ys)

    def scored(self, model: Any, part: Part) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """Any tabular model's metrics on ``part``, and the (labels, outputs) they come from, batch by batch:
        probabilities (n, classes) or values (n,)."""
        from zygarde.tabular.evaluate import prediction_metrics

        ys, outputs = [], []
        for X, y in self.batches(part):
            rows = pd.DataFrame(X, columns=list(self.features))
            ys.append(y)
            outputs.append(model.predict(rows) if self.task == "regression" else model.predict_proba(rows))
        y, output = np.concatenate(ys), np.concatenate(outputs)
        return prediction_metrics(y, output, self.task), y, output

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
