"""``Estimator``: train / evaluate / predict with checkpoints, as ``tf.estimator.Estimator``, on PyTorch.

The TF-compatible facade: it checks arguments, resolves the input into a data source (``estlab.inputs.source``),
takes the in-memory model from its ``ModelCache`` (built from the build hooks of ``ModelFnHooks``, which premade
estimators override) and hands both to a ``TrainingSession``, which owns the event bus, checkpoints and summaries.
Evaluation and prediction maths live in ``estlab.estimators.inference``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from estlab._util import check_positive_int
from estlab.estimators import inference
from estlab.estimators.class_weight import ClassWeightedHead, apply_class_weights, resolve_class_weights
from estlab.estimators.custom import ModelFnHooks, ModelSpec
from estlab.estimators.model_cache import ModelCache
from estlab.estimators.model_state import ServingModel
from estlab.estimators.variables import CheckpointVariables
from estlab.inputs.source import MemorySource, training_source
from estlab.prediction_frame import predictions_frame
from estlab.training import checkpoints, distributed
from estlab.training.checkpoint_hooks import with_saving_listeners
from estlab.training.config import RunConfig, default_batch_size, model_dir_of, resolve_device
from estlab.training.early_stopping import EarlyStopping
from estlab.training.events import Listener, StatefulListener, sort_listeners
from estlab.training.history import History
from estlab.training.lock import ModelDirLock
from estlab.training.loop import LoopResult
from estlab.training.session import TrainingSession, plan_target
from estlab.training.threads import training_threads

logger = logging.getLogger(__name__)

__all__ = ["Estimator", "ServingModel"]


def _class_weighted_fit(fit: Any, class_weights: Any, module: Any, encoded: Any, labels: Any, weights: Any) -> None:
    """A full-batch learner's fit with each example's weight multiplied by its class weight."""
    fit(module, encoded, labels, apply_class_weights(class_weights, labels, weights))


@contextlib.contextmanager
def _training_head(state: Any, class_weights: Any) -> Iterator[None]:
    """The model trains through a :class:`ClassWeightedHead` when there are class weights; its own head after."""
    head = state.head
    if class_weights is not None:
        state.head = ClassWeightedHead(head, class_weights)
    try:
        yield
    finally:
        state.head = head


class Estimator(ModelFnHooks, CheckpointVariables):
    """Train, evaluate and predict a PyTorch model with TF Estimator semantics.

    Parameters
    ----------
    model_fn : callable, optional
        ``model_fn(params) -> ModelSpec`` (see ``estlab.estimators.custom``); premade estimators leave it
        ``None`` and override the build hooks instead.
    model_dir : str, optional
        Checkpoints and TensorBoard events; a temporary directory (made when first needed) when neither
        this nor ``config.model_dir`` is given.
    config : RunConfig, optional
        Run settings.
    params : dict, optional
        Passed to ``model_fn``.
    warm_start_from : str, optional
        A model_dir or checkpoint file: variables with matching names and shapes are loaded
        when the model is first built (no checkpoint in ``model_dir`` yet).

    Examples
    --------
    >>> import torch
    >>> from estlab.estimators.custom import ModelSpec
    >>> from estlab.estimators.heads import make_head
    >>> def model_fn(params):
    ...     net = torch.nn.Sequential(torch.nn.Unflatten(0, (-1, 1)), torch.nn.Linear(1, 1))  # (N,) -> (N, 1)
    ...     return ModelSpec(module=net, head=make_head(None), input_names=("x",))
    >>> est = Estimator(model_fn)
    >>> frame = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [1.0, 3.0, 5.0]})
    >>> est.train(frame, label="y", steps=5).evaluate(frame)["global_step"]
    5
    """

    trains_full_batch: bool = False

    def _full_batch_input_batches(self, steps: int | None) -> int | None:
        """Batches of an iterable input a full-batch learner fits on: None reads one whole pass.

        ``steps`` is how many steps this ``train`` call would run (None: unbounded). A learner that overrides
        this reads only its first batches, which also ends an endless generator (TF's ``.repeat()`` input).
        """
        return None

    def __init__(
        self,
        model_fn: Any = None,
        model_dir: str | None = None,
        config: RunConfig | None = None,
        params: dict[str, Any] | None = None,
        warm_start_from: str | None = None,
    ) -> None:
        config = RunConfig() if config is None else config
        self._model_dir = model_dir_of(model_dir, config)  # checked here: TF raised at construction too
        self._model_fn = model_fn
        self._config = config
        self._params = dict(params or {})
        self._warm_start_from = None if warm_start_from is None else str(warm_start_from)
        self._stop_event = threading.Event()  # the one stop flag, shared with every session
        self._models = ModelCache(self, self._warm_start_from)
        self._spec: ModelSpec | None = None
        self._last_result: LoopResult | None = None

    @property
    def model_dir(self) -> str:
        """Directory of checkpoints and events (a temporary one, made on first use, when none was given)."""
        if self._model_dir is None:
            self._model_dir = tempfile.mkdtemp(prefix="estlab_")
            logger.warning("Using temporary folder as model directory: %s", self._model_dir)
        return self._model_dir

    @property
    def config(self) -> RunConfig:
        """The run configuration (``model_dir`` filled in)."""
        if self._config.model_dir != self.model_dir:
            self._config = self._config.replace(model_dir=self.model_dir)
        return self._config

    @property
    def history(self) -> History:
        """The record of this model's training and evaluation (restored from its checkpoints)."""
        return self._models.history

    @property
    def model_fn(self) -> Any:
        """The ``model_fn`` given (None for premade estimators)."""
        return self._model_fn

    @property
    def params(self) -> dict[str, Any]:
        """A copy of ``params``."""
        return dict(self._params)

    @property
    def global_step(self) -> int:
        """Step of the in-memory model, else of the newest checkpoint (0 when untrained)."""
        if self._models.state is not None:
            return self._models.state.global_step
        latest = checkpoints.latest_checkpoint(self.model_dir)
        return 0 if latest is None else checkpoints.step_of(latest)

    @property
    def last_run(self) -> LoopResult | None:
        """``LoopResult`` of the last ``train`` call (status, reason, global_step, final_loss), or None."""
        return self._last_result

    def _input_fn_args(self) -> dict[str, Any]:
        """What TF passed to an ``input_fn`` that asks for it by name (``params``, ``config``)."""
        return {"params": self.params, "config": self.config}

    def _check(self) -> None:
        """Validate the constructor arguments (premade estimators check theirs); runs before every call."""

    def request_stop(self) -> None:
        """Ask a running ``train`` (in any thread) to stop after the current batch; it checkpoints first."""
        self._stop_event.set()

    def train(self, input_fn: Any, hooks: Sequence[Listener] | None = None, steps: int | None = None,
              max_steps: int | None = None, saving_listeners: Sequence[Any] | None = None, *, label: Any = None,
              batch_size: int | None = None, num_epochs: int | None = None, shuffle: bool = True) -> Estimator:
        """Train the model and return ``self``; ``steps`` adds to the current step, ``max_steps`` is absolute.

        Parameters
        ----------
        input_fn : InputFn, DataFrame, dict of arrays or callable
            Training data; a DataFrame/dict needs ``label=`` (and uses ``batch_size``, ``num_epochs``, ``shuffle``).
        hooks : list of Listener, optional
            Extra listeners for this call.
        steps, max_steps : int, optional
            At most one. Neither: train until the input is exhausted (one epoch for a DataFrame or dict
            given without ``num_epochs``; forever for an input_fn with ``num_epochs=None``) or
            ``request_stop()``. The environment variable ``ESTLAB_MAX_STEPS`` caps the steps of every call.
        saving_listeners : list of CheckpointSaverListener, optional
            TF's: called around the checkpoints saved at the RunConfig's cadence
            (``estlab.training.checkpoint_hooks.with_saving_listeners``).
        batch_size : int, optional
            Rows per step for a DataFrame/dict. None: 128 (TF's ``pandas_input_fn`` default) on the CPU and MPS,
            1,024 on a CUDA device (small tabular models are launch-bound there: bigger batches are nearly free);
            see ``estlab.training.config.default_batch_size``. An input_fn keeps its own.

        Examples
        --------
        >>> est.train(train_df, label="income_bracket", max_steps=1000)  # doctest: +SKIP
        """
        if steps is not None and max_steps is not None:
            raise ValueError(f"train: steps={steps} and max_steps={max_steps} were both given; pass only one")
        check_positive_int("steps", steps)
        check_positive_int("max_steps", max_steps)
        hooks = sort_listeners(with_saving_listeners(list(hooks or []), saving_listeners, self.model_dir, self.config))
        self._check()
        with self._models.lock:
            try:
                if label is None and isinstance(input_fn, pd.DataFrame | dict):
                    label = self._models.saved_label(self.model_dir, self.config)
                device = resolve_device(self.config.device)
                if batch_size is None:
                    batch_size = default_batch_size(device)
                source = training_source(input_fn, label=label, batch_size=batch_size, num_epochs=num_epochs,
                                         shuffle=shuffle, seed=self.config.random_seed,
                                         bounded=steps is not None or max_steps is not None,
                                         input_fn_args=self._input_fn_args())
                distributed.init_distributed(device)
                with (ModelDirLock(self.model_dir) if distributed.is_chief() else contextlib.nullcontext(),
                      training_threads(self.config)):  # intra-op threads for this run (training/threads.py)
                    return self._train_in_model_dir(source, hooks, steps, max_steps, label)
            finally:
                self._stop_event.clear()  # a stop asked before this call stopped it; none leaks into the next

    def _train_in_model_dir(self, source: Any, hooks: list, steps: int | None, max_steps: int | None,
                            label: Any) -> Estimator:
        state = self._models.current(self.model_dir, self.config, fit_on=source)
        state.label = label if label is not None else state.label
        class_weights = self._class_weights(state, source)
        if max_steps is not None and state.global_step >= max_steps:
            logger.warning("Skipping training: global_step %d has already reached max_steps=%d in %s "
                           "(max_steps is absolute; use steps= to train further)",
                           state.global_step, max_steps, self.model_dir)
            self._last_result = LoopResult("finished", "max_steps already reached", state.global_step, None)
            return self
        target = plan_target(state.global_step, steps, max_steps, self.model_dir)
        info = {"estimator": type(self).__name__, "params": state.params}
        with TrainingSession(self.model_dir, self.config, self.history, self._stop_event, hooks,
                             metrics_fn=inference.metrics_fn(state, 512, self.config.autocast_dtype, self._input_fn_args())) as session:
            try:
                if self.trains_full_batch:
                    fit = self._fit_full_batch if class_weights is None else functools.partial(
                        _class_weighted_fit, self._fit_full_batch, class_weights)
                    batches = self._full_batch_input_batches(None if target is None else target - state.global_step)
                    self._last_result = session.fit_full_batch(state, source, fit, target, info,
                                                               what=type(self).__name__, max_batches=batches)
                else:
                    with _training_head(state, class_weights):
                        self._last_result = session.train(state, source, target, info, self.config.autocast_dtype)
            except KeyboardInterrupt:
                raise  # the loop checkpointed before re-raising; the in-memory model is good
            except BaseException:
                self._models.state = None  # weights may be damaged: the next call reloads the last good checkpoint
                raise
        if self._last_result.diverged:  # stopped on a NaN loss (NanTensorHook(fail_on_nan_loss=False)): as above
            self._models.state = None
            return self
        self._restore_best(state, hooks)
        return self

    def _class_weights(self, state: Any, source: Any) -> Any:
        """Per-class weights of this ``train`` call from the ``class_weight`` argument (premade classifiers)."""
        class_weight = getattr(self, "class_weight", None)
        if class_weight is None:
            return None
        class_ids = None
        if class_weight == "balanced" and isinstance(source, MemorySource) and source.data.labels is not None:
            class_ids = state.head.encode_labels(source.data.labels)
        return resolve_class_weights(class_weight, state.head, class_ids)

    def _restore_best(self, state: Any, hooks: Sequence[Listener]) -> None:
        """``EarlyStopping(restore_best=True)``: load the best evaluation's weights, rewrite the newest checkpoint.

        The global step, the History and the input position stay those of the end of training; the module,
        optimizer and loss-scaler state become the best checkpoint's.
        """
        for hook in hooks:
            if not isinstance(hook, EarlyStopping):
                continue
            path = hook.restore_path()
            if path is None or checkpoints.step_of(path) == state.global_step:
                continue
            data = checkpoints.load_checkpoint(path, map_location=state.device)
            state.module.load_state_dict(data["model"])
            for optimizer, saved in zip(state.optimizers, data.get("optimizers", [])):
                optimizer.load_state_dict(saved)
            if state.scaler is not None and data.get("scaler"):
                state.scaler.load_state_dict(data["scaler"])
            if distributed.is_chief():
                state.listener_state.update(
                    {x.state_key: x.state_dict() for x in hooks if isinstance(x, StatefulListener)})
                payload, meta = state.checkpoint_payload(self.history)
                checkpoints.save_checkpoint(checkpoints.checkpoint_path(self.model_dir, state.global_step),
                                            payload, meta)
            logger.info("EarlyStopping: restored the weights of step %d (%s=%.6g) at global step %d in %s",
                        checkpoints.step_of(path), hook.metric, hook.best, state.global_step, self.model_dir)

    def evaluate(self, input_fn: Any, steps: int | None = None, hooks: Sequence[Listener] | None = None,
                 checkpoint_path: str | None = None, name: str | None = None, *, label: Any = None,
                 batch_size: int = 512) -> dict[str, Any]:
        """Metrics over the whole input (or its first ``steps`` batches), plus ``global_step``.

        The ``evaluate`` event goes to History, TensorBoard (``model_dir/eval`` or ``eval_<name>``) and ``hooks``,
        each once.

        Examples
        --------
        >>> est.evaluate(test_df)["accuracy"]  # doctest: +SKIP
        0.85
        """
        check_positive_int("steps", steps)
        hooks = sort_listeners(hooks or [])
        self._check()
        with self._models.reading(self.model_dir, checkpoint_path) as path:
            state = self._models.at(self.model_dir, self.config, path)
            with TrainingSession(self.model_dir, self.config, self.history, self._stop_event, hooks,
                                 training=False, record=checkpoint_path is None,
                                 metrics_fn=inference.metrics_fn(state, batch_size, self.config.autocast_dtype,
                                                                 self._input_fn_args())) as session:
                return session.evaluate(input_fn, state.global_step, steps=steps, name=name, label=label)

    def _quiet_metrics(self, input_fn: Any, *, label: Any = None, batch_size: int = 512) -> dict[str, float]:
        """The newest model's metrics over ``input_fn`` with no event, History record or summary written.

        What ``estlab.inspection`` and ``estlab.calibration`` score with (many evaluations of altered copies of
        one frame must not fill the model's History or TensorBoard).
        """
        self._check()
        with self._models.reading(self.model_dir, None) as path:
            state = self._models.at(self.model_dir, self.config, path)
            metrics = inference.metrics_fn(state, batch_size, self.config.autocast_dtype, self._input_fn_args())
            return metrics(input_fn, label=label)

    def predict(self, input_fn: Any, predict_keys: Sequence[str] | str | None = None,
                hooks: Sequence[Listener] | None = None, checkpoint_path: str | None = None,
                yield_single_examples: bool = True, *, batch_size: int = 512) -> Iterator[dict[str, Any]]:
        """Yield prediction dicts with TF's keys (one per example, or one per batch).

        ``hooks`` are accepted for TF compatibility; prediction emits no training events.

        Examples
        --------
        >>> next(est.predict(test_df))["probabilities"]  # doctest: +SKIP
        array([0.9, 0.1], dtype=float32)
        """
        sort_listeners(hooks or [])
        keys = [predict_keys] if isinstance(predict_keys, str) else predict_keys
        batches, _ = self._prediction_batches(input_fn, keys, checkpoint_path, batch_size)
        return inference.single_examples(batches) if yield_single_examples else batches

    def _prediction_batches(self, input_fn: Any, keys: Sequence[str] | None, checkpoint_path: str | None,
                            batch_size: int, whole_blocks: bool = False) -> tuple[inference.PredictionBatches, Any]:
        """The prediction arrays of ``input_fn`` (see ``inference.predict_batches``) and the head predicting."""
        self._check()
        with self._models.reading(self.model_dir, checkpoint_path) as path:
            state = self._models.at(self.model_dir, self.config, path)
        source = inference.prediction_source(state, input_fn, batch_size, self._input_fn_args())
        return inference.predict_batches(state, source, keys, whole_blocks), state.head

    def predict_frame(self, input_fn: Any, predict_keys: Sequence[str] | str | None = None,
                      checkpoint_path: str | None = None, *, batch_size: int = 512) -> pd.DataFrame:
        """Predictions as a DataFrame: one row per example, with the input frame's index.

        Vector outputs become ``<key>_<i>`` columns, except the per-class ones, which are named by class:
        ``probabilities_<class>`` (and multi-class ``logits_<class>``), the class being the label vocabulary's
        string or ``0..K-1``. A DataFrame (or Series) input keeps its index; other inputs get ``0..N-1``.

        Examples
        --------
        >>> est.predict_frame(test_df)[["classes", "probabilities_>50K"]]  # doctest: +SKIP
        """
        keys = [predict_keys] if isinstance(predict_keys, str) else predict_keys
        index = input_fn.index if isinstance(input_fn, pd.DataFrame | pd.Series) else None
        # every prediction is computed (all_classes names the columns); ``keys`` picks what the frame shows
        blocks, head = self._prediction_batches(input_fn, None, checkpoint_path, batch_size, whole_blocks=True)
        coded = getattr(head, "coded_predictions", None)  # string columns taken from class names by ids
        return predictions_frame(blocks, index=index, keys=keys, coded=coded() if callable(coded) else None)

    def export_saved_model(self, export_dir_base: str, *args: Any, **kwargs: Any) -> str:
        """Export for serving (delegates to ``estlab.export.export_saved_model``)."""
        from estlab.export import export_saved_model

        self._check()
        # under torchrun only the chief writes; every rank returns the chief's export path
        path = export_saved_model(self, export_dir_base, *args, **kwargs) if distributed.is_chief() else None
        return distributed.broadcast_object(path)

    def serving_model(self, checkpoint_path: str | None = None) -> ServingModel:
        """The trained module with its fitted transformer and head, for export (the seam ``estlab.export`` uses).

        ``checkpoint_path`` (a checkpoint file or a model_dir) rebuilds that checkpoint's model instead of the
        in-memory one; the global random state is left as it was.
        """
        state = self._models.at_keeping_rng(self.model_dir, self.config, checkpoint_path)
        return ServingModel.of(state)

    def close(self) -> None:
        """Release the in-memory model (and the CUDA cache); the model_dir stays. The next call reloads."""
        with self._models.lock:
            self._models.clear()
            self._spec = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_dir={self.model_dir!r}, global_step={self.global_step})"

    def _checkpoint_step(self) -> int | None:
        """Step of the in-memory model or newest checkpoint; None when untrained (makes no temporary dir)."""
        if self._models.state is not None:
            return self._models.state.global_step
        latest = None if self._model_dir is None else checkpoints.latest_checkpoint(self._model_dir)
        return None if latest is None else checkpoints.step_of(latest)

    def _repr_html_(self) -> str:
        """The constructor parameters as an HTML table (Jupyter's rich display; see ``estlab._html_repr``)."""
        from estlab._html_repr import estimator_html

        return estimator_html(self)

    # -- pickling: the constructor's arguments and the model_dir; the model comes back from its checkpoint ----
    _RUNTIME = ("_stop_event", "_models", "_spec", "_last_result")

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the in-memory model, lock and stop flag; a temporary model_dir is made first.

        The model is not pickled: an unpickled estimator reloads the newest checkpoint of ``model_dir`` on
        first use (``train`` always ends with a checkpoint), so both must see the same files.

        Examples
        --------
        >>> import pickle
        >>> clone = pickle.loads(pickle.dumps(est))  # doctest: +SKIP
        >>> clone.predict_frame(frame).equals(est.predict_frame(frame))  # doctest: +SKIP
        True
        """
        self.model_dir  # noqa: B018 - a temporary model_dir is made now, so both copies share it
        with self._models.lock:
            return {k: v for k, v in self.__dict__.items() if k not in self._RUNTIME}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._stop_event = threading.Event()
        self._models = ModelCache(self, self._warm_start_from)
        self._spec = None
        self._last_result = None
