"""One factory from ``--search`` and its options to a sampler, and the one place that refuses a combination.

A family says what it can offer (each algorithm's declared space, a way to draw planned trials, the budgets
its trials can grow on); ``check`` says, before any service starts, why a combination cannot run, and
``make_sampler`` builds the sampler for one that can.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Literal

from zygarde.errors import ZygardeError, option
from zygarde.search.samplers.base import Sampler
from zygarde.search.spaces import SearchKind, SearchSpace
from zygarde.search.trials import TrialSpec

SearchName = Literal["grid", "random", "tpe", "gp", "asha", "auto"]
UNBOUNDED = 10_000  # a time budget, not a count, ends an auto search: the count only has to be out of reach


def check(search: str, algorithms: list[str], spaces: dict[str, SearchSpace], *, time_budget: float | None = None,
          growable: bool = True) -> str | None:  # fmt: skip
    """Why this search cannot run (None: it can), in the words of the option to change.

    ``algorithms``: the names asked for (``["auto"]``: every family); ``spaces``: the space each would search;
    ``growable``: whether the objective grows its models rung by rung (successive halving needs it).
    """
    auto = algorithms == ["auto"]
    if time_budget is not None and not auto:
        return f"{option('time_budget')}: a time budget bounds {option('algorithms')} auto; add it"
    if search == "asha" and (not growable or auto):
        return (f"{option('search')}: asha grows scikit-learn and XGBoost models on the dask engine, one family at "
                f"a time: use it with {option('engine')} dask and named {option('algorithms')}")  # fmt: skip
    if search == "gp":
        refusal = _gp_refusal(algorithms, spaces)
        return f"{option('search')}: {refusal}" if refusal else None
    return None


def _gp_refusal(algorithms: list[str], spaces: dict[str, SearchSpace]) -> str | None:
    """Why a GP cannot model this search: it needs one algorithm, a space of numbers, and PyTorch."""
    if len(algorithms) != 1 or algorithms == ["auto"]:
        return (f"gp models one algorithm's space of numbers; name one in {option('algorithms')} (tpe models "
                "several at once)")  # fmt: skip
    name = algorithms[0]
    for parameter, space in spaces[name].items():
        if isinstance(space, list) and not all(isinstance(v, int | float) and not isinstance(v, bool) for v in space):
            return (f"gp models distances between configurations, and {name}.{parameter} takes {space}, which have "
                    f"none: use tpe, or give {name}.{parameter} numbers in {option('space')}")  # fmt: skip
    if importlib.util.find_spec("torch") is None:
        return "gp fits its Gaussian process with PyTorch, which is not installed: pip install torch, or use tpe"
    return None


def make_sampler(
    search: SearchName,
    *,
    spaces: dict[str, SearchSpace],
    draw: Callable[[SearchKind], list[TrialSpec]],
    n_trials: int,
    metric: str,
    greater_is_better: bool,
    seed: int,
    budgets: dict[str, list[int]] | None = None,
    brackets: int = 1,
    time_budget: float | None = None,
) -> Sampler:
    """The sampler of a search.

    Args:
        search: grid or random (the trials ``draw`` plans, in order), tpe or gp (Bayesian optimisation over
            ``spaces``, ``n_trials`` per algorithm), asha (``draw("random")``'s configurations raced over
            ``budgets`` in ``brackets`` of Hyperband's brackets), or auto (every family in ``spaces``, the next
            chosen by ECI, until ``time_budget`` seconds or ``n_trials`` per family).
        spaces: each algorithm's space (declared, or the user's).
        draw: the planned trials of a grid or random search.
        metric, greater_is_better: what the adaptive samplers learn from.
    """
    if search in ("grid", "random"):
        from zygarde.search.samplers.fixed import FixedSampler

        return FixedSampler(draw(search))
    if search == "asha":
        from zygarde.search.schedulers.asha import ASHA

        if not budgets:
            raise ZygardeError("Successive halving needs each algorithm's budgets.")
        return ASHA(draw("random"), budgets, metric, greater_is_better, brackets=brackets)
    if search == "auto":
        from zygarde.search.samplers.auto import AutoSampler

        total = n_trials * len(spaces) if time_budget is None else UNBOUNDED
        return AutoSampler(spaces, total, metric, greater_is_better, seed, time_budget)
    from zygarde.search.samplers.bayesian import GPSampler, TPESampler

    bayes = GPSampler if search == "gp" else TPESampler
    return bayes(spaces, n_trials * len(spaces), metric, greater_is_better, seed)
