"""Optuna-backed search with pruning (optional extra ``estlab[tune]``): trials are lab runs, bad ones stopped early.

:class:`OptunaSearch` asks an Optuna study for parameter sets, launches each as a run (``launch(params) -> run
name``, e.g. the lab's ``RunManager.launch`` of a spec), and watches the runs' event streams through a
:class:`TappedExecutor` wrapped around the lab's executor: each evaluation of ``metric`` is reported with
``trial.report(value, step)``; when ``trial.should_prune()`` the run is stopped through the runner's stop (a
final checkpoint, as any Stop) and its ``train_end`` says ``pruned by optuna``. A run that ends tells the study
its final ``metric`` (or PRUNED / FAIL) and the next trial starts, ``parallel`` at a time.

The search space is the sweep's (:mod:`estlab.runner.sweep`): lists become categorical choices, ``loguniform``
/ ``uniform`` / ``randint`` become ``suggest_float(log=True)`` / ``suggest_float`` / ``suggest_int``, anything
else is fixed. Optuna is imported only when a search is created.

Examples
--------
>>> from estlab.runner.sweep import loguniform
>>> search = OptunaSearch({"learning_rate": loguniform(1e-4, 1e-1)}, launch=print, stop=print,
...                       trials=4, metric="accuracy")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from estlab.runner.executor import Done, Emit, Executor, RunRequest
from estlab.runner.sweep import Distribution

Tap = Callable[[str, dict[str, Any]], dict[str, Any]]


class TappedExecutor:
    """Wrap an executor so that ``tap(name, event)`` sees (and may amend) every event before the lab does.

    Examples
    --------
    >>> from estlab.runner.executor import ThreadExecutor
    >>> TappedExecutor(ThreadExecutor(lambda spec, name: None), capacity=None).capacity
    1
    """

    def __init__(self, inner: Executor, capacity: int | None = None) -> None:
        self.inner = inner
        self.capacity = inner.capacity if capacity is None else capacity
        self.taps: list[Tap] = []
        self.errors: list[str] = []

    def start(self, name: str, request: RunRequest, emit: Emit, done: Done) -> None:
        def tapped(event: dict[str, Any]) -> None:
            for tap in list(self.taps):
                try:
                    event = tap(name, event)
                except Exception:  # a broken tap must not break the run's stream
                    self.errors.append(traceback.format_exc())
            emit(event)

        self.inner.start(name, request, tapped, done)

    def stop(self, name: str) -> None:
        self.inner.stop(name)

    def release(self, name: str) -> None:
        self.inner.release(name)

    def close(self, timeout: float = 1.0) -> None:
        self.inner.close(timeout)


def import_optuna() -> Any:
    """``import optuna``, or an ImportError naming the extra."""
    try:
        import optuna
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("search='optuna' needs Optuna: pip install 'estlab[tune]' (or pip install optuna)") from exc
    return optuna


def suggest(trial: Any, space: Mapping[str, Any]) -> dict[str, Any]:
    """One parameter set of ``space`` drawn through an Optuna trial (list values stay lists)."""
    params: dict[str, Any] = {}
    for key, value in space.items():
        if isinstance(value, Distribution):
            if value.kind == "randint":
                params[key] = trial.suggest_int(key, int(value.low), int(value.high))
            else:
                params[key] = trial.suggest_float(key, value.low, value.high, log=value.kind == "loguniform")
        elif isinstance(value, list | tuple):
            if not value:
                raise ValueError(f"{key}: an empty list leaves nothing to try")
            labels = [json.dumps(v, default=repr) for v in value]  # choices must be plain scalars for Optuna
            params[key] = value[labels.index(trial.suggest_categorical(key, labels))]
        else:
            params[key] = value
    return params


class OptunaSearch:
    """Run ``trials`` Optuna trials as lab runs, ``parallel`` at a time, pruning bad ones from their evaluations.

    Parameters
    ----------
    space
        The search space (see the module docstring).
    launch
        ``params -> run name``: queues a run (e.g. ``lambda p: manager.launch(spec_of(p)).name``); may raise
        (a duplicate configuration): that trial fails and the next is asked.
    stop
        ``run name -> None``: the runner's stop.
    trials, parallel
        Trials in all, and at once.
    metric, direction
        The evaluation metric to optimise, ``"maximize"`` / ``"minimize"`` (default: from the metric's name,
        ``estlab.training.metric_info.higher_is_better``).
    pruner, sampler, study
        Optuna objects (default: ``MedianPruner(n_startup_trials=2, n_warmup_steps=1)``, ``TPESampler(seed)``,
        a new in-memory study).
    """

    def __init__(self, space: Mapping[str, Any], launch: Callable[[dict[str, Any]], str],
                 stop: Callable[[str], None], trials: int, metric: str, direction: str | None = None,
                 parallel: int = 1, pruner: Any = None, sampler: Any = None, study: Any = None,
                 seed: int = 0) -> None:
        optuna = self.optuna = import_optuna()
        if direction is None:
            from estlab.training.metric_info import higher_is_better

            direction = "maximize" if higher_is_better(metric) else "minimize"
        self.space, self.launch, self.stop_run = dict(space), launch, stop
        self.trials, self.parallel, self.metric = trials, max(1, parallel), metric
        self.study = study or optuna.create_study(
            direction=direction, sampler=sampler or optuna.samplers.TPESampler(seed=seed),
            pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
        self.runs: dict[str, Any] = {}  # run name -> trial
        self.pruned: dict[str, str] = {}  # run name -> why
        self.asked = 0
        self.finished = threading.Event()
        self._open: set[str] = set()
        self._last: dict[str, float] = {}
        self.errors: list[str] = []
        self._lock = threading.RLock()

    def attach(self, executor: TappedExecutor) -> OptunaSearch:
        """Watch the runs of ``executor`` (the lab's, wrapped in a :class:`TappedExecutor`)."""
        executor.taps.append(self.on_event)
        return self

    def start(self) -> list[str]:
        """Launch the first ``parallel`` trials; returns their run names (the rest follow as runs end)."""
        with self._lock:
            for _ in range(min(self.parallel, self.trials)):
                self._next()
            return list(self.runs)

    def _next(self) -> None:
        while self.asked < self.trials:
            self.asked += 1
            trial = self.study.ask()
            try:
                name = self.launch(suggest(trial, self.space))
            except Exception as exc:  # e.g. the same configuration already trained: that trial fails
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                continue
            trial.set_user_attr("run", name)
            self.runs[name] = trial
            self._open.add(name)
            return
        if not self._open:
            self.finished.set()

    def on_event(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        """Report evaluations, prune, and tell the study when a run ends (called for every event)."""
        with self._lock:
            trial = self.runs.get(name)
            if trial is None or name not in self._open:
                return event
            kind = event.get("type")
            value = (event.get("metrics") or {}).get(self.metric)
            if kind == "evaluate" and event.get("name") is None and value is not None:
                step = int(event.get("global_step") or 0)
                trial.report(float(value), step)
                self._last[name] = float(value)
                if name not in self.pruned and trial.should_prune():
                    self.pruned[name] = f"pruned by optuna at step {step} ({self.metric}={float(value):.6g})"
                    self.stop_run(name)
            elif kind == "train_end":
                self._open.discard(name)
                state = self.optuna.trial.TrialState
                if name in self.pruned:
                    event = {**event, "status": "stopped", "reason": self.pruned[name]}
                    self.study.tell(trial, state=state.PRUNED)
                elif event.get("status") == "finished" and name in self._last:
                    self.study.tell(trial, self._last[name])  # the final evaluation
                else:
                    self.study.tell(trial, state=state.FAIL)
                self._next()
            return event
