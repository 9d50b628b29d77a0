"""The training session: one ``train`` or ``evaluate`` call, with one event bus for training and evaluation.

A session owns the bus (a :class:`~estlab.training.events.Control`) and its default listeners: History,
logging, checkpoints, TensorBoard for training (``model_dir/``) and evaluation (``model_dir/eval``).
Extra listeners (hooks, the in-training evaluator, the lab's forwarder) join the same bus. There is one stop
flag, shared with ``Estimator.request_stop``. Evaluation inside training goes through the session
(``control.evaluate(...)``), which emits the ``evaluate`` event on the bus: every listener sees every event
exactly once, including the final evaluation, which the evaluator runs while the listeners are attached.

What a session trains is a *model* (``estlab.estimators.model_state.ModelState``): module, optimizers, head,
``encode(part)``, ``forward_fn(mode)``, ``checkpoint_payload(history)``; what it reads is a *source*
(``estlab.inputs.source.DataSource``). It never calls back into the estimator.

Examples
--------
>>> import tempfile, threading
>>> from estlab.training.config import RunConfig
>>> session = TrainingSession(tempfile.mkdtemp(), RunConfig(tensorboard=False), History(), threading.Event(),
...                           training=False)
>>> [type(x).__name__ for x in session.control.listeners]
['History']
>>> session.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from estlab._util import env_max_steps
from estlab.training import checkpoints, distributed
from estlab.training.checkpoints import CheckpointSaver
from estlab.training.config import RunConfig
from estlab.training.events import Control, Listener, StatefulListener, sort_listeners
from estlab.training.history import History
from estlab.training.logging_listener import LoggingListener
from estlab.training.loop import PROBE_ROWS, LoopResult, LoopTask, NanLossError, probe_model, run_loop
from estlab.training.progress import progress_listener
from estlab.training.summaries import EvalSummaryWriter, TensorBoardWriter

logger = logging.getLogger(__name__)

#: ``metrics_fn(input_fn, steps=..., label=...) -> {metric: float}``: evaluates the in-memory model.
MetricsFn = Callable[..., dict[str, float]]


def plan_target(global_step: int, steps: int | None, max_steps: int | None, model_dir: str) -> int | None:
    """The absolute step a ``train`` call stops at (None: until the input ends), capped by ``ESTLAB_MAX_STEPS``.

    Examples
    --------
    >>> plan_target(10, steps=5, max_steps=None, model_dir="m"), plan_target(10, None, 50, "m")
    (15, 50)
    """
    target = max_steps if max_steps is not None else (global_step + steps if steps else None)
    cap = env_max_steps()
    if cap is not None and (target is None or target > global_step + cap):
        logger.warning("ESTLAB_MAX_STEPS=%d caps this train call at %d steps (asked: %s) in %s", cap, cap,
                       "until the input ends" if target is None else target - global_step, model_dir)
        target = global_step + cap
    return target


class TrainingSession:
    """One ``train`` or ``evaluate`` call: the bus, its default listeners, checkpoints and evaluation.

    Parameters
    ----------
    model_dir : str
        Where checkpoints and TensorBoard events go.
    config : RunConfig
        Checkpoint, summary and logging cadence.
    history : History
        The estimator's History (always on the bus; saved in checkpoints).
    stop_event : threading.Event
        The one stop flag (``Estimator.request_stop`` sets it; listeners set it through ``control``).
    hooks : sequence of Listener
        Extra listeners for this call.
    training : bool
        A training session also logs, checkpoints and writes training summaries; an evaluation session only
        records the ``evaluate`` event (History, ``model_dir/eval``, hooks).
    metrics_fn : callable, optional
        Evaluates the in-memory model (``control.evaluate`` and :meth:`evaluate` use it).
    record : bool
        False: History does not record this session's evaluations (evaluating another checkpoint).
    """

    def __init__(
        self,
        model_dir: str,
        config: RunConfig,
        history: History,
        stop_event: threading.Event,
        hooks: Sequence[Listener] = (),
        training: bool = True,
        metrics_fn: MetricsFn | None = None,
        record: bool = True,
    ) -> None:
        self.model_dir = model_dir
        self.config = config
        self.history = history
        self._metrics_fn = metrics_fn
        self._model: Any = None
        self._batches: Any = None
        self._eval_writer: EvalSummaryWriter | None = None
        listeners: list[Listener] = [history] if record else []
        chief = distributed.is_chief()
        if training:
            listeners.append(LoggingListener(config.log_step_count_steps))
            listeners.extend([bar] if chief and (bar := progress_listener(config)) else [])  # a bar in notebooks
            if chief:
                listeners.append(CheckpointSaver(config.save_checkpoints_steps, config.save_checkpoints_secs))
                if config.tensorboard:
                    listeners.append(TensorBoardWriter(model_dir, config.save_summary_steps,
                                                       config.log_step_count_steps))
        if chief and config.tensorboard:
            self._eval_writer = EvalSummaryWriter(model_dir)
            listeners.append(self._eval_writer)
        self.control = Control(sort_listeners([*listeners, *hooks]), {"run": model_dir}, self._save, stop_event,
                               self._evaluate)

    # ------------------------------------------------------------------ training
    def train(self, model: Any, source: Any, target_step: int | None, begin_info: dict[str, Any],
              autocast: Any = None) -> LoopResult:
        """Step ``model`` over ``source`` until ``target_step``, the input's end or a stop request."""
        self._attach(model)
        weighted = model.weight_column is not None
        feed = source.train_feed(lambda part: model.encode(part, with_labels=True), model.batcher_state,
                                 distributed.get_rank(), distributed.get_world_size(), device=model.device)
        self._batches = feed.batches
        task = LoopTask(
            module=model.module, optimizers=model.optimizers, loss_fn=model.head.loss, features=feed.features,
            labels=feed.labels, weights=feed.weights if weighted else None, batches=feed.batches,
            start_step=model.global_step, target_step=target_step, device=model.device, rows=feed.rows,
            autocast_dtype=autocast, scaler=model.scaler, forward=model.forward_fn("train"), begin_info=begin_info,
            clip_gradients=self.config.clip_gradients,
        )
        try:
            return run_loop(task, self.control)
        finally:
            model.global_step = self.control.global_step
            model.batcher_state = feed.batches.state_dict()

    def fit_full_batch(self, model: Any, source: Any, fit: Callable[..., None], target_step: int | None,
                       begin_info: dict[str, Any], what: str, max_batches: int | None = None) -> LoopResult:
        """A full-batch learner's run: one step that fits on the whole input (of an iterable input, its first
        ``max_batches`` batches when given), then a checkpoint."""
        self._attach(model)
        control = self.control
        start = model.global_step
        control.emit("train_begin", start_step=start, target_step=target_step, device=str(model.device),
                     full_batch=True, **begin_info)
        try:
            encoded, labels, weights = model.encode(source.whole(what, max_batches), with_labels=True)
            fit(model.module, encoded, labels, weights)
            probe = {k: v[:PROBE_ROWS] for k, v in encoded.items()} if distributed.get_world_size() == 1 else None
            broken = probe_model(model.module, model.forward_fn("eval"), probe)  # torchrun: weights only, as the loop
            if broken is not None:  # the loop's NaN guard, for the one fit: no checkpoint of a broken model
                raise NanLossError(f"{what}: the fitted model is unusable: {broken}; no checkpoint of it is written. "
                                   "Check the labels and example weights for extreme values")
            control.global_step = model.global_step = start + 1
            control.save_checkpoint()
        except BaseException as error:
            control.emit("train_end", status="failed", reason=type(error).__name__, error=str(error),
                         final_loss=None)
            raise
        control.emit("train_end", status="finished", reason="full-batch fit", error=None, final_loss=None)
        return LoopResult("finished", "full-batch fit", model.global_step, None)

    def _attach(self, model: Any) -> None:
        self._model = model
        self.control.global_step = model.global_step
        for listener in self.control.listeners:  # listener state from the checkpoint (e.g. EarlyStopping's best)
            if isinstance(listener, StatefulListener) and listener.state_key in model.listener_state:
                listener.load_state_dict(model.listener_state[listener.state_key])

    def _save(self) -> str | None:
        model = self._model
        model.global_step = self.control.global_step
        if self._batches is not None:
            model.batcher_state = self._batches.state_dict()
        if not distributed.is_chief():
            return None
        model.listener_state.update(
            {x.state_key: x.state_dict() for x in self.control.listeners if isinstance(x, StatefulListener)})
        payload, meta = model.checkpoint_payload(self.history)
        path = checkpoints.save_checkpoint(checkpoints.checkpoint_path(self.model_dir, model.global_step),
                                           payload, meta)
        checkpoints.prune_checkpoints(self.model_dir, self.config.keep_checkpoint_max)
        return str(path)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, input_fn: Any, global_step: int, steps: int | None = None, name: str | None = None,
                 label: Any = None, hooks: Sequence[Listener] = ()) -> dict[str, Any]:
        """Evaluate at ``global_step`` and emit the ``evaluate`` event; returns the metrics plus ``global_step``."""
        self.control.global_step = global_step
        return self._evaluate(input_fn, steps=steps, name=name, label=label, hooks=hooks)

    def _evaluate(self, input_fn: Any, steps: int | None = None, name: str | None = None, label: Any = None,
                  hooks: Sequence[Listener] = ()) -> dict[str, Any]:
        if self._metrics_fn is None:
            raise RuntimeError("this session has no metrics_fn: it cannot evaluate")
        metrics = self._metrics_fn(input_fn, steps=steps, label=label)
        self.control.emit("evaluate", extra=sort_listeners(hooks), metrics=dict(metrics), name=name)
        return {**metrics, "global_step": self.control.global_step}

    # ------------------------------------------------------------------ end
    def close(self) -> None:
        """Detach every listener from this session (they outlive it; its objects must not) and close writers."""
        for listener in self.control.listeners:
            listener.control = None
        if self._eval_writer is not None:
            self._eval_writer.close()

    def __enter__(self) -> TrainingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
