"""TF's basic training hooks (``tf.estimator.StopAtStepHook``, ``LoggingTensorHook``, ...) on estlab's bus.

Each is a :class:`~estlab.training.session_run_hook.SessionRunHook` written against TF's API (``before_run``
fetches names, ``after_run`` reads them), with TF's constructor arguments, errors and semantics. Tensors are
named (``"loss"``, ``"global_step"``, ``"learning_rate"``, ...: see
:data:`~estlab.training.session_run_hook.STEP_VALUES`); what has no meaning without a graph raises a clear
error naming what to do instead.

Examples
--------
>>> StopAtStepHook(num_steps=7).num_steps
7
>>> StopAtStepHook()
Traceback (most recent call last):
...
ValueError: One of num_steps or last_step must be specified.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from estlab.training.events import ORDER, Event
from estlab.training.hook_timers import NeverTriggerTimer, SecondOrStepTimer
from estlab.training.loop import DIVERGED, NanLossError
from estlab.training.session_run_hook import (
    STEP_VALUES,
    HookSession,
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
    fetch_name,
    fetch_names,
    is_nan,
)

logger = logging.getLogger(__name__)


def _check_names(fetches: Any, owner: str) -> None:
    for fetch in fetch_names(fetches):
        fetch_name(fetch, STEP_VALUES, owner)


def format_value(value: Any) -> str:
    """A fetched value as TF prints it: a float as its float32 ``str`` (``0.6931472``), anything else ``str``.

    Examples
    --------
    >>> format_value(0.6931471824645996), format_value(7), format_value(None)
    ('0.6931472', '7', 'None')
    """
    if isinstance(value, float):
        return str(np.float32(value))
    return str(value)


class StopAtStepHook(SessionRunHook):
    """Stop after ``num_steps`` steps (counted from the step training starts at) or at ``last_step`` (absolute).

    TF's semantics: ``num_steps`` counts from the global step when the first ``train`` call using the hook
    starts (a resumed run at step 10 with ``num_steps=7`` stops at 17); ``last_step`` stops after the step that
    reaches it. Exactly one must be given.

    Examples
    --------
    >>> StopAtStepHook(last_step=100).last_step
    100
    >>> StopAtStepHook(num_steps=1, last_step=2)
    Traceback (most recent call last):
    ...
    ValueError: Only one of num_steps or last_step can be specified.
    """

    def __init__(self, num_steps: int | None = None, last_step: int | None = None) -> None:
        if num_steps is None and last_step is None:
            raise ValueError("One of num_steps or last_step must be specified.")
        if num_steps is not None and last_step is not None:
            raise ValueError("Only one of num_steps or last_step can be specified.")
        for name, value in (("num_steps", num_steps), ("last_step", last_step)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
                raise TypeError(f"StopAtStepHook: {name} must be an int, got {value!r}")
        self.num_steps = None if num_steps is None else int(num_steps)
        self.last_step = None if last_step is None else int(last_step)

    def after_create_session(self, session: HookSession, coord: Any) -> None:
        if self.last_step is None:
            assert self.num_steps is not None
            self.last_step = int(session.run("global_step")) + self.num_steps

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs("global_step")

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        assert self.last_step is not None
        if (
            run_values.results + 1 >= self.last_step
            and run_context.session.run("global_step") >= self.last_step
        ):
            run_context.request_stop()


class LoggingTensorHook(SessionRunHook):
    """Log named values every ``every_n_iter`` local steps, every ``every_n_secs`` seconds, and/or at the end.

    Parameters
    ----------
    tensors : dict or list
        ``{tag: name}`` (logged in sorted tag order) or a list of names (logged in its order); names are those
        of :data:`~estlab.training.session_run_hook.STEP_VALUES` (``"loss"``, ``"global_step"``, ...).
    every_n_iter : int, optional
        Log at the first step of each ``train`` call and then every this many steps.
    every_n_secs : float, optional
        Log at most once every this many seconds instead.
    at_end : bool
        Also log the final values when training ends.
    formatter : callable, optional
        ``formatter({tag: value}) -> str`` replaces TF's ``"tag = value, ..."`` line.

    Lines go to the ``estlab.training.basic_hooks`` logger at INFO: ``"loss = 0.6931472, step = 10 (0.123 sec)"``.

    Examples
    --------
    >>> hook = LoggingTensorHook({"loss": "loss", "step": "global_step"}, every_n_iter=100)
    >>> LoggingTensorHook(["loss"])
    Traceback (most recent call last):
    ...
    ValueError: either at_end and/or exactly one of every_n_iter and every_n_secs must be provided.
    """

    order = ORDER["loggers"]

    def __init__(
        self,
        tensors: Mapping[str, Any] | list[Any] | tuple[Any, ...],
        every_n_iter: int | None = None,
        every_n_secs: float | None = None,
        at_end: bool = False,
        formatter: Callable[[dict[str, Any]], str] | None = None,
    ) -> None:
        only_at_end = at_end and every_n_iter is None and every_n_secs is None
        if not only_at_end and (every_n_iter is None) == (every_n_secs is None):
            raise ValueError(
                "either at_end and/or exactly one of every_n_iter and every_n_secs must be provided."
            )
        if every_n_iter is not None and every_n_iter <= 0:
            raise ValueError(f"invalid every_n_iter={every_n_iter}.")
        if isinstance(tensors, Mapping):
            self._tag_order = sorted(tensors)
            named = dict(tensors)
        elif isinstance(tensors, list | tuple):
            self._tag_order = list(tensors)
            named = {item: item for item in tensors}
        else:
            raise TypeError(
                f"LoggingTensorHook: tensors must be a dict {{tag: name}} or a list of names, got "
                f"{type(tensors).__name__}"
            )
        _check_names(list(named.values()), "LoggingTensorHook: tensors")
        if formatter is not None and not callable(formatter):
            raise TypeError(
                f"LoggingTensorHook: formatter must be a callable taking {{tag: value}}, got {formatter!r}"
            )
        self.tensors = named
        self.formatter = formatter
        self.at_end = at_end
        self._timer = NeverTriggerTimer() if only_at_end else SecondOrStepTimer(every_n_secs, every_n_iter)
        self._iter_count = 0
        self._should_trigger = False

    def begin(self) -> None:
        self._timer.reset()
        self._iter_count = 0

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs | None:
        self._should_trigger = self._timer.should_trigger_for_step(self._iter_count)
        return SessionRunArgs(self.tensors) if self._should_trigger else None

    def _log(self, values: dict[str, Any]) -> None:
        elapsed, _ = self._timer.update_last_triggered_step(self._iter_count)
        if self.formatter is not None:
            logger.info("%s", self.formatter(values))
            return
        line = ", ".join(f"{tag} = {format_value(values[tag])}" for tag in self._tag_order)
        if elapsed is not None:
            logger.info("%s (%.3f sec)", line, elapsed)
        else:
            logger.info("%s", line)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        if self._should_trigger:
            self._log(run_values.results)
        self._iter_count += 1

    def end(self, session: HookSession) -> None:
        if self.at_end:
            self._log(session.run(self.tensors))


class NanTensorHook(SessionRunHook):
    """Check the loss at every step; on NaN raise (``fail_on_nan_loss=True``) or stop training without an error.

    estlab checks every synchronised loss itself and raises ``NanLossError`` (TF's
    ``NanLossDuringTrainingError``) with the step; this hook makes the loop synchronise the loss every step
    and logs TF's ``"Model diverged with loss = NaN."``. With ``fail_on_nan_loss=False`` the run stops instead
    (``train_end`` status ``"stopped"``, reason ``"diverged: ..."``) and ``train`` returns normally; the
    diverged model is never saved: the last good checkpoint stays the newest and the estimator reloads it.

    Parameters
    ----------
    loss_tensor : str
        ``"loss"`` (or ``"loss:0"``): the training loss.
    fail_on_nan_loss : bool
        Raise (default) or stop.

    Examples
    --------
    >>> NanTensorHook("loss", fail_on_nan_loss=False).stop_on_nan_loss
    True
    """

    def __init__(self, loss_tensor: Any, fail_on_nan_loss: bool = True) -> None:
        if fetch_name(loss_tensor, STEP_VALUES, "NanTensorHook: loss_tensor") != "loss":
            raise ValueError(
                f"NanTensorHook: loss_tensor must name the training loss ('loss'), got {loss_tensor!r}"
            )
        self.loss_tensor = loss_tensor
        self.fail_on_nan_loss = bool(fail_on_nan_loss)
        #: read by the training loop: a NaN loss stops the run instead of raising
        self.stop_on_nan_loss = not self.fail_on_nan_loss

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs(self.loss_tensor)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        # the loop raises (or stops) before a NaN loss reaches any listener; kept for a loss reported here anyway
        if is_nan(run_values.results):
            if self.fail_on_nan_loss:
                logger.error("Model diverged with loss = NaN.")
                raise NanLossError("NaN loss during training.")
            logger.warning("Model diverged with loss = NaN.")
            run_context.request_stop()

    def on_train_end(self, event: Event) -> None:
        reason = str(event.get("reason") or "")
        if event["status"] == "failed" and reason == "NanLossError":
            logger.error("Model diverged with loss = NaN.")
        elif event["status"] == "stopped" and reason.startswith(DIVERGED):
            logger.warning("Model diverged with loss = NaN.")
        super().on_train_end(event)


class StepCounterHook(SessionRunHook):
    """Log (and write to TensorBoard) ``global_step/sec`` every ``every_n_steps`` steps or ``every_n_secs`` seconds.

    Parameters
    ----------
    every_n_steps : int, optional
        Default 100; pass ``every_n_steps=None`` with ``every_n_secs``.
    every_n_secs : float, optional
        Seconds between measurements instead.
    output_dir : str, optional
        Write the scalar ``global_step/sec`` to a TensorBoard event file in this directory.
    summary_writer : SummaryWriter, optional
        A ``torch.utils.tensorboard.SummaryWriter`` (anything with ``add_scalar``) to write to instead.

    Examples
    --------
    >>> StepCounterHook(every_n_steps=None, every_n_secs=30).every_n_secs
    30
    >>> StepCounterHook(every_n_steps=10, every_n_secs=30)
    Traceback (most recent call last):
    ...
    ValueError: exactly one of every_n_steps and every_n_secs should be provided.
    """

    order = ORDER["loggers"]
    summary_tag = "global_step/sec"

    def __init__(
        self,
        every_n_steps: int | None = 100,
        every_n_secs: float | None = None,
        output_dir: str | os.PathLike | None = None,
        summary_writer: Any = None,
    ) -> None:
        if (every_n_steps is None) == (every_n_secs is None):
            raise ValueError("exactly one of every_n_steps and every_n_secs should be provided.")
        if summary_writer is not None and not callable(getattr(summary_writer, "add_scalar", None)):
            raise TypeError(
                f"StepCounterHook: summary_writer must be a torch.utils.tensorboard.SummaryWriter (with "
                f"add_scalar), got {type(summary_writer).__name__}; or pass output_dir"
            )
        self.every_n_steps, self.every_n_secs = every_n_steps, every_n_secs
        self.output_dir = None if output_dir is None else os.fspath(output_dir)
        self.summary_writer = summary_writer
        self._timer = SecondOrStepTimer(every_secs=every_n_secs, every_steps=every_n_steps)
        self._own_writer: Any = None
        #: ``(global_step, steps_per_sec)`` of every measurement, in order (for inspection and tests)
        self.rates: list[tuple[int, float]] = []

    def begin(self) -> None:
        if self.summary_writer is None and self.output_dir:
            from estlab.training.summaries import summary_writer

            self._own_writer = summary_writer(self.output_dir)

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        return SessionRunArgs("global_step")

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        global_step = run_values.results + 1
        if self._timer.should_trigger_for_step(global_step):
            elapsed_time, elapsed_steps = self._timer.update_last_triggered_step(global_step)
            if elapsed_time is not None and elapsed_steps is not None:
                rate = elapsed_steps / max(elapsed_time, 1e-9)
                self.rates.append((global_step, rate))
                writer = self.summary_writer or self._own_writer
                if writer is not None:
                    writer.add_scalar(self.summary_tag, rate, global_step)
                logger.info("%s: %g", self.summary_tag, rate)

    def end(self, session: HookSession) -> None:
        self._close()

    def on_train_end(self, event: Event) -> None:
        super().on_train_end(event)
        self._close()  # also when the run failed (end() is not called then, as TF)

    def _close(self) -> None:
        _release_writer(self._own_writer, self.summary_writer)
        self._own_writer = None


def _release_writer(own: Any, given: Any) -> None:
    """Close the writer a hook opened itself (``own``), else flush the one it was given."""
    if own is not None:
        own.close()
    elif given is not None and callable(getattr(given, "flush", None)):
        given.flush()
    return None


class SummarySaverHook(SessionRunHook):
    """Write named values as TensorBoard scalars every ``save_steps`` steps or ``save_secs`` seconds.

    There are no summary ops: ``summary_op`` names the values to write (``"loss"``, ``["loss",
    "learning_rate"]``, ...: :data:`~estlab.training.session_run_hook.STEP_VALUES`), each under its name as
    the tag. A ``scaffold`` (TF's source of a merged summary op) has no estlab meaning and raises.

    Parameters
    ----------
    save_steps, save_secs : int, float, optional
        Cadence (exactly one).
    output_dir : str, optional
        Where the event file goes (used when no ``summary_writer`` is given).
    summary_writer : SummaryWriter, optional
        A ``torch.utils.tensorboard.SummaryWriter`` to write to.
    scaffold : optional
        Refused (see above).
    summary_op : str or list of str
        The names of the values to write.

    Examples
    --------
    >>> SummarySaverHook(save_steps=10, output_dir="/tmp/tb", summary_op=["loss", "learning_rate"]).tags
    ['loss', 'learning_rate']
    >>> SummarySaverHook(save_steps=10, output_dir="/tmp/tb")
    Traceback (most recent call last):
    ...
    ValueError: Exactly one of scaffold or summary_op must be provided.
    """

    order = ORDER["loggers"]

    def __init__(
        self,
        save_steps: int | None = None,
        save_secs: float | None = None,
        output_dir: str | os.PathLike | None = None,
        summary_writer: Any = None,
        scaffold: Any = None,
        summary_op: Any = None,
    ) -> None:
        if (scaffold is None) == (summary_op is None):
            raise ValueError("Exactly one of scaffold or summary_op must be provided.")
        if scaffold is not None:
            raise ValueError(
                "SummarySaverHook: scaffold has no meaning in estlab (no graph, no merged summary op); "
                "pass summary_op as the names of the values to write, e.g. summary_op=['loss', "
                "'learning_rate']"
            )
        names = [summary_op] if isinstance(summary_op, str) else summary_op
        if not isinstance(names, list | tuple):
            raise TypeError(
                f"SummarySaverHook: summary_op must be a name or a list of names of values to write "
                f"({', '.join(map(repr, STEP_VALUES))}), got {type(summary_op).__name__}"
            )
        self.tags = [fetch_name(name, STEP_VALUES, "SummarySaverHook: summary_op") for name in names]
        if summary_writer is not None and not callable(getattr(summary_writer, "add_scalar", None)):
            raise TypeError(
                f"SummarySaverHook: summary_writer must be a torch.utils.tensorboard.SummaryWriter (with "
                f"add_scalar), got {type(summary_writer).__name__}; or pass output_dir"
            )
        self.summary_op = summary_op
        self.output_dir = None if output_dir is None else os.fspath(output_dir)
        self.summary_writer = summary_writer
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self._own_writer: Any = None
        self._next_step: int | None = None
        self._request = False

    def _writer(self) -> Any:
        return self.summary_writer if self.summary_writer is not None else self._own_writer

    def begin(self) -> None:
        if self.summary_writer is None and self.output_dir:
            from estlab.training.summaries import summary_writer

            self._own_writer = summary_writer(self.output_dir)
        self._next_step = None

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        self._request = self._next_step is None or self._timer.should_trigger_for_step(self._next_step)
        requests: dict[str, Any] = {"global_step": "global_step"}
        if self._request and self._writer() is not None:
            requests["summary"] = list(self.tags)
        return SessionRunArgs(requests)

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        writer = self._writer()
        if writer is None:
            return
        global_step = run_values.results["global_step"] + 1
        if self._request:
            self._timer.update_last_triggered_step(global_step)
            for tag, value in zip(self.tags, run_values.results.get("summary", []), strict=False):
                if value is not None:
                    writer.add_scalar(tag, float(value), global_step)
        self._next_step = global_step + 1

    def end(self, session: HookSession) -> None:
        self._close()

    def on_train_end(self, event: Event) -> None:
        super().on_train_end(event)
        self._close()

    def _close(self) -> None:
        _release_writer(self._own_writer, self.summary_writer)
        self._own_writer = None


class GlobalStepWaiterHook(SessionRunHook):
    """Wait until the global step reaches ``wait_until_step`` before training (TF: staggered async workers).

    estlab trains synchronously: one process, or ``torchrun`` ranks that step together, so nothing else
    advances the global step. A run that starts at or past ``wait_until_step`` (or ``wait_until_step <= 0``)
    starts at once; one that would have to wait raises ``ValueError`` at ``train_begin`` (it would wait
    forever).

    Examples
    --------
    >>> GlobalStepWaiterHook(0).wait_until_step
    0
    """

    def __init__(self, wait_until_step: int) -> None:
        if isinstance(wait_until_step, bool) or not isinstance(wait_until_step, int | np.integer):
            raise TypeError(f"GlobalStepWaiterHook: wait_until_step must be an int, got {wait_until_step!r}")
        self.wait_until_step = int(wait_until_step)

    def on_evaluate(self, event: Event) -> None:
        """Nothing: an evaluation does not wait."""

    def after_create_session(self, session: HookSession, coord: Any) -> None:
        step = int(session.run("global_step"))
        if self.wait_until_step > 0 and step < self.wait_until_step:
            raise ValueError(
                f"GlobalStepWaiterHook(wait_until_step={self.wait_until_step}): this run starts at global step "
                f"{step} and no other process advances it (estlab trains synchronously; torchrun ranks step "
                "together), so it would wait forever; remove the hook"
            )


class FinalOpsHook(SessionRunHook):
    """Read named values when the session ends; they are in :attr:`final_ops_values`.

    ``final_ops`` is a name, a list or a dict of names: after training, those of
    :data:`~estlab.training.session_run_hook.STEP_VALUES` (final values); passed to ``evaluate(hooks=...)``,
    also the evaluation's metrics (``"accuracy"``, ``"auc"``, ...). ``final_ops_feed_dict`` has nothing to feed
    and raises when given.

    Examples
    --------
    >>> hook = FinalOpsHook({"acc": "accuracy", "step": "global_step"})
    >>> hook.final_ops_values is None
    True
    """

    def __init__(self, final_ops: Any, final_ops_feed_dict: Any = None) -> None:
        if final_ops_feed_dict:
            raise ValueError(
                "FinalOpsHook: final_ops_feed_dict has nothing to feed in estlab (no placeholders); remove it"
            )
        for fetch in fetch_names(final_ops):
            if not isinstance(fetch, str):
                raise TypeError(
                    f"FinalOpsHook: final_ops are names of values (e.g. 'loss', 'accuracy'), got a "
                    f"{type(fetch).__name__}"
                )
        self._final_ops = final_ops
        self._final_ops_values: Any = None

    @property
    def final_ops_values(self) -> Any:
        """The values read at the end (None before)."""
        return self._final_ops_values

    def end(self, session: HookSession) -> None:
        if self._final_ops is not None:
            self._final_ops_values = session.run(self._final_ops)


class FeedFnHook(SessionRunHook):
    """TF's hook that feeds placeholders each step: estlab has none, so it raises ``ValueError`` when created.

    Examples
    --------
    >>> FeedFnHook(lambda: {})
    Traceback (most recent call last):
    ...
    ValueError: FeedFnHook: estlab has no placeholders to feed; the model reads its data from the input_fn: \
give the values through it (a generator of (features, labels) batches, pandas_input_fn, numpy_input_fn)
    """

    def __init__(self, feed_fn: Callable[[], dict[Any, Any]]) -> None:
        raise ValueError(
            "FeedFnHook: estlab has no placeholders to feed; the model reads its data from the input_fn: "
            "give the values through it (a generator of (features, labels) batches, pandas_input_fn, "
            "numpy_input_fn)"
        )
