"""zygarde against the AutoML a user would pick instead: ``zygarde run --algorithms auto --time-budget B``
against FLAML's ``AutoML(time_budget=B)``, on the same training rows, scored on the same held-out rows.

Tables (tables as they come: dates as text, categories, missing values; nothing encoded for either tool):
scikit-learn's bundled breast cancer, wine (3 classes), digits (10 classes) and diabetes (regression); the
shipped diabetes (Pima); the generated churn table (an id, dates, few- and many-level categories, booleans,
gaps, free text); a generated regression with a skewed (log-normal) target, dates and categories; and the
generated ``interacting`` table of the search benchmarks.

Each table is split once (seeded, stratified for classification) into training and test rows, written as
Parquet. FLAML fits on all training rows; zygarde is handed the same file and sets its own 5 % test split aside
(``--test-size 0.05``, its smallest: it trains on 5 % fewer rows), and its registered model is then scored on
the benchmark's test rows. Scores: ROC-AUC (one-vs-rest for several classes) or R², computed here, the same way
for both. Wall clocks: FLAML's ``fit``; zygarde's whole command (start-up included: a cold Prefect API, Dask
cluster and MLflow store) and its budgeted part (search, ensemble and refit).

FLAML runs in its own venv (``.venv-automl``, from ``benchmarks/requirements-flaml.txt``, every package pinned:
it needs xgboost < 3), made on the first run.

Run: .venv/bin/python benchmarks/automl.py [--budgets 30 120] [--tables churn wine ...] [--quick]
Target (issue 20): zygarde at least as good on three tables in four, never worse by more than 0.005 ROC-AUC or
0.01 R².
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from _generated import interacting
from _quick import parse
from sklearn import datasets
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

from zygarde.synthetic import churn_table

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-automl"
TARGET = "target"
SEED = 0
TOLERANCE = {"roc_auc": 0.005, "r2": 0.01}


def _sklearn(loader: Callable[..., object]) -> Callable[[], tuple[pd.DataFrame, str]]:
    def load() -> tuple[pd.DataFrame, str]:
        frame = loader(as_frame=True).frame.rename(columns={"target": TARGET})  # type: ignore[attr-defined]
        return frame, "regression" if loader is datasets.load_diabetes else "classification"

    return load


def _pima() -> tuple[pd.DataFrame, str]:
    return pd.read_csv(REPO / "data" / "raw" / "diabetes.csv").rename(columns={"Outcome": TARGET}), ("classification")


def _churn() -> tuple[pd.DataFrame, str]:
    return churn_table(5000, seed=11).rename(columns={"churned": TARGET}), "classification"


def _skewed() -> tuple[pd.DataFrame, str]:
    """House-price-like: a log-normal price of size, rooms, a district (40 levels), the sale date, missing ages."""
    rng = np.random.default_rng(5)
    rows = 4000
    district = rng.integers(0, 40, rows)
    effect = rng.normal(0, 0.35, 40)
    size = rng.gamma(4.0, 25.0, rows)
    rooms = np.clip((size / 30 + rng.normal(0, 1, rows)).round(), 1, None)
    sold = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 8 * 365, rows), unit="D")
    age = rng.uniform(0, 80, rows)
    log_price = (11 + 0.9 * np.log(size) + 0.05 * rooms + effect[district] - 0.004 * age
                 + 0.05 * (sold.year - 2015) + rng.normal(0, 0.25, rows))  # fmt: skip
    return pd.DataFrame({
        "size_m2": size.round(1), "rooms": rooms, "district": [f"d{d:02d}" for d in district],
        "sold_on": sold.strftime("%d/%m/%Y"), "age_years": np.where(rng.random(rows) < 0.15, np.nan, age.round()),
        TARGET: np.exp(log_price).round(-2),
    }), "regression"  # fmt: skip


def _interacting() -> tuple[pd.DataFrame, str]:
    data = interacting(5000)
    return data.X.assign(**{TARGET: data.y}), "classification"


TABLES: dict[str, Callable[[], tuple[pd.DataFrame, str]]] = {
    "breast_cancer": _sklearn(datasets.load_breast_cancer),
    "wine": _sklearn(datasets.load_wine),
    "digits": _sklearn(datasets.load_digits),
    "diabetes_regression": _sklearn(datasets.load_diabetes),
    "pima_diabetes": _pima,
    "churn": _churn,
    "skewed_prices": _skewed,
    "interacting": _interacting,
}


def flaml_venv() -> Path:
    """The FLAML venv's Python (made on the first run)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"making {VENV} (FLAML, once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        requirements = str(REPO / "benchmarks" / "requirements-flaml.txt")
        done = subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "--no-deps", "-r", requirements],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"installing FLAML into {VENV} failed:\n{done.stderr[-3000:]}")
    return python


def score(task: str, y: np.ndarray, output: np.ndarray) -> tuple[str, float]:
    """ROC-AUC (one-vs-rest for several classes) or R², the same for both tools."""
    if task == "regression":
        return "r2", float(r2_score(y, output))
    if output.shape[1] == 2:
        return "roc_auc", float(roc_auc_score(y, output[:, 1]))
    return "roc_auc", float(roc_auc_score(y, output, multi_class="ovr"))


def run_zygarde(train: Path, task: str, budget: float, work: Path) -> tuple[dict, float]:
    """``zygarde run --algorithms auto --time-budget B --json`` in its own work dir: the summary, the wall."""
    env = {**os.environ, "ZYGARDE_WORK_DIR": str(work), "PYTHONWARNINGS": "ignore"}
    for name in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "ZYGARDE_DASK_ADDRESS"):
        env.pop(name, None)
    cli = Path(sys.executable).with_name("zygarde")
    started = time.perf_counter()
    done = subprocess.run([str(cli), "run", "--data", str(train), "--target", TARGET, "--task", task,
                           "--algorithms", "auto", "--time-budget", f"{budget:g}s", "--test-size", "0.05",
                           "--seed", str(SEED), "--json"], env=env, capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"zygarde failed on {train}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout), wall


def zygarde_output(summary: dict, test: pd.DataFrame, task: str) -> np.ndarray:
    """The registered model's predictions (values, or probabilities by class) for the test rows."""
    from zygarde.tabular.family import load_tabular_model
    from zygarde.tracking import fluent_tracking_uri

    with fluent_tracking_uri(summary["mlflow"]["tracking_uri"]):
        model = load_tabular_model(summary["model"]["model_uri"])
    rows = test.drop(columns=[TARGET])
    return np.asarray(model.predict(rows) if task == "regression" else model.predict_proba(rows), dtype=float)


def compare(name: str, budget: float, scratch: Path) -> dict:
    """One table at one budget: both tools, the same split, the same held-out rows."""
    frame, task = TABLES[name]()
    labels = None
    if task == "classification":  # both tools see the labels as text; scores use 0..k-1 in sorted text order
        frame[TARGET] = frame[TARGET].astype(str)
        labels = sorted(frame[TARGET].unique())
    stratify = frame[TARGET] if task == "classification" else None
    train, test = train_test_split(frame, test_size=0.25, random_state=SEED, stratify=stratify)
    folder = scratch / f"{name}-{budget:g}"
    folder.mkdir(parents=True)
    train.to_parquet(folder / "train.parquet", index=False)
    test.to_parquet(folder / "test.parquet", index=False)
    y = test[TARGET].to_numpy() if labels is None else test[TARGET].map(labels.index).to_numpy()

    summary, zygarde_wall = run_zygarde(folder / "train.parquet", task, budget, folder / "zygarde")
    metric, ours = score(task, y, zygarde_output(summary, test, task))
    done = subprocess.run([str(flaml_venv()), str(REPO / "benchmarks" / "_flaml_run.py"), str(folder / "train.parquet"),
                           str(folder / "test.parquet"), TARGET, task, str(budget), str(SEED),
                           str(folder / "flaml.npy")], capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"FLAML failed on {name}:\n{done.stderr[-3000:]}")
    flaml = json.loads(done.stdout.strip().splitlines()[-1])
    _, theirs = score(task, y, np.load(folder / "flaml.npy"))
    return {
        "table": name, "budget": budget, "metric": metric, "zygarde": ours, "flaml": theirs,
        "zygarde_best": summary["best_algorithm"], "flaml_best": flaml["best"],
        "zygarde_wall": zygarde_wall, "zygarde_budgeted": summary.get("time_budget", {}).get("used_seconds", 0.0),
        "flaml_wall": flaml["wall_seconds"], "rows": len(frame),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[30.0, 120.0])
    parser.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    args = parse(parser, argv, budgets=[6.0], tables=["wine"])
    flaml_venv()
    scratch = Path(tempfile.mkdtemp(prefix="zygarde-automl-"))
    rows = []
    for budget in args.budgets:
        for name in args.tables:
            row = compare(name, budget, scratch)
            rows.append(row)
            print(f"{name:20} B={budget:>4g} s  {row['metric']:7} zygarde {row['zygarde']:.4f} ({row['zygarde_best']})"
                  f"  flaml {row['flaml']:.4f} ({row['flaml_best']})  wall: zygarde {row['zygarde_wall']:.0f} s "
                  f"(budgeted part {row['zygarde_budgeted']:.0f} s), flaml {row['flaml_wall']:.0f} s",
                  flush=True)  # fmt: skip
    table = pd.DataFrame(rows)
    table["difference"] = table["zygarde"] - table["flaml"]
    table["as_good"] = table["difference"] >= 0
    table["within"] = table.apply(lambda r: r["difference"] >= -TOLERANCE[r["metric"]], axis=1)
    print()
    print(table[["table", "budget", "metric", "zygarde", "flaml", "difference", "zygarde_wall", "zygarde_budgeted",
                 "flaml_wall"]].to_string(index=False, float_format=lambda v: f"{v:.4f}"))  # fmt: skip
    results = REPO / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    table.to_csv(results / "automl.csv", index=False)
    print(f"\nzygarde at least as good on {int(table['as_good'].sum())} of {len(table)} (target: 3 in 4); "
          f"within the tolerance (0.005 ROC-AUC, 0.01 R²) on {int(table['within'].sum())} of {len(table)}; "
          f"wall ratio zygarde/flaml median {float((table['zygarde_wall'] / table['flaml_wall']).median()):.2f} "
          f"(budgeted part: {float((table['zygarde_budgeted'] / table['flaml_wall']).median()):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
