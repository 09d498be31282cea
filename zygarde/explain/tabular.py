"""Explanations of a tabular model, any model that predicts from a pandas frame of the table's columns
(scikit-learn pipelines, the out-of-core XGBoost model, Spark's behind its pandas predict):

- permutation importance of each column on a seeded sample of the held-out rows (the selection metric's drop,
  mean and spread over repeats), falling back to the model's own importances when it runs out of time;
- exact TreeSHAP contributions for XGBoost (``pred_contribs``), LightGBM (``pred_contrib``) and scikit-learn's
  tree ensembles (shap's ``TreeExplainer``), summed over the encoded features of each column (contributions add
  up), on as many rows as the step's time allows;
- partial dependence with ICE curves for the top numeric columns;
- the top models of the leaderboard side by side: their permutation importances, and the correlation of their
  out-of-fold predictions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import resample

from zygarde.explain import Deadline, Explanation, Steps, plots
from zygarde.tabular.evaluate import metric_of

ROWS = 1000  # held-out rows permutation importance and TreeSHAP are measured on
ICE_ROWS = 100  # rows drawn as ICE curves
REPEATS = 5  # shuffles of each column
TOP_MODELS = 3  # leaderboard models compared side by side


@dataclass
class Rows:
    """The rows a tabular model is explained on, and how it is scored there."""

    X: pd.DataFrame
    y: np.ndarray
    task: str
    metric: str
    greater_is_better: bool
    seed: int
    classes: list[str]

    def sample(self, n: int = ROWS) -> Rows:
        """A seeded sample of ``n`` rows (stratified by class for a classifier)."""
        if len(self.y) <= n:
            return self
        stratify = self.y if self.task == "classification" else None
        index = resample(np.arange(len(self.y)), n_samples=n, replace=False, random_state=self.seed,
                         stratify=stratify)  # fmt: skip
        return Rows(self.X.iloc[index].reset_index(drop=True), self.y[index], self.task, self.metric,
                    self.greater_is_better, self.seed, self.classes)  # fmt: skip

    def output(self, model: Any, X: pd.DataFrame) -> np.ndarray:
        """Predicted values (regression) or class probabilities."""
        return np.asarray(model.predict(X) if self.task == "regression" else model.predict_proba(X))

    def score(self, model: Any, X: pd.DataFrame, y: np.ndarray) -> float:
        """The selection metric, signed so that larger is better."""
        value = metric_of(self.metric, y, self.output(model, X))
        return value if self.greater_is_better else -value


# (label, the model refitted on the training split; None where it cannot be in the time left)
Competitor = tuple[str, Callable[[Deadline], Any]]


def explain_tabular(
    model: Any,
    rows: Rows,
    seconds: float,
    competitors: list[Competitor] | None = None,
) -> Explanation:
    """Explain ``model`` on a sample of ``rows`` within ``seconds``; ``competitors``: the top models of the
    leaderboard to compare (the champion first)."""
    sample = rows.sample()
    explanation = Explanation(rows=len(sample.y))
    steps = Steps(seconds, explanation)
    columns = [str(c) for c in sample.X.columns]
    permuted = steps.run("permutation importance", lambda d: permutation_importance(model, sample, d), share=0.5)
    if permuted is not None:
        change = "drop" if sample.greater_is_better else "rise"
        explanation.method = f"permutation importance ({REPEATS} shuffles, {change} of {sample.metric}, test split)"
        explanation.importance = permuted.to_dict(orient="records")
    else:
        own = own_importances(model, columns)
        explanation.method = f"the model's own importances ({own[1]}): permutation importance did not finish"
        explanation.importance = own[0].to_dict(orient="records")
        explanation.rows = 0
    explanation.json["explain/importance.json"] = {"method": explanation.method, "importance": explanation.importance}
    if explanation.importance:
        explanation.figures["explain/importance.png"] = plots.importance_bars(
            pd.DataFrame(explanation.importance), explanation.method
        )
    if tree_booster(model) is None:
        explanation.notes.append("TreeSHAP: not exact for this model (tree models only); permutation importance used")
    else:
        contributions = steps.run("TreeSHAP", lambda d: affordable_contributions(model, sample.X, d), share=0.5)
        if contributions is not None:
            values, base = contributions
            mean_abs = values.abs().mean().sort_values(ascending=False)
            explanation.json["explain/shap.json"] = {
                "method": f"exact TreeSHAP ({tree_booster(model)}), in {output_units(model, sample.task)}, summed "
                          "per column",
                "rows": len(values), "base_value": base, "mean_abs": mean_abs.round(6).to_dict()}  # fmt: skip
            explanation.figures["explain/shap.png"] = plots.contribution_strips(
                values, sample.X.iloc[: len(values)], mean_abs.index[:12], output_units(model, sample.task)
            )
    numeric = [f["feature"] for f in explanation.importance if pd.api.types.is_numeric_dtype(sample.X[f["feature"]])
               and not pd.api.types.is_bool_dtype(sample.X[f["feature"]])][:3]  # fmt: skip
    if numeric:
        steps.run("partial dependence", lambda d: _partial_dependence(model, sample, numeric, explanation, d), 0.5)
    if competitors and len(competitors) > 1:
        steps.run("top models compared", lambda d: _compare(model, sample, competitors, explanation, d))
    elif competitors:
        explanation.notes.append("top models compared: not done, only the champion is at hand (a Spark engine's "
                                 "other models are not refitted for it)")  # fmt: skip
    explanation.notes.insert(0, f"{explanation.method}; on {explanation.rows} rows" if explanation.rows
                             else explanation.method)  # fmt: skip
    return explanation


def permutation_importance(model: Any, rows: Rows, deadline: Deadline, repeats: int = REPEATS) -> pd.DataFrame:
    """Each column's importance: the metric's mean drop (and its spread) over ``repeats`` seeded shuffles of it,
    all of a column's shuffles predicted in one call; ``OutOfTimeError`` past ``deadline``."""
    rng = np.random.default_rng(rows.seed)
    base = rows.score(model, rows.X, rows.y)
    n = len(rows.y)
    found = []
    for column in rows.X.columns:
        deadline.check()
        stacked = pd.concat([rows.X] * repeats, ignore_index=True)
        values = rows.X[column].to_numpy()
        stacked[column] = np.concatenate([values[rng.permutation(n)] for _ in range(repeats)])
        output = rows.output(model, stacked)
        drops = [base - _signed(rows, output[i * n : (i + 1) * n]) for i in range(repeats)]
        found.append({"feature": str(column), "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return pd.DataFrame(found).sort_values("importance", ascending=False, ignore_index=True)


def _signed(rows: Rows, output: np.ndarray) -> float:
    value = metric_of(rows.metric, rows.y, output)
    return value if rows.greater_is_better else -value


def split_model(model: Any) -> tuple[Callable[[pd.DataFrame], Any], Any, Any]:
    """(the preprocessing as a function, the final estimator, the preprocessor or None) of a pipeline; a bare
    model is its own estimator."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        head = model[:-1]
        return head.transform, model[-1], head
    return (lambda X: X), model, None


# scikit-learn's tree ensembles, explained exactly by shap's TreeExplainer (tested equal to XGBoost's pred_contribs)
SKLEARN_TREES = ("RandomForest", "ExtraTrees", "GradientBoosting", "HistGradientBoosting", "DecisionTree")


def tree_booster(model: Any) -> str | None:
    """'xgboost', 'lightgbm' or 'scikit-learn' where the final estimator is a tree model whose TreeSHAP
    contributions are exact, else None."""
    estimator = split_model(model)[1]
    module, name = type(estimator).__module__, type(estimator).__name__
    if module.startswith("xgboost") and hasattr(estimator, "get_booster"):
        return "xgboost"
    if module.startswith("lightgbm") and hasattr(estimator, "booster_"):
        return "lightgbm"
    if module.startswith("sklearn.") and name.startswith(SKLEARN_TREES):
        return "scikit-learn"
    return None


def raw_contributions(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The exact TreeSHAP contributions of the encoded features, in the model's raw output (XGBoost, LightGBM and
    scikit-learn's boosting: the margin; scikit-learn's forests: the probability or value): (rows, classes or
    1, features + 1; the last is the bias), and the encoded features' names."""
    transform, estimator, head = split_model(model)
    encoded = transform(X)
    kind = tree_booster(model)
    if kind == "xgboost":
        import xgboost

        booster = estimator.get_booster()
        matrix = xgboost.DMatrix(encoded, missing=getattr(estimator, "missing", np.nan),
                                 feature_names=booster.feature_names)  # fmt: skip
        values = np.asarray(booster.predict(matrix, pred_contribs=True))
    elif kind == "lightgbm":
        values = np.asarray(estimator.booster_.predict(np.asarray(encoded, dtype=float), pred_contrib=True))
        classes = max(1, values.shape[1] // (np.shape(encoded)[1] + 1))
        values = values.reshape(len(values), classes, -1) if classes > 1 else values
    elif kind == "scikit-learn":
        values = _shap_values(estimator, np.asarray(encoded, dtype=float))
    else:
        raise ValueError("exact contributions need a tree model (XGBoost, LightGBM, scikit-learn's trees)")
    values = values if values.ndim == 3 else values[:, None, :]
    names = [str(n) for n in head.get_feature_names_out()] if head is not None else [str(c) for c in X.columns]
    return values, names


def _shap_values(estimator: Any, encoded: np.ndarray) -> np.ndarray:
    """shap's exact TreeSHAP of a scikit-learn tree model: (rows, outputs, features + 1), a forest's binary
    classifier reduced to its second class (as XGBoost's single margin is)."""
    import shap

    explainer = shap.TreeExplainer(estimator)
    values = np.asarray(explainer.shap_values(encoded, check_additivity=False))
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    if values.ndim == 2:  # one output
        return np.concatenate([values, np.full((len(values), 1), base[0])], axis=1)
    values = values.transpose(0, 2, 1)  # (rows, outputs, features)
    bias = np.broadcast_to(base, (len(values), len(base)))[:, :, None]
    values = np.concatenate([values, bias], axis=2)
    return values[:, 1:] if values.shape[1] == 2 else values


PROBE_ROWS = 20  # rows TreeSHAP is timed on before it is given more


def affordable_contributions(model: Any, X: pd.DataFrame, deadline: Deadline) -> tuple[pd.DataFrame, float]:
    """``tree_contributions`` on as many of ``X``'s rows as its first ``PROBE_ROWS`` say fit before ``deadline``
    (a deep forest's TreeSHAP costs far more a row than a booster's)."""
    started = time.monotonic()
    first, base = tree_contributions(model, X.iloc[:PROBE_ROWS])
    per_row = (time.monotonic() - started) / len(first)
    rows = int(min(len(X), deadline.left() * 0.8 / max(per_row, 1e-9)))
    if rows <= len(first):
        return first, base
    rest, _ = tree_contributions(model, X.iloc[len(first) : rows])
    return pd.concat([first, rest], ignore_index=True), base


def output_units(model: Any, task: str) -> str:
    """What a tree model's contributions add up to: a regression's value, a forest classifier's probability,
    a boosted classifier's log-odds."""
    if task == "regression":
        return "the predicted value"
    forest = type(split_model(model)[1]).__name__.startswith(("RandomForest", "ExtraTrees", "DecisionTree"))
    return "probability" if forest else "log-odds"


def tree_contributions(model: Any, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Each row's contribution of each column (summed over its encoded features; for several classes, summed in
    absolute value over the classes), and the base value (the bias, of the first class)."""
    values, names = raw_contributions(model, X)
    sources = feature_sources(names, [str(c) for c in X.columns])
    per_feature = np.abs(values[:, :, :-1]).sum(axis=1) if values.shape[1] > 1 else values[:, 0, :-1]
    frame = pd.DataFrame(per_feature, columns=sources).T.groupby(level=0, sort=False).sum().T
    return frame.reindex(columns=[c for c in X.columns if c in frame.columns]), float(values[0, 0, -1])


def feature_sources(names: list[str], columns: list[str]) -> list[str]:
    """The table column each encoded feature came from (``glucose``, ``missingindicator_glucose`` -> glucose;
    ``colour_red`` -> colour; ``when_month`` -> when): the longest column name it is built on."""
    found = []
    for name in names:
        matches = [c for c in columns if name == c or name.startswith(f"{c}_") or name.endswith(f"_{c}")]
        found.append(max(matches, key=len) if matches else name)
    return found


def own_importances(model: Any, columns: list[str]) -> tuple[pd.DataFrame, str]:
    """The estimator's own importances (trees: impurity or gain; linear: |coefficient| on standardised inputs; an
    ensemble: its members', weighted) summed per column, and their name; empty where it has none."""
    _, estimator, head = split_model(model)
    values, what = _estimator_importances(estimator)
    if values is None:
        return pd.DataFrame(columns=["feature", "importance"]), "none: this model reports no importances"
    names = [str(n) for n in head.get_feature_names_out()] if head is not None else columns
    frame = pd.DataFrame({"feature": feature_sources(names, columns), "importance": values})
    ranked = frame.groupby("feature", sort=False)["importance"].sum().sort_values(ascending=False)
    return ranked.reset_index(), what


def _estimator_importances(estimator: Any) -> tuple[np.ndarray | None, str]:
    if hasattr(estimator, "estimators_") and hasattr(estimator, "weights") and isinstance(estimator.estimators_, list):
        weights = np.asarray(estimator.weights, dtype=float) / np.sum(estimator.weights)
        parts = [(_estimator_importances(member)[0], w) for member, w in zip(estimator.estimators_, weights,
                                                                              strict=True)]  # fmt: skip
        known = [(v / max(v.sum(), 1e-12), w) for v, w in parts if v is not None]
        if not known:
            return None, ""
        return sum(v * w for v, w in known), "the members' normalised importances, weighted"
    inner = getattr(estimator, "model_", estimator)  # ElasticNetClassifier keeps its LogisticRegression
    if hasattr(inner, "feature_importances_"):
        return np.asarray(inner.feature_importances_, dtype=float), "impurity or gain, training split"
    if hasattr(inner, "coef_"):
        coef = np.atleast_2d(np.asarray(inner.coef_, dtype=float))
        return np.abs(coef).sum(axis=0), "|coefficient| on standardised inputs"
    return None, ""


def prediction_correlation(predictions: dict[str, np.ndarray]) -> pd.DataFrame:
    """Pearson correlation of the models' predictions (a binary classifier's: the positive class's probability;
    several classes': all their probabilities, flattened)."""
    flat = {label: (p[:, -1] if p.ndim == 2 and p.shape[1] == 2 else p).ravel() for label, p in predictions.items()}
    return pd.DataFrame(flat).corr()


def _partial_dependence(model: Any, rows: Rows, features: list[str], explanation: Explanation,
                        deadline: Deadline) -> None:  # fmt: skip
    """Partial dependence (the average) with ICE curves (each row) of the top numeric columns."""
    ice = rows.sample(ICE_ROWS)
    target = -1 if rows.task == "regression" or len(rows.classes) <= 2 else 0
    curves = {}
    for feature in features:
        deadline.check()
        curves[feature] = ice_curves(model, ice, feature, target)
    what = "prediction" if rows.task == "regression" else f"probability of {rows.classes[target]}" if rows.classes \
        else "probability"  # fmt: skip
    shown = {f: {"grid": g.tolist(), "average": c.mean(axis=0).tolist()} for f, (g, c) in curves.items()}
    explanation.json["explain/partial_dependence.json"] = {"of": what, "rows": len(ice.y), "features": shown}
    explanation.figures["explain/partial_dependence.png"] = plots.partial_dependence(curves, what)


def ice_curves(
    model: Any, rows: Rows, feature: str, target: int = -1, points: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """The grid (quantiles 5-95% of ``feature``) and each row's prediction along it, (rows, grid): one predict
    call. The partial dependence is their mean."""
    values = pd.to_numeric(rows.X[feature], errors="coerce").dropna().to_numpy(dtype=float)
    grid = np.unique(np.quantile(values, np.linspace(0.05, 0.95, points))) if len(values) else np.array([])
    if len(grid) == 0:
        raise ValueError(f"{feature} has no values to vary")
    n = len(rows.y)
    stacked = pd.concat([rows.X] * len(grid), ignore_index=True)
    stacked[feature] = np.repeat(grid, n)
    output = rows.output(model, stacked)
    predicted = output if output.ndim == 1 else output[:, target]
    return grid, predicted.reshape(len(grid), n).T


def _compare(model: Any, rows: Rows, competitors: list[Competitor], explanation: Explanation,
             deadline: Deadline) -> None:  # fmt: skip
    """The permutation importances of the leaderboard's top models on the same rows, side by side, and the
    correlation of their predictions there."""
    found, predictions = {}, {}
    for label, refit in competitors:
        deadline.check()
        other = refit(deadline)
        if other is None:
            explanation.notes.append(f"top models compared: {label} left out, its refit would not fit in the time left")
            continue
        predictions[label] = rows.output(other, rows.X)
        ranked = permutation_importance(other, rows, deadline, repeats=2)
        found[label] = ranked.set_index("feature")["importance"]
    if len(found) < 2:
        explanation.notes.append("top models compared: fewer than two models refitted in time")
        return
    table = pd.DataFrame(found).fillna(0.0)
    table = table.loc[table.abs().max(axis=1).sort_values(ascending=False).index[:15]]
    explanation.json["explain/models_importance.json"] = table.round(6).to_dict()
    explanation.figures["explain/models_importance.png"] = plots.heatmap(
        table, f"Permutation importance ({rows.metric}, 2 shuffles) of the top models, test split", diverging=True
    )
    correlation = prediction_correlation(predictions)
    explanation.json["explain/predictions_correlation.json"] = correlation.round(4).to_dict()
    explanation.figures["explain/predictions_correlation.png"] = plots.heatmap(
        correlation, "Correlation of the top models' predictions (test split)"
    )


def competitors_of(model: Any, best: Any, ranked: list[Any], refit: Callable[[Any], Any] | None,
                   folds: int) -> list[Competitor]:  # fmt: skip
    """The champion and the next best trials of ``ranked`` (``TOP_MODELS`` in all) to compare, each refitted by
    ``refit(trial)`` when its CV fit time says it fits in the time left (``refit`` None: the champion alone)."""
    competitors: list[Competitor] = [(f"champion: {best.algorithm}", lambda _: model)]
    if refit is None:
        return competitors
    for trial in [r for r in ranked if r.trial_id != best.trial_id][: TOP_MODELS - 1]:
        fit_seconds = trial.fit_seconds / max(1, folds - 1)  # one fit on all the rows its folds trained on

        def fitted(deadline: Deadline, trial: Any = trial, seconds: float = fit_seconds, fit: Any = refit) -> Any:
            return fit(trial) if seconds < deadline.left() else None

        competitors.append((f"#{trial.trial_id} {trial.algorithm}", fitted))
    return competitors
