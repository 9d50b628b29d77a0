"""Early stopping: TF's ``stop_if_no_decrease_hook`` / ``stop_if_no_increase_hook`` and ``EarlyStopping``.

Both read evaluation results; they stop training only through ``control.request_stop(reason)``.
"""

from __future__ import annotations

import logging
import operator
from typing import Any

from estlab.training.events import ORDER, Event, Listener
from estlab.training.metric_info import higher_is_better

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

    Examples
    --------
    >>> stop = EarlyStopping("loss", patience=1)
    >>> stop.observe(1.0), stop.observe(1.5)
    (False, True)
    """

    order = ORDER["monitors"]

    def __init__(self, metric: str = "loss", mode: str = "auto", min_delta: float = 0.0, patience: int = 0,
                 eval_name: str | None = None) -> None:
        if mode == "auto":
            mode = "max" if higher_is_better(metric) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        if patience < 0 or min_delta < 0:
            raise ValueError(f"EarlyStopping: patience and min_delta must be >= 0, got {patience!r}, {min_delta!r}")
        self.metric, self.mode, self.min_delta, self.patience, self.eval_name = (
            metric, mode, float(min_delta), int(patience), eval_name)
        self.best: float | None = None
        self.wait = 0

    @property
    def state_key(self) -> str:
        """Key of this listener's state in checkpoints (restored into a fresh listener on resume)."""
        return f"EarlyStopping:{self.metric}:{self.eval_name}"

    def state_dict(self) -> dict[str, Any]:
        """Best value and evaluations without improvement (plain JSON)."""
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()`` unless this listener has already observed values."""
        if self.best is None:
            self.best, self.wait = state.get("best"), int(state.get("wait", 0))

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
        if self.observe(float(event["metrics"][self.metric])) and self.control is not None:
            self.control.request_stop(
                f"early stopping: {self.metric} did not improve by more than {self.min_delta} for "
                f"{max(self.patience, 1)} evaluation(s) (best {self.best:.6g})")


class _StopIfNoImprovement(Listener):
    """TF's ``stop_if_no_{decrease,increase}_hook``: reads the estimator's evaluation history."""

    order = ORDER["monitors"]

    def __init__(self, estimator: Any, metric_name: str, max_steps_without_improvement: int, better: Any,
                 min_steps: int, run_every_steps: int, eval_name: str | None) -> None:
        self.estimator, self.metric_name = estimator, metric_name
        self.max_steps_without_improvement, self.better = int(max_steps_without_improvement), better
        self.min_steps, self.run_every_steps, self.eval_name = int(min_steps), int(run_every_steps), eval_name

    def should_stop(self) -> bool:
        """True when the best evaluation is ``max_steps_without_improvement`` steps behind the latest one."""
        values = self.estimator.history.metric_history(self.metric_name, self.eval_name)
        if not values:
            return False
        best_step, best = values[0]
        for step, value in values[1:]:
            if self.better(value, best):
                best_step, best = step, value
        last_step = values[-1][0]
        return last_step >= self.min_steps and last_step - best_step >= self.max_steps_without_improvement

    def _check(self) -> None:
        if self.control is not None and self.should_stop():
            self.control.request_stop(f"no improvement in {self.metric_name} for "
                                      f"{self.max_steps_without_improvement} steps")

    def on_step_end(self, event: Event) -> None:
        if event["global_step"] % self.run_every_steps == 0:
            self._check()

    def on_evaluate(self, event: Event) -> None:
        self._check()


def stop_if_no_decrease_hook(estimator: Any, metric_name: str, max_steps_without_decrease: int,
                             min_steps: int = 0, run_every_steps: int = 100,
                             eval_name: str | None = None) -> Listener:
    """Stop training when ``metric_name`` has not decreased for ``max_steps_without_decrease`` steps.

    Examples
    --------
    >>> hook = stop_if_no_decrease_hook(estimator, "loss", 1000)  # doctest: +SKIP
    >>> estimator.train(train_df, label="y", hooks=[hook])  # doctest: +SKIP
    """
    return _StopIfNoImprovement(estimator, metric_name, max_steps_without_decrease, operator.lt, min_steps,
                                run_every_steps, eval_name)


def stop_if_no_increase_hook(estimator: Any, metric_name: str, max_steps_without_increase: int,
                             min_steps: int = 0, run_every_steps: int = 100,
                             eval_name: str | None = None) -> Listener:
    """Stop training when ``metric_name`` has not increased for ``max_steps_without_increase`` steps.

    Examples
    --------
    >>> hook = stop_if_no_increase_hook(estimator, "auc", 1000)  # doctest: +SKIP
    """
    return _StopIfNoImprovement(estimator, metric_name, max_steps_without_increase, operator.gt, min_steps,
                                run_every_steps, eval_name)
