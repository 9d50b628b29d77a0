"""TF's checkpoint hooks: ``CheckpointSaverListener``, ``CheckpointSaverHook`` and
``experimental.make_stop_at_checkpoint_step_hook``, over estlab's checkpoints (``model.ckpt-<step>.pt``).

:class:`CheckpointSaverHook` writes checkpoints at its own cadence through the session
(``control.save_checkpoint()``: the NaN guard, History and listener state, a ``checkpoint`` event) and calls
its listeners around each write, as TF: ``begin()``, ``before_save(session, step)``, ``after_save(session,
step)`` (returning True stops training after this step) and ``end(session, step)``. As TF's, it saves at the
step training starts at and then every ``save_steps`` steps / ``save_secs`` seconds, and once more for the
last step when that was not a save step (the run's final checkpoint, which estlab's loop always writes:
the listeners get ``before_save``/``after_save`` for it at the end). It runs before estlab's default saver
(order ``evaluation``), so at a step both save the checkpoint is written once, after ``before_save``.

Examples
--------
>>> class Log(CheckpointSaverListener):
...     def after_save(self, session, global_step_value):
...         print("saved", global_step_value)
>>> hook = CheckpointSaverHook("/tmp/model", save_steps=100, listeners=[Log()])
>>> hook.save_steps
100
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from estlab._util import warn_ignored_arguments
from estlab.training import checkpoints
from estlab.training.basic_hooks import StopAtStepHook
from estlab.training.events import ORDER, Event
from estlab.training.hook_timers import SecondOrStepTimer
from estlab.training.session_run_hook import (
    HookSession,
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
)

logger = logging.getLogger(__name__)


class CheckpointSaverListener:
    """Callbacks around the checkpoints a :class:`CheckpointSaverHook` writes (TF's interface).

    Subclass it and override ``begin``, ``before_save``, ``after_save`` (return True to stop training) and
    ``end``; pass instances in ``CheckpointSaverHook(..., listeners=[...])``.

    Examples
    --------
    >>> CheckpointSaverListener().after_save(None, 10) is None
    True
    """

    def begin(self) -> None:
        """Called when training begins."""

    def before_save(self, session: HookSession, global_step_value: int) -> None:
        """Called before each checkpoint the hook writes."""

    def after_save(self, session: HookSession, global_step_value: int) -> bool | None:
        """Called after each checkpoint the hook writes; True stops training."""
        return None

    def end(self, session: HookSession, global_step_value: int) -> None:
        """Called when training ends (finished or stopped)."""


class CheckpointSaverHook(SessionRunHook):
    """Save checkpoints every ``save_steps`` steps or ``save_secs`` seconds and call ``listeners`` around them.

    Parameters
    ----------
    checkpoint_dir : str
        The estimator's ``model_dir`` (estlab writes checkpoints there only; another directory raises when
        training begins).
    save_secs, save_steps : float, int, optional
        Cadence (exactly one).
    saver : optional
        A ``tf.train.Saver``: no meaning in estlab, ignored with a warning.
    checkpoint_basename : str
        ``"model.ckpt"`` (estlab's files are ``model.ckpt-<step>.pt``); any other name raises.
    scaffold : optional
        Ignored with a warning, as ``saver``; giving both raises as in TF.
    listeners : list of CheckpointSaverListener, optional
        Called around each save.

    Examples
    --------
    >>> CheckpointSaverHook("/tmp/model")
    Traceback (most recent call last):
    ...
    ValueError: Either every_secs or every_steps should be provided.
    """

    order = ORDER[
        "evaluation"
    ]  # before the default CheckpointSaver (monitors): before_save precedes the write

    def __init__(
        self,
        checkpoint_dir: str | os.PathLike,
        save_secs: float | None = None,
        save_steps: int | None = None,
        saver: Any = None,
        checkpoint_basename: str = "model.ckpt",
        scaffold: Any = None,
        listeners: list[CheckpointSaverListener] | None = None,
    ) -> None:
        if saver is not None and scaffold is not None:
            raise ValueError("You cannot provide both saver and scaffold.")
        if checkpoint_basename != "model.ckpt":
            raise ValueError(
                f"CheckpointSaverHook: checkpoint_basename must be 'model.ckpt' (estlab names its "
                f"checkpoints model.ckpt-<step>.pt), got {checkpoint_basename!r}"
            )
        bad = [x for x in listeners or [] if not isinstance(x, CheckpointSaverListener)]
        if bad:
            raise TypeError(
                f"CheckpointSaverHook: listeners must be CheckpointSaverListener instances, got "
                f"{type(bad[0]).__name__}"
            )
        warn_ignored_arguments(
            "CheckpointSaverHook",
            {"saver": saver, "scaffold": scaffold},
            "estlab writes its own checkpoints, no tf.train.Saver",
        )
        self.checkpoint_dir = os.fspath(checkpoint_dir)
        self.save_secs, self.save_steps = save_secs, save_steps
        self.listeners = list(listeners or [])
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._due_step: int | None = None
        self._session: HookSession | None = None

    def _save(self, step: int) -> bool:
        """``before_save``, the write (unless this step's checkpoint was just written), ``after_save``."""
        session = self._session or HookSession({"global_step": step})
        logger.info(
            "Saving checkpoints for %d into %s.", step, os.path.join(self.checkpoint_dir, "model.ckpt")
        )
        for listener in self.listeners:
            listener.before_save(session, step)
        control = self.control
        if control is not None and control.last_checkpoint_step != step:
            control.save_checkpoint()
        stop = False
        for listener in self.listeners:
            if listener.after_save(session, step):
                logger.info(
                    "A CheckpointSaverListener requested that training be stopped. listener: %r", listener
                )
                stop = True
        return stop

    def begin(self) -> None:
        for listener in self.listeners:
            listener.begin()

    def on_train_begin(self, event: Event) -> None:
        run_dir = event.get("run")
        if (
            run_dir is not None
            and Path(run_dir).expanduser().resolve() != Path(self.checkpoint_dir).expanduser().resolve()
        ):
            raise ValueError(
                f"CheckpointSaverHook: checkpoint_dir {self.checkpoint_dir!r} is not the model_dir being "
                f"trained ({run_dir!r}); estlab writes checkpoints to the model_dir only: pass "
                "estimator.model_dir"
            )
        self._timer.reset()
        self._due_step = None
        super().on_train_begin(event)

    def on_evaluate(self, event: Event) -> None:
        """Nothing: an evaluation writes no checkpoint (TF's evaluate has no saver hook)."""

    def after_create_session(self, session: HookSession, coord: Any) -> None:
        self._session = session
        step = int(session.run("global_step"))
        self._save(step)  # TF: the state at the step training starts at
        self._timer.update_last_triggered_step(step)

    def wants_loss(self, global_step: int) -> bool:
        """A save step synchronises the loss (a NaN is caught before the checkpoint), as the default saver."""
        if self._timer.should_trigger_for_step(global_step):
            self._due_step = global_step
        return self._due_step == global_step or super().wants_loss(global_step)

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs("global_step")

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        global_step = run_values.results + 1
        if self._due_step == global_step or self._timer.should_trigger_for_step(global_step):
            self._timer.update_last_triggered_step(global_step)
            if self._save(global_step):
                run_context.request_stop()

    def end(self, session: HookSession) -> None:
        last_step = int(session.run("global_step"))
        if last_step != self._timer.last_triggered_step():
            self._save(last_step)  # the loop's final checkpoint of this step is already written
        for listener in self.listeners:
            listener.end(session, last_step)

    def on_train_end(self, event: Event) -> None:
        super().on_train_end(event)
        self._session = None


class StopAtCheckpointStepHook(SessionRunHook):
    """Stop once the newest checkpoint in ``model_dir`` is at ``last_step`` or later (TF's non-chief hook).

    After each step that reaches ``last_step``, the newest checkpoint's step is read; when it is not there yet
    the hook sleeps ``wait_after_file_check_secs`` seconds (throttling the reads), as TF's.

    Examples
    --------
    >>> StopAtCheckpointStepHook("/tmp/model", last_step=100).last_step
    100
    """

    def __init__(
        self, model_dir: str | os.PathLike, last_step: int, wait_after_file_check_secs: float = 30
    ) -> None:
        if last_step is None:
            raise ValueError("last_step must be specified.")
        if model_dir is None:
            raise ValueError("model_dir must be specified.")
        self.model_dir = os.fspath(model_dir)
        self.last_step = int(last_step)
        self.wait_after_file_check_secs = wait_after_file_check_secs

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs("global_step")

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        if run_values.results + 1 < self.last_step:
            return
        latest = checkpoints.latest_checkpoint(self.model_dir)
        if latest is not None and checkpoints.step_of(latest) >= self.last_step:
            run_context.request_stop()
        else:
            time.sleep(self.wait_after_file_check_secs)


def make_stop_at_checkpoint_step_hook(
    estimator: Any, last_step: int, wait_after_file_check_secs: float = 30
) -> SessionRunHook:
    """A hook stopping training at ``last_step``: on the chief a :class:`StopAtStepHook`, elsewhere a
    :class:`StopAtCheckpointStepHook` reading the chief's checkpoints (TF's
    ``tf.estimator.experimental.make_stop_at_checkpoint_step_hook``).

    Examples
    --------
    >>> hook = make_stop_at_checkpoint_step_hook(est, last_step=1000)  # doctest: +SKIP
    >>> est.train(input_fn, hooks=[hook])  # doctest: +SKIP
    """
    config = getattr(estimator, "config", None)
    if config is None or not hasattr(estimator, "model_dir"):
        raise TypeError(
            f"make_stop_at_checkpoint_step_hook: estimator must be an estlab Estimator, got "
            f"{type(estimator).__name__}"
        )
    if config.is_chief:
        return StopAtStepHook(last_step=last_step)
    return StopAtCheckpointStepHook(estimator.model_dir, last_step, wait_after_file_check_secs)


def with_saving_listeners(hooks: list[Any], saving_listeners: Any, model_dir: str, config: Any) -> list[Any]:
    """``hooks`` with TF's ``Estimator.train(saving_listeners=...)`` attached to a :class:`CheckpointSaverHook`.

    As TF: the listeners join the first ``CheckpointSaverHook`` in ``hooks``, else a new one saving at the
    ``RunConfig``'s cadence (``save_checkpoints_steps`` / ``save_checkpoints_secs``; neither set raises TF's
    ``ValueError``); off the chief they are not used (only the chief saves).

    Examples
    --------
    >>> from estlab.training.config import RunConfig
    >>> hooks = with_saving_listeners([], [CheckpointSaverListener()], "/tmp/m", RunConfig(save_checkpoints_steps=50))
    >>> type(hooks[0]).__name__, hooks[0].save_steps
    ('CheckpointSaverHook', 50)
    """
    listeners = list(saving_listeners or [])
    bad = [x for x in listeners if not isinstance(x, CheckpointSaverListener)]
    if bad:
        raise TypeError(
            f"saving_listeners must be CheckpointSaverListener instances, got {type(bad[0]).__name__}"
        )
    if not listeners or not config.is_chief:
        return hooks
    savers = [hook for hook in hooks if isinstance(hook, CheckpointSaverHook)]
    if savers:
        savers[0].listeners.extend(x for x in listeners if all(x is not y for y in savers[0].listeners))
        return hooks
    if config.save_checkpoints_steps is None and config.save_checkpoints_secs is None:
        raise ValueError(
            "There should be a CheckpointSaverHook to use saving_listeners. Please set one of the "
            "RunConfig.save_checkpoints_steps or RunConfig.save_checkpoints_secs."
        )
    saver = CheckpointSaverHook(
        model_dir,
        save_secs=config.save_checkpoints_secs if config.save_checkpoints_steps is None else None,
        save_steps=config.save_checkpoints_steps,
        listeners=listeners,
    )
    return [*hooks, saver]
