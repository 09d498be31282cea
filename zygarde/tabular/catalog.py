"""The tabular catalog: every algorithm of every backend by name, their spaces checked, and the search's
sampler over them. It sits above ``algorithms`` (scikit-learn and XGBoost) and ``spark.algorithms`` (Spark
ML), which it imports, so neither imports the other's registry through it."""

from __future__ import annotations

from typing import Any, Literal

from zygarde.errors import ZygardeError, option
from zygarde.search.factory import make_sampler
from zygarde.search.samplers.base import Sampler
from zygarde.search.schedulers.asha import rung_budgets
from zygarde.search.spaces import SearchKind, SearchSpace, expand_space, numbered
from zygarde.search.trials import TrialSpec
from zygarde.tabular.algorithms import ALGORITHMS, AUTO_ORDER, Algorithm

Backend = Literal["dask", "spark"]  # where trials fit: scikit-learn/XGBoost on Dask, or Spark ML (`--engine`)


def get_algorithm(name: str, backend: Backend = "dask") -> Any:
    """Look an algorithm up by name (``Algorithm``, or ``SparkAlgorithm`` for the Spark backend)."""
    registry: dict[str, Any] = ALGORITHMS
    if backend == "spark":
        from zygarde.tabular.spark.algorithms import SPARK_ALGORITHMS

        registry = SPARK_ALGORITHMS
    try:
        return registry[name]
    except KeyError:
        raise ZygardeError(
            f"Unknown algorithm {name!r} for the {backend} engine; choose from {', '.join(registry)}."
        ) from None


def _parameter_names(algorithm: Any) -> set[str]:
    if isinstance(algorithm, Algorithm):
        return set(algorithm.build("classification", 0).get_params())
    return algorithm.parameter_names()


def validate_space(name: str, space: SearchSpace, backend: Backend = "dask") -> SearchSpace:
    """Check a user space (from ``--space``) against the estimator's parameters: lists of values, known names."""
    known = _parameter_names(get_algorithm(name, backend))
    for param, values in space.items():
        if param not in known:
            raise ZygardeError(
                f"{option('space')}: {name} has no parameter {param!r}; known: {', '.join(sorted(known))}."
            )
        if not isinstance(values, list) or not values:
            raise ZygardeError(f"{option('space')}: {name}.{param} must be a non-empty list of values, got {values!r}.")
    return space


def tabular_sampler(
    algorithms: list[str],
    search: str,
    n_trials: int,
    seed: int,
    spaces: dict[str, SearchSpace],
    metric: str,
    greater_is_better: bool,
    backend: Backend = "dask",
    time_budget: float | None = None,
    brackets: int = 3,
    families: list[str] | None = None,
) -> Sampler:
    """The search's sampler (``search.factory.make_sampler``) over these algorithms' spaces: a fixed list (grid,
    random), TPE over every algorithm's space at once with the same budget as random search (``n_trials`` per
    algorithm), a GP over one algorithm's, ASHA over ``n_trials`` random configurations per algorithm (three
    rungs of its resource, dealt to ``brackets`` of Hyperband's brackets), or ``auto``: every family, chosen by
    ECI (``families``: the ones that may compete; default all)."""
    auto = algorithms == ["auto"]
    names = (families or AUTO_ORDER) if auto else algorithms
    declared = {name: validate_space(name, spaces[name], backend) if name in spaces
                else get_algorithm(name, backend).distributions for name in names}  # fmt: skip
    budgets = {name: rung_budgets(ALGORITHMS[name].resource.maximum, ALGORITHMS[name].resource.minimum)
               for name in names if search == "asha" and name in ALGORITHMS}  # fmt: skip
    return make_sampler(
        "auto" if auto else search,  # type: ignore[arg-type]
        spaces=declared,
        draw=lambda kind: plan_trials(algorithms, kind, n_trials, seed, spaces, backend, grown=search == "asha"),
        n_trials=n_trials,
        metric=metric,
        greater_is_better=greater_is_better,
        seed=seed,
        budgets=budgets,
        brackets=brackets,
        time_budget=time_budget,
    )


def plan_trials(
    algorithms: list[str],
    search: SearchKind,
    n_trials: int,
    seed: int,
    spaces: dict[str, SearchSpace] | None = None,
    backend: Backend = "dask",
    *,
    grown: bool = False,
) -> list[TrialSpec]:
    """Expand each algorithm's space into trials: the whole grid, or ``n_trials`` random draws per algorithm
    (``grown``: without the resource successive halving grows)."""
    spaces = spaces or {}
    drawn: list[tuple[str, dict[str, Any]]] = []
    for name in algorithms:
        algorithm = get_algorithm(name, backend)
        user_space = validate_space(name, spaces[name], backend) if name in spaces else None
        distributions = algorithm.distributions
        if grown:
            distributions = {k: v for k, v in distributions.items() if k != algorithm.resource.param}
        params = expand_space(algorithm.grid, distributions, user_space, search, n_trials, seed)
        drawn += [(name, p) for p in params]
    return numbered(drawn)
