"""Bayesian optimisation behind the ask/tell ``Sampler`` seam: Optuna's TPE, asked in the driver.

The study lives here, in the process that drives the search: ``ask`` draws a configuration, the engine runs it
as a plain Dask future in its bounded window, ``tell`` reports the score when it completes. Optuna 5's TPE
counts trials still running as if they had scored badly (``constant_liar``, on by default), so parallel asks
spread out instead of piling onto one region. ``study.optimize`` never runs on a worker, and the study is not
kept on the scheduler (Optuna's ``DaskStorage`` is experimental, in memory, without a heartbeat).

One study covers every algorithm of the search: the algorithm is the first choice of each trial and its
parameters are conditional on it (named ``<algorithm>.<parameter>``), so TPE also learns which family pays.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any

from zygarde.errors import ZygardeError, option
from zygarde.sampler import SearchSpace
from zygarde.trials import TrialResult, TrialSpec

MAX_REDRAWS = 25  # a configuration already tried or running is drawn again, this many times at most


def _suggest(trial: Any, name: str, space: Any) -> Any:
    """One parameter from a declared space: a list of values, or scipy's randint / uniform / loguniform."""
    if isinstance(space, list):
        return trial.suggest_categorical(name, space)
    kind = getattr(getattr(space, "dist", None), "name", "")
    low, high = space.support() if hasattr(space, "support") else (None, None)
    if kind == "randint":
        return trial.suggest_int(name, int(low), int(high))
    if kind in ("loguniform", "reciprocal"):
        return trial.suggest_float(name, float(low), float(high), log=True)
    if kind == "uniform":
        return trial.suggest_float(name, float(low), float(high))
    raise ZygardeError(
        f"{option('search')} tpe: {name} is drawn from {kind or type(space).__name__}, which TPE cannot read; "
        "give it a list of values in the space."
    )


class TPESampler:
    """Optuna's TPE over ``spaces`` (algorithm -> its space): ``total`` trials, seeded, one study."""

    def __init__(
        self,
        spaces: dict[str, SearchSpace],
        total: int,
        metric: str,
        greater_is_better: bool,
        seed: int,
        *,
        storage: Any = None,
        study_name: str | None = None,
    ) -> None:
        import optuna

        optuna.logging.set_verbosity(logging.WARNING)
        if not spaces or total < 1:
            raise ZygardeError(f"{option('search')} tpe needs at least one algorithm and {option('trials')} >= 1.")
        self.spaces, self.total, self.metric = spaces, total, metric
        startup = max(2, min(10, total // 4))  # random draws before TPE models anything
        with warnings.catch_warnings():  # `group` is "experimental" in Optuna 5; it is what conditional spaces need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # multivariate + group: parameters modelled jointly within each algorithm's sub-space; independent
            # sampling of a conditional space stalled on a toy problem here (tests/unit/test_bayes.py)
            tpe = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, group=True)
        self.study = optuna.create_study(
            direction="maximize" if greater_is_better else "minimize",
            sampler=tpe,
            storage=storage,
            study_name=study_name,
            load_if_exists=study_name is not None,
        )
        self._live: dict[int, Any] = {}  # trial id -> Optuna trial, while it runs
        self._tried: set[str] = set()
        self._asked = 0
        self._exhausted = False

    @property
    def finished(self) -> bool:
        """True once ``total`` trials were handed out (or the space has no new configuration) and all told."""
        return (self._asked >= self.total or self._exhausted) and not self._live

    def ask(self) -> TrialSpec | None:
        """A configuration neither tried nor running; None when the budget or the space is used up."""
        from optuna.trial import TrialState

        if self._asked >= self.total or self._exhausted:
            return None
        for _ in range(MAX_REDRAWS):
            trial = self.study.ask()
            algorithms = list(self.spaces)
            algorithm = algorithms[0] if len(algorithms) == 1 else trial.suggest_categorical("algorithm", algorithms)
            params = {p: _suggest(trial, f"{algorithm}.{p}", s) for p, s in self.spaces[algorithm].items()}
            key = json.dumps([algorithm, params], sort_keys=True, default=str)
            if key not in self._tried:
                break
            self.study.tell(trial, state=TrialState.FAIL)  # a repeat: not a result, and not run
        else:
            self._exhausted = True
            return None
        self._tried.add(key)
        spec = TrialSpec(trial_id=self._asked, algorithm=algorithm, params=params)
        self._live[spec.trial_id] = trial
        self._asked += 1
        return spec

    def tell(self, result: TrialResult) -> None:
        """The trial's score (its failure, if it failed or has no score)."""
        from optuna.trial import TrialState

        trial = self._live.pop(result.trial_id)
        value = result.cv_mean.get(self.metric)
        if result.error or value is None:
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, float(value))
