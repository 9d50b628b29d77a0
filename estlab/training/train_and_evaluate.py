"""``train_and_evaluate`` with ``TrainSpec`` / ``EvalSpec``, as tf.estimator, evaluating inside one training run.

As TF's local loop: evaluation follows each new checkpoint when ``throttle_secs`` allows (the first
checkpoint always, then one at least ``throttle_secs`` after the previous evaluation began; with
``throttle_secs=0`` every checkpoint), and once more when training ends (unless the last step was just
evaluated). ``start_delay_secs`` given as a number delays the first evaluation by that many seconds from the
start of training; left at ``None`` there is no delay (TF's local loop never waits for it either). With
``EvalSpec(every_n_steps=N)`` evaluation follows every N training steps instead of the checkpoints. Each
evaluation is preceded by a checkpoint, runs through the training session (``control.evaluate``), which emits
one ``evaluate`` event on the session's bus (so ``EarlyStopping`` can stop the run and every listener,
``EvalSpec.hooks`` included, sees it once), and is followed by the exporters. The final evaluation runs while
the listeners are still attached.

Under torchrun every rank evaluates together (each its own shard, the results gathered), so every decision to
evaluate is the same on every rank. ``every_n_steps`` is a step count, the same everywhere. Checkpoints, and
with them the ``checkpoint`` events, happen on the chief only: there a new checkpoint that the delay and
``throttle_secs`` allow becomes a wish, shared with every rank by one small collective every
``DISTRIBUTED_STOP_CHECK_STEPS`` steps (the loop's stop check cadence); then every rank evaluates the model at
that step together, after a checkpoint of it. The final evaluation at ``train_end`` is reached by every rank.
Exporters run on the chief only (no collective inside them: a serving model is never DDP-wrapped), and their
results are sent to every rank. A single process does none of this: no collective, no step of delay.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from estlab.training.events import ORDER, Event, Listener


@dataclass(frozen=True)
class TrainSpec:
    """Training input, absolute ``max_steps`` and extra listeners, in TF's order.

    Parameters
    ----------
    input_fn : InputFn, DataFrame or callable
        Training data.
    max_steps : int, optional
        Train until this global step (absolute, as TF); ``None`` trains one pass for a frame or until the
        input ends.
    hooks : sequence of Listener, optional
        Extra listeners of the training run.
    saving_listeners : sequence of CheckpointSaverListener, optional
        TF's: passed to ``train(saving_listeners=...)``, called around the run's checkpoints.
    label : str, optional
        Keyword-only (estlab): the target column when ``input_fn`` is a DataFrame.

    Examples
    --------
    >>> TrainSpec(lambda: None, 100).max_steps
    100
    """

    input_fn: Any
    max_steps: int | None = None
    hooks: Sequence[Listener] | None = ()
    saving_listeners: Sequence[Any] | None = None
    label: Any = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or int(self.max_steps) <= 0):
            raise ValueError(f"TrainSpec: max_steps must be a positive int or None, got {self.max_steps!r}")
        object.__setattr__(self, "hooks", tuple(self.hooks or ()))


@dataclass(frozen=True)
class EvalSpec:
    """Evaluation input and cadence, in TF's order.

    Parameters
    ----------
    input_fn : InputFn, DataFrame or callable
        Evaluation data.
    steps : int, optional
        Batches per evaluation; ``None`` (default) evaluates the whole input (TF defaulted to 100 batches).
    name : str, optional
        Evaluation name (TensorBoard directory ``eval_<name>``).
    hooks : sequence of Listener, optional
        Listeners receiving the ``evaluate`` events.
    exporters : exporter or sequence, optional
        Objects with ``name`` and ``export(estimator, export_path, checkpoint_path, eval_result,
        is_the_final_export)``; called after every evaluation.
    start_delay_secs : float, optional
        Seconds from the start of training before the first evaluation; ``None`` (default): no delay, as
        TF's local loop (TF's default of 120 s applied only to its separate evaluator process).
    throttle_secs : float
        Evaluate a new checkpoint only when at least this many seconds passed since the previous evaluation
        began; 0 evaluates every checkpoint.
    every_n_steps : int, optional
        Keyword-only (estlab): evaluate every N training steps instead of after checkpoints.
    label : str, optional
        Keyword-only (estlab): target column when ``input_fn`` is a DataFrame (default: the training label).

    Examples
    --------
    >>> EvalSpec(lambda: None, 10, "val").name
    'val'
    >>> EvalSpec(lambda: None, every_n_steps=50).every_n_steps
    50
    """

    input_fn: Any
    steps: int | None = None
    name: str | None = None
    hooks: Sequence[Listener] | None = ()
    exporters: Any = ()
    start_delay_secs: float | None = None
    throttle_secs: float = 600
    every_n_steps: int | None = field(default=None, kw_only=True)
    label: Any = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if self.every_n_steps is not None and (isinstance(self.every_n_steps, bool) or self.every_n_steps <= 0):
            raise ValueError(f"EvalSpec: every_n_steps must be a positive int or None, got {self.every_n_steps!r}")
        for name in ("start_delay_secs", "throttle_secs"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ValueError(f"EvalSpec: {name} must be a number of seconds >= 0, got {value!r}")
        if self.throttle_secs is None:
            raise ValueError("EvalSpec: throttle_secs must be a number of seconds >= 0, got None")
        given = () if self.exporters is None else self.exporters
        exporters = tuple(given) if isinstance(given, list | tuple) else (given,)
        for exporter in exporters:
            if not callable(getattr(exporter, "export", None)):
                raise TypeError(f"EvalSpec: exporter {exporter!r} has no export(estimator, export_path, "
                                "checkpoint_path, eval_result, is_the_final_export) method")
        object.__setattr__(self, "exporters", exporters)
        object.__setattr__(self, "hooks", tuple(self.hooks or ()))


class Evaluator(Listener):
    """Listener that evaluates during training (see the module docstring).

    Examples
    --------
    >>> Evaluator(estimator=None, spec=EvalSpec(input_fn=None, every_n_steps=10)).due(20)
    True
    """

    order = ORDER["evaluation"]

    def __init__(self, estimator: Any, spec: EvalSpec) -> None:
        self.estimator = estimator
        self.spec = spec
        self.last_step: int | None = None
        self.last_result: dict[str, Any] | None = None
        self.export_results: list[Any] = []
        self._target_step: int | None = None
        self._final_export_step: int | None = None  # the step whose exporters ran with is_the_final_export
        self._start = time.monotonic()
        self._last_time = -float("inf")
        self._world_size = 1  # set at train_begin: under torchrun the decision to evaluate is collective
        self._check_steps = 1  # steps between two agreements on the chief's wish (torchrun)
        self._wish = False  # the chief saw a checkpoint to evaluate; shared with every rank at the next check

    def due(self, global_step: int) -> bool:
        """Step cadence: True every ``every_n_steps`` steps."""
        return self.spec.every_n_steps is not None and global_step % self.spec.every_n_steps == 0

    def on_train_begin(self, event: Event) -> None:
        # torch only once a run starts: this module stays torch-free
        from estlab.training import distributed
        from estlab.training.loop import DISTRIBUTED_STOP_CHECK_STEPS

        self._start = time.monotonic()
        self._target_step = event.get("target_step")
        self._world_size = distributed.get_world_size()
        self._check_steps = DISTRIBUTED_STOP_CHECK_STEPS
        self._wish = False

    def on_step_end(self, event: Event) -> None:
        step = event["global_step"]
        if self.due(step):
            self.evaluate(final=step == self._target_step)  # the last step's evaluation is the final one (TF)
        elif (self._world_size > 1 and self.spec.every_n_steps is None and step % self._check_steps == 0
              and step != self._target_step and self._agree(self._wish)):
            self.evaluate()  # every rank, at this step: the chief's wish (a new checkpoint) was shared

    def _agree(self, wish: bool) -> bool:
        """Whether the chief wishes to evaluate, known on every rank (one collective; torchrun only)."""
        from estlab.training import distributed

        self._wish = False
        return distributed.any_rank(wish)

    def on_train_end(self, event: Event) -> None:
        """The final evaluation (TF's), unless the run failed or was interrupted, or this step was evaluated."""
        if event["status"] == "failed" or event.get("reason") == "KeyboardInterrupt" or self.control is None:
            return
        if self.last_step == event["global_step"]:
            if self._final_export_step != self.last_step:  # exporters run once per evaluation, as in TF
                self.export(self.estimator.latest_checkpoint(), final=True)
        else:
            self.evaluate(final=True)

    def on_checkpoint(self, event: Event) -> None:
        """TF's local loop: evaluate a new checkpoint when the start delay and ``throttle_secs`` allow.

        Under torchrun (only the chief sees checkpoints) this is a wish, evaluated by every rank together at
        the next agreement step (see the module docstring).
        """
        now = time.monotonic()
        delay = self.spec.start_delay_secs or 0.0
        if (self.spec.every_n_steps is None and now - self._start >= delay
                and now - self._last_time >= self.spec.throttle_secs and self.last_step != event["global_step"]):
            if self._world_size > 1:
                self._wish = True
            else:
                self.evaluate(checkpoint_path=event["path"])

    def evaluate(self, checkpoint_path: str | None = None, final: bool = False) -> dict[str, Any]:
        """Checkpoint if needed, ask the session to evaluate (it emits the event), run the exporters."""
        control = self.control
        if control is None:
            raise RuntimeError("Evaluator.evaluate: not attached to a training session; use train_and_evaluate")
        if checkpoint_path is None and control.last_checkpoint_step != control.global_step:
            control.save_checkpoint()
        checkpoint_path = checkpoint_path or self.estimator.latest_checkpoint()
        spec = self.spec
        self._last_time = time.monotonic()  # the throttle counts from the start of an evaluation, as TF's timer
        result = control.evaluate(spec.input_fn, steps=spec.steps, name=spec.name, label=spec.label,
                                  hooks=spec.hooks)
        self.last_step, self.last_result = result["global_step"], result
        self.export(checkpoint_path, final)
        return result

    def export(self, checkpoint_path: str | None, final: bool) -> list[Any]:
        """Run every exporter on the last evaluation result (under torchrun: on the chief, results sent to all)."""
        if final:
            self._final_export_step = self.last_step
        if not self.spec.exporters:
            self.export_results = []
        elif self._world_size > 1:
            self.export_results = _on_chief(lambda: self._run_exporters(checkpoint_path, final))
        else:
            self.export_results = self._run_exporters(checkpoint_path, final)
        return self.export_results

    def _run_exporters(self, checkpoint_path: str | None, final: bool) -> list[Any]:
        return [
            exporter.export(self.estimator, os.path.join(self.estimator.model_dir, "export", exporter.name),
                            checkpoint_path, self.last_result, final)
            for exporter in self.spec.exporters
        ]


def _on_chief(work: Any) -> Any:
    """``work()`` on the chief only; its result (or its failure) reaches every rank (one collective)."""
    from estlab.training import distributed

    outcome: tuple[str, Any] = ("ok", None)
    error: BaseException | None = None
    if distributed.is_chief():
        try:
            outcome = ("ok", work())
        except Exception as raised:  # every rank must reach the broadcast, or the others wait forever
            error, outcome = raised, ("error", f"{type(raised).__name__}: {raised}")
    status, value = distributed.broadcast_object(outcome)
    if error is not None:
        raise error
    if status == "error":
        raise RuntimeError(f"the chief's exporters failed: {value}")
    return value


def train_and_evaluate(estimator: Any, train_spec: TrainSpec, eval_spec: EvalSpec) -> tuple[dict, list]:
    """Train with periodic evaluation, then evaluate (and export) the final model.

    Returns
    -------
    tuple
        ``(eval_result, export_results)`` of the final evaluation.

    Examples
    --------
    >>> train_and_evaluate(est, TrainSpec(train_fn, max_steps=1000),
    ...                    EvalSpec(eval_fn, every_n_steps=100))  # doctest: +SKIP
    """
    if not isinstance(train_spec, TrainSpec) or not isinstance(eval_spec, EvalSpec):
        raise TypeError(f"train_and_evaluate: expected TrainSpec and EvalSpec, got {type(train_spec).__name__} and "
                        f"{type(eval_spec).__name__}")
    evaluator = Evaluator(estimator, eval_spec)
    estimator.train(train_spec.input_fn, hooks=[*(train_spec.hooks or ()), evaluator], max_steps=train_spec.max_steps,
                    saving_listeners=train_spec.saving_listeners, label=train_spec.label)
    result = evaluator.last_result
    if result is None or evaluator.last_step != estimator.global_step:
        # training was skipped (max_steps already reached): evaluate the model as it is, once (every rank)
        from estlab.training import distributed

        evaluator._world_size = distributed.get_world_size()  # exporters on the chief only under torchrun
        result = estimator.evaluate(eval_spec.input_fn, steps=eval_spec.steps, hooks=[*(train_spec.hooks or ()),
                                    *(eval_spec.hooks or ())], name=eval_spec.name, label=eval_spec.label)
        evaluator.last_step, evaluator.last_result = result["global_step"], result
        evaluator.export(estimator.latest_checkpoint(), final=True)
    return result, evaluator.export_results
