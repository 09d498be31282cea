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
from zygarde.search.journal import Journal
from zygarde.search.samplers.base import Sampler
from zygarde.search.spaces import SearchSpace
from zygarde.search.trials import TrialResult, TrialSpec

MAX_REDRAWS = 25  # a configuration already tried or running is drawn again, this many times at most


def _suggest(trial: Any, name: str, space: Any) -> Any:
    """One parameter from a declared space: a list of values, or scipy's randint / uniform / loguniform."""
    if isinstance(space, list):
        return trial.suggest_categorical(name, space)
    try:
        kind = space.dist.name  # a frozen scipy distribution
        low, high = space.support()
    except AttributeError:
        kind = ""
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


class TPESampler(Sampler):
    """Optuna's TPE over ``spaces`` (algorithm -> its space): ``total`` trials, seeded, one study.

    In memory by default; ``persist(path)`` (before the first ask) keeps the study in a journal file (Optuna's
    ``JournalStorage``), so a search that crashed continues from it: its finished trials are neither asked nor
    run again (``restore`` returns their results), and a trial the crash left RUNNING (Optuna would keep it so
    forever, and TPE would avoid its region) is failed and its parameters are asked again first.
    """

    STUDY = "search"  # one study per journal file, and one journal per run

    def __init__(self, spaces: dict[str, SearchSpace], total: int, metric: str, greater_is_better: bool,
                 seed: int) -> None:  # fmt: skip
        if not spaces or total < 1:
            raise ZygardeError(f"{option('search')} tpe needs at least one algorithm and {option('trials')} >= 1.")
        self.spaces, self.total, self.metric = spaces, total, metric
        self.greater_is_better, self.seed = greater_is_better, seed
        self.journal: Journal | None = None
        self._reset()

    def _reset(self) -> None:
        self._study: Any = None
        self._live: dict[int, Any] = {}  # trial id (the Optuna trial number) -> Optuna trial, while it runs
        self._tried: set[str] = set()
        self._asked = 0
        self._exhausted = False
        self._restored: list[TrialResult] = []
        self._rng: Any = None  # for a random point when TPE repeats itself

    def persist(self, journal: Journal) -> None:
        """Keep the study in ``journal`` (created, or continued if it holds an earlier attempt: also when this
        sampler ran that attempt, as a retried task does; what it held in memory is replaced by the journal's)."""
        if self._study is not None and self.journal != journal:
            raise ZygardeError("A study's storage is chosen before its first ask.")
        self.journal = journal
        self._reset()

    @property
    def study(self) -> Any:
        """The Optuna study (opened on first use; continuing the journal's, if there is one)."""
        if self._study is None:
            self._study = self._open()
        return self._study

    def _open(self) -> Any:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        from optuna.trial import TrialState

        optuna.logging.set_verbosity(logging.WARNING)
        storage = JournalStorage(JournalFileBackend(self.journal.location())) if self.journal else None
        study = optuna.create_study(direction="maximize" if self.greater_is_better else "minimize",
                                    sampler=self.optuna_sampler(),
                                    storage=storage, study_name=self.STUDY if storage else None,
                                    load_if_exists=True)  # fmt: skip
        for trial in study.get_trials(deepcopy=False):
            attrs = trial.user_attrs
            if trial.state == TrialState.RUNNING:  # left by a crash: failed, and its parameters asked again first
                study.tell(trial.number, state=TrialState.FAIL)
                study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})
            elif "result" in attrs:  # finished: counts to the budget, not asked again
                self._tried.add(attrs["key"])
                self._asked += 1
                self._restored.append(TrialResult.from_record(attrs["result"]))
        return study

    @property
    def startup(self) -> int:
        """Random draws before the model (TPE's or the GP's) proposes anything."""
        return max(2, min(10, self.total // 4))

    def optuna_sampler(self) -> Any:
        """Optuna's multivariate, grouped TPE: parameters modelled jointly within each algorithm's sub-space
        (independent sampling of a conditional space stalled on a toy problem here: tests/unit/test_bayes.py)."""
        import optuna

        with warnings.catch_warnings():  # `group` is "experimental" in Optuna 5; it is what conditional spaces need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.startup, multivariate=True,
                                              group=True)  # fmt: skip

    def restore(self, done: dict[str, TrialResult]) -> list[TrialResult]:
        """The results of the trials the journal says were finished (``done``: the run's logged trials, used
        for their MLflow run ids)."""
        _ = self.study
        for result in self._restored:
            logged = done.get(result.key)
            result.run_id = logged.run_id if logged else None
        return list(self._restored)

    @property
    def finished(self) -> bool:
        """True once ``total`` trials were handed out (or the space has no new configuration) and all told."""
        return (self._asked >= self.total or self._exhausted) and not self._live

    def ask(self) -> TrialSpec | None:
        """A configuration neither tried nor running; None when the budget or the space is used up."""
        from optuna.trial import TrialState

        if self._asked >= self.total or self._exhausted:
            return None
        for attempt in range(MAX_REDRAWS):
            if attempt:  # TPE proposed a point already tried (it will, once it is sure of a small space's best)
                self.study.enqueue_trial(self._random_point())
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
        trial.set_user_attr("key", key)
        spec = TrialSpec(trial_id=trial.number, algorithm=algorithm, params=params)
        self._live[spec.trial_id] = trial
        self._asked += 1
        return spec

    def _random_point(self) -> dict[str, Any]:
        """A uniformly drawn point of the spaces, named as the study names its parameters."""
        import numpy as np

        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        algorithm = list(self.spaces)[int(self._rng.integers(len(self.spaces)))]
        point: dict[str, Any] = {"algorithm": algorithm} if len(self.spaces) > 1 else {}
        for name, space in self.spaces[algorithm].items():
            value = space[int(self._rng.integers(len(space)))] if isinstance(space, list) else space.rvs(
                random_state=self._rng)  # fmt: skip
            point[f"{algorithm}.{name}"] = value.item() if isinstance(value, np.generic) else value
        return point

    def tell(self, result: TrialResult, asked_as: int | None = None) -> None:
        """The trial's score (its failure, if it failed or has no score), its result kept with it (``asked_as``:
        the number this sampler asked the trial under, when the caller numbers trials its own way)."""
        from optuna.trial import TrialState

        trial = self._live.pop(result.trial_id if asked_as is None else asked_as)
        trial.set_user_attr("result", json.loads(result.journal_line()))
        value = result.scores.get(self.metric)
        if result.error or value is None:
            self.study.tell(trial, state=TrialState.FAIL)
        else:
            self.study.tell(trial, float(value))


class GPSampler(TPESampler):
    """Optuna's Gaussian-process sampler (Matern 5/2 with automatic relevance determination, log expected
    improvement; since Optuna 5 the trials still running enter its batch acquisition, so parallel asks spread)
    over one algorithm's numeric space: a GP models how the score varies with distances between
    configurations, which a categorical choice among words, or among algorithms, does not have. Everything
    else (the journal, crash safety, unique asks) is ``TPESampler``'s. Each ask fits the GP in this process
    (PyTorch): fine for trials of seconds or more, costly for trials well under a second.
    """

    def optuna_sampler(self) -> Any:
        """Optuna's GPSampler, seeded, after the same number of random draws as TPE."""
        import optuna

        return optuna.samplers.GPSampler(seed=self.seed, n_startup_trials=self.startup,
                                         warn_independent_sampling=False)  # fmt: skip

    def ask(self) -> TrialSpec | None:
        """As TPE's, the GP fitted on one PyTorch thread: a GP of a few hundred points gains nothing from more,
        and the driver shares the machine with the workers."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return super().ask()
        finally:
            torch.set_num_threads(threads)
