"""Early stopping: TF's ``tf.estimator.experimental`` hooks and estlab's ``EarlyStopping``.

TF's family (``stop_if_higher_hook``, ``stop_if_lower_hook``, ``stop_if_no_increase_hook``,
``stop_if_no_decrease_hook``, ``make_early_stopping_hook``) keeps TF's signatures and semantics: the hook
calls its predicate after the first training step and then every ``run_every_steps`` steps (or every
``run_every_secs`` seconds); the predicate reads the evaluation metrics by global step. As in TF's local
``train_and_evaluate``, a check made at a step that is also evaluated sees that step's evaluation.

Where the metrics come from (:func:`read_eval_metrics`): ``eval_dir=None`` (TF: ``estimator.eval_dir()``)
and ``eval_dir`` = ``<model_dir>/eval`` or ``<model_dir>/eval_<name>`` read the estimator's ``History`` (the
values estlab writes to that TensorBoard directory, in memory and restored from checkpoints); any other
directory is read from its TensorBoard event files, as TF reads ``eval_dir``.

All of them stop training only through ``control.request_stop(reason)``.
"""

from __future__ import annotations

import logging
import operator
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from estlab.training.events import ORDER, Event, Listener
from estlab.training.metric_info import higher_is_better
from estlab.warnings import TrainingWarning

logger = logging.getLogger(__name__)


class EarlyStopping(Listener):
    """Stop when ``metric`` has not improved by more than ``min_delta`` for ``patience`` evaluations.

    Parameters
    ----------
    metric : str
        Evaluation metric key (``"loss"``, ``"auc"``, ...).
    mode : str
        ``"min"`` (lower is better) or ``"max"``; ``"auto"`` reads the metric's direction as the heads declare
        it (:func:`estlab.training.metric_info.higher_is_better`: ``"max"`` for accuracy, auc, ...).
    min_delta : float
        Smallest change that counts as an improvement.
    patience : int
        Stop at the ``patience``-th consecutive evaluation without improvement (Keras' rule; 0 acts as 1).
    eval_name : str, optional
        Only evaluations with this ``name`` count (``None``: the default evaluation).
    restore_best : bool
        Keep the checkpoint of the best evaluation (a hard link, else a copy, under
        ``<model_dir>/best/<metric>/``, out of reach of ``keep_checkpoint_max``) and, when ``train`` ends, load
        its weights (and optimizer state) into the model and rewrite the newest checkpoint with them, keeping
        the global step: ``evaluate``, ``predict`` and ``export_saved_model`` then use the best weights. The
        metrics ``train_and_evaluate`` returns stay those of its last evaluation, and exporters run inside it
        see each evaluation's own checkpoint.

    Examples
    --------
    >>> stop = EarlyStopping("loss", patience=1)
    >>> stop.observe(1.0), stop.observe(1.5)
    (False, True)
    >>> EarlyStopping("auc", patience=3, restore_best=True).restore_best
    True
    """

    order = ORDER["monitors"]

    def __init__(self, metric: str = "loss", mode: str = "auto", min_delta: float = 0.0, patience: int = 0,
                 eval_name: str | None = None, restore_best: bool = False) -> None:
        if mode == "auto":
            mode = "max" if higher_is_better(metric) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience and min_delta must be >= 0, got {patience!r}, {min_delta!r}")
        if not isinstance(restore_best, bool):
            raise ValueError(f"EarlyStopping: restore_best must be True or False, got {restore_best!r}")
        self.metric, self.mode, self.min_delta, self.patience, self.eval_name = (
            metric, mode, float(min_delta), int(patience), eval_name)
        self.restore_best = restore_best
        self.best: float | None = None
        self.wait = 0
        #: global step of the best evaluation, and the kept copy of its checkpoint (``restore_best``)
        self.best_step: int | None = None
        self.best_checkpoint: str | None = None

    @property
    def state_key(self) -> str:
        """Key of this listener's state in checkpoints (restored into a fresh listener on resume)."""
        return f"EarlyStopping:{self.metric}:{self.eval_name}"

    def state_dict(self) -> dict[str, Any]:
        """Best value, evaluations without improvement, the best's step and kept checkpoint (plain JSON)."""
        return {"best": self.best, "wait": self.wait, "best_step": self.best_step,
                "best_checkpoint": self.best_checkpoint}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` unless this listener has already observed values."""
        if self.best is None:
            self.best, self.wait = state.get("best"), int(state.get("wait", 0))
            self.best_step, self.best_checkpoint = state.get("best_step"), state.get("best_checkpoint")

    def observe(self, value: float) -> bool:
        """Record one evaluation's value; True when training should stop."""
        better = (self.best is None or
                  (value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta))
        if better:
            self.best, self.wait = value, 0
            return False
        self.wait += 1
        return self.wait >= max(self.patience, 1)

    def on_evaluate(self, event: Event) -> None:
        if event.get("name") != self.eval_name:
            return
        if self.metric not in event["metrics"]:
            raise ValueError(f"EarlyStopping: metric {self.metric!r} is not among the evaluation metrics "
                             f"{sorted(event['metrics'])}; pass one of them")
        stop = self.observe(float(event["metrics"][self.metric]))
        if self.wait == 0:  # this evaluation is the new best
            self.best_step = int(event["global_step"])
            self.best_checkpoint = self._keep_checkpoint(event) if self.restore_best else None
        if stop and self.control is not None:
            self.control.request_stop(
                f"early stopping: {self.metric} did not improve by more than {self.min_delta} for "
                f"{max(self.patience, 1)} evaluation(s) (best {self.best:.6g})")

    def _keep_checkpoint(self, event: Event) -> str | None:
        """Hard-link (else copy) the evaluated step's checkpoint to ``<model_dir>/best/<metric>/``; its path."""
        from estlab.training import checkpoints

        model_dir = event.get("run")
        source = checkpoints.checkpoint_path(model_dir, int(event["global_step"])) if model_dir else None
        if source is None or not source.is_file():
            return None  # not the chief, or an evaluation of no checkpoint: nothing to keep
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.metric if self.eval_name is None
                      else f"{self.eval_name}_{self.metric}")
        folder = source.parent / "best" / slug
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / source.name
        tmp = folder / f".{source.name}.tmp-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)  # the same bytes; pruning the original keeps this name
        except OSError:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        for old in checkpoints.list_checkpoints(folder):
            if old != target:
                old.unlink(missing_ok=True)
        return str(target)

    def restore_path(self) -> str | None:
        """The kept checkpoint of the best evaluation when ``restore_best`` is on (None otherwise).

        ``Estimator.train`` calls it when training ends and loads that checkpoint's weights. When the best
        evaluation had no checkpoint to keep (evaluated outside a training session, or off the chief), a
        :class:`~estlab.warnings.TrainingWarning` says so and None is returned.
        """
        if not self.restore_best or self.best_step is None:
            return None
        if self.best_checkpoint is None or not os.path.isfile(self.best_checkpoint):
            warnings.warn(f"EarlyStopping(restore_best=True): the best evaluation (step {self.best_step}, "
                          f"{self.metric}={self.best:.6g}) has no kept checkpoint; the model keeps its last "
                          "weights", TrainingWarning, stacklevel=2)
            return None
        return self.best_checkpoint



class _Timer:
    """TF's ``SecondOrStepTimer``: triggers at the first step seen, then every N steps or every N seconds."""

    def __init__(self, every_secs: float | None, every_steps: int | None) -> None:
        self.every_secs, self.every_steps = every_secs, every_steps
        self.last_step: int | None = None
        self._last_time = 0.0

    def should_trigger_for_step(self, step: int) -> bool:
        if self.last_step is None:
            return True
        if step == self.last_step:
            return False
        if self.every_steps is not None:
            return step >= self.last_step + self.every_steps
        return self.every_secs is not None and time.monotonic() >= self._last_time + self.every_secs

    def update_last_triggered_step(self, step: int) -> None:
        self.last_step, self._last_time = step, time.monotonic()


class StopOnPredicateHook(Listener):
    """The listener :func:`make_early_stopping_hook` returns: stops training when ``should_stop_fn()`` is true.

    ``should_stop_fn`` is called after a step when the timer triggers (the first step of the hook's first
    run, then every ``run_every_steps`` steps or ``run_every_secs`` seconds); when that step is also
    evaluated, it is called again once the evaluation is recorded (TF evaluates in the checkpoint hook, which
    runs before the user's hooks). ``should_stop()`` calls the predicate directly.

    Examples
    --------
    >>> hook = StopOnPredicateHook(lambda: True, run_every_secs=None, run_every_steps=10)
    >>> hook.should_stop()
    True
    """

    order = ORDER["monitors"]

    def __init__(self, should_stop_fn: Callable[[], bool], run_every_secs: float | None = 60,
                 run_every_steps: int | None = None, reason: str = "early stopping: should_stop_fn returned True"
                 ) -> None:
        if not callable(should_stop_fn):
            raise TypeError(f"should_stop_fn must be a callable taking no arguments, got {should_stop_fn!r}")
        if run_every_steps is not None:
            if isinstance(run_every_steps, bool) or not isinstance(run_every_steps, int) or run_every_steps <= 0:
                raise ValueError(f"run_every_steps must be a positive int or None, got {run_every_steps!r}")
            run_every_secs = None  # TF refuses both; estlab lets the step cadence win
        elif run_every_secs is None:
            raise ValueError("either run_every_secs or run_every_steps must be set (TF's rule)")
        elif isinstance(run_every_secs, bool) or not isinstance(run_every_secs, int | float) or run_every_secs < 0:
            raise ValueError(f"run_every_secs must be a number >= 0 or None, got {run_every_secs!r}")
        self.should_stop_fn, self.reason = should_stop_fn, reason
        self.run_every_secs, self.run_every_steps = run_every_secs, run_every_steps
        self._timer = _Timer(run_every_secs, run_every_steps)
        self._training = False
        #: global steps at which the predicate was called during training (for inspection and tests).
        self.checked_steps: list[int] = []

    def should_stop(self) -> bool:
        """Call the predicate now."""
        return bool(self.should_stop_fn())

    def _check(self, step: int) -> None:
        control = self.control
        if control is None or control.stop_requested:
            return
        self.checked_steps.append(step)
        if self.should_stop():
            logger.info("Requesting early stopping at global step %d", step)
            control.request_stop(self.reason)

    def on_train_begin(self, event: Event) -> None:
        self._training = True

    def on_train_end(self, event: Event) -> None:
        self._training = False

    def on_step_end(self, event: Event) -> None:
        step = int(event["global_step"])
        if self._timer.should_trigger_for_step(step):
            self._timer.update_last_triggered_step(step)
            self._check(step)

    def on_evaluate(self, event: Event) -> None:
        if self._training and self._timer.last_step == event["global_step"]:
            self._check(int(event["global_step"]))


def make_early_stopping_hook(estimator: Any, should_stop_fn: Callable[[], bool], run_every_secs: float | None = 60,
                             run_every_steps: int | None = None) -> StopOnPredicateHook:
    """A hook that stops training when ``should_stop_fn()`` returns True (TF's ``make_early_stopping_hook``).

    Parameters
    ----------
    estimator : Estimator
        The estimator being trained.
    should_stop_fn : callable
        ``() -> bool``, called at the cadence below.
    run_every_secs : float, optional
        Call it every this many seconds (TF's default 60); ignored when ``run_every_steps`` is given.
    run_every_steps : int, optional
        Call it every this many steps instead (TF requires ``run_every_secs=None`` with it; estlab does not).

    Examples
    --------
    >>> hook = make_early_stopping_hook(est, lambda: est.global_step > 100, run_every_steps=10)  # doctest: +SKIP
    >>> est.train(input_fn, hooks=[hook])  # doctest: +SKIP
    """
    _check_estimator(estimator, "make_early_stopping_hook")
    return StopOnPredicateHook(should_stop_fn, run_every_secs, run_every_steps)


def _check_estimator(estimator: Any, owner: str) -> None:
    if estimator is None or not hasattr(estimator, "model_dir"):
        raise TypeError(f"{owner}: estimator must be an estlab Estimator, got {type(estimator).__name__}")


def read_eval_metrics(estimator: Any, eval_dir: str | os.PathLike | None = None,
                      eval_name: str | None = None) -> dict[int, dict[str, float]]:
    """Evaluation metrics by global step, in step order (TF's ``read_eval_metrics``).

    ``eval_dir=None`` reads the estimator's evaluations called ``eval_name`` (TF: ``estimator.eval_dir()``);
    ``<model_dir>/eval`` and ``<model_dir>/eval_<name>`` read the evaluations of that name from the
    estimator's ``History``; any other directory is read from its TensorBoard event files.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from estlab.training.history import History
    >>> h = History()
    >>> h.dispatch({"type": "evaluate", "global_step": 5, "time": 0.0, "name": None, "metrics": {"loss": 1.0}})
    >>> read_eval_metrics(SimpleNamespace(history=h, model_dir="/tmp/m"))
    {5: {'loss': 1.0}}
    """
    if eval_dir is not None:
        path = Path(eval_dir).expanduser().resolve()
        model_dir = getattr(estimator, "model_dir", None)
        inside = model_dir is not None and path.parent == Path(model_dir).expanduser().resolve()
        if inside and (path.name == "eval" or path.name.startswith("eval_")):
            eval_name = None if path.name == "eval" else path.name[len("eval_"):]
        else:
            return _read_event_files(path)
    rows = sorted((r for r in estimator.history.evaluations if r["name"] == eval_name),
                  key=lambda r: r["global_step"])
    return {int(r["global_step"]): dict(r["metrics"]) for r in rows}


def _read_event_files(path: Path) -> dict[int, dict[str, float]]:
    if not path.is_dir():
        return {}
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    accumulator = EventAccumulator(str(path), size_guidance={SCALARS: 0})
    accumulator.Reload()
    found: dict[int, dict[str, float]] = {}
    for tag in accumulator.Tags().get("scalars", []):
        for scalar in accumulator.Scalars(tag):
            found.setdefault(int(scalar.step), {})[tag] = float(scalar.value)
    return dict(sorted(found.items()))


def _metric(metrics: dict[str, float], metric_name: str, step: int) -> float:
    if metric_name not in metrics:
        raise ValueError(f"early stopping: metric {metric_name!r} is not in the evaluation of step {step}, "
                         f"which has {sorted(metrics)}; pass one of them")
    return metrics[metric_name]


def _threshold_hook(estimator: Any, metric_name: str, threshold: float, higher: bool, eval_dir: Any,
                    min_steps: int, run_every_secs: float | None, run_every_steps: int | None,
                    eval_name: str | None, owner: str) -> StopOnPredicateHook:
    _check_estimator(estimator, owner)
    crossed = operator.gt if higher else operator.lt

    def stop_if_threshold_crossed() -> bool:
        for step, metrics in read_eval_metrics(estimator, eval_dir, eval_name).items():
            if step >= min_steps and crossed(_metric(metrics, metric_name, step), threshold):
                return True
        return False

    word = "higher" if higher else "lower"
    return StopOnPredicateHook(stop_if_threshold_crossed, run_every_secs, run_every_steps,
                               f"early stopping: {metric_name} {word} than {threshold}")


def _no_improvement_hook(estimator: Any, metric_name: str, max_steps: int, higher: bool, eval_dir: Any,
                         min_steps: int, run_every_secs: float | None, run_every_steps: int | None,
                         eval_name: str | None, owner: str) -> StopOnPredicateHook:
    _check_estimator(estimator, owner)
    better = operator.gt if higher else operator.lt

    def stop_if_no_improvement() -> bool:
        best: float | None = None
        best_step = 0
        for step, metrics in read_eval_metrics(estimator, eval_dir, eval_name).items():
            if step < min_steps:
                continue
            value = _metric(metrics, metric_name, step)
            if best is None or better(value, best):
                best, best_step = value, step
            if step - best_step >= max_steps:
                return True
        return False

    word = "increase" if higher else "decrease"
    return StopOnPredicateHook(stop_if_no_improvement, run_every_secs, run_every_steps,
                               f"early stopping: no {word} in {metric_name} for {max_steps} steps")


def stop_if_higher_hook(estimator: Any, metric_name: str, threshold: float, eval_dir: str | os.PathLike | None = None,
                        min_steps: int = 0, run_every_secs: float | None = 60, run_every_steps: int | None = None,
                        *, eval_name: str | None = None) -> StopOnPredicateHook:
    """Stop training once an evaluation at step ``>= min_steps`` has ``metric_name > threshold`` (TF's hook).

    Parameters
    ----------
    estimator : Estimator
        The estimator being trained (its evaluations are read).
    metric_name : str
        Evaluation metric key (``"accuracy"``, ``"loss"``, ...).
    threshold : float
        Stop when the metric is strictly higher.
    eval_dir : str, optional
        Where the evaluations are read (see the module docstring); default the estimator's own.
    min_steps : int
        Evaluations before this global step are not considered.
    run_every_secs, run_every_steps : float, int, optional
        Check cadence (see :func:`make_early_stopping_hook`).
    eval_name : str, optional
        estlab: read the evaluations called this (``EvalSpec(name=)``) when ``eval_dir`` is None.

    Examples
    --------
    >>> hook = stop_if_higher_hook(est, "accuracy", 0.9, run_every_secs=None, run_every_steps=10)  # doctest: +SKIP
    """
    return _threshold_hook(estimator, metric_name, threshold, True, eval_dir, min_steps, run_every_secs,
                           run_every_steps, eval_name, "stop_if_higher_hook")


def stop_if_lower_hook(estimator: Any, metric_name: str, threshold: float, eval_dir: str | os.PathLike | None = None,
                       min_steps: int = 0, run_every_secs: float | None = 60, run_every_steps: int | None = None,
                       *, eval_name: str | None = None) -> StopOnPredicateHook:
    """Stop training once an evaluation at step ``>= min_steps`` has ``metric_name < threshold`` (TF's hook).

    Parameters are those of :func:`stop_if_higher_hook`.

    Examples
    --------
    >>> hook = stop_if_lower_hook(est, "loss", 0.1, run_every_secs=None, run_every_steps=10)  # doctest: +SKIP
    """
    return _threshold_hook(estimator, metric_name, threshold, False, eval_dir, min_steps, run_every_secs,
                           run_every_steps, eval_name, "stop_if_lower_hook")


def stop_if_no_decrease_hook(estimator: Any, metric_name: str, max_steps_without_decrease: int,
                             eval_dir: str | os.PathLike | None = None, min_steps: int = 0, run_every_secs: float | None = 60,
                             run_every_steps: int | None = None, *,
                             eval_name: str | None = None) -> StopOnPredicateHook:
    """Stop training when ``metric_name`` has not decreased for ``max_steps_without_decrease`` steps (TF's hook).

    The evaluations (from step ``min_steps`` on) are walked in step order; training stops when one is
    ``max_steps_without_decrease`` or more global steps after the best (lowest) value so far.

    Parameters
    ----------
    estimator : Estimator
        The estimator being trained (its evaluations are read).
    metric_name : str
        Evaluation metric key.
    max_steps_without_decrease : int
        Global steps without a new lowest value after which training stops.
    eval_dir : str, optional
        Where the evaluations are read (see the module docstring); default the estimator's own.
    min_steps : int
        Evaluations before this global step are not considered.
    run_every_secs, run_every_steps : float, int, optional
        Check cadence (see :func:`make_early_stopping_hook`).
    eval_name : str, optional
        estlab: read the evaluations called this (``EvalSpec(name=)``) when ``eval_dir`` is None.

    Examples
    --------
    >>> hook = stop_if_no_decrease_hook(estimator, "loss", 1000)  # doctest: +SKIP
    >>> estimator.train(train_df, label="y", hooks=[hook])  # doctest: +SKIP
    """
    return _no_improvement_hook(estimator, metric_name, max_steps_without_decrease, False, eval_dir, min_steps,
                                run_every_secs, run_every_steps, eval_name, "stop_if_no_decrease_hook")


def stop_if_no_increase_hook(estimator: Any, metric_name: str, max_steps_without_increase: int,
                             eval_dir: str | os.PathLike | None = None, min_steps: int = 0, run_every_secs: float | None = 60,
                             run_every_steps: int | None = None, *,
                             eval_name: str | None = None) -> StopOnPredicateHook:
    """Stop training when ``metric_name`` has not increased for ``max_steps_without_increase`` steps (TF's hook).

    Parameters are those of :func:`stop_if_no_decrease_hook`, with "highest" for "lowest".

    Examples
    --------
    >>> hook = stop_if_no_increase_hook(estimator, "auc", 1000)  # doctest: +SKIP
    """
    return _no_improvement_hook(estimator, metric_name, max_steps_without_increase, True, eval_dir, min_steps,
                                run_every_secs, run_every_steps, eval_name, "stop_if_no_increase_hook")
