"""``Estimator``: train / evaluate / predict with checkpoints, as ``tf.estimator.Estimator``, on PyTorch.

The estimator is the TF-compatible facade. It checks arguments, resolves the input into a data source
(``estlab.inputs.source``), builds or reloads the model (``estlab.estimators.model_state``) and hands both
to a training session (``estlab.training.session``), which owns the event bus, checkpoints and summaries.
Evaluation and prediction maths live in ``estlab.estimators.inference``.

The model stays in memory between calls (TF rebuilt it each time) and is re-read only when the model_dir
holds a newer checkpoint (another process trained it). Subclasses (premade estimators) override the build
hooks ``_feature_columns``, ``_build_head``, ``_build_module``, ``_build_optimizers``, ``_estimator_params``,
``_check`` (and, for full-batch learners, ``trains_full_batch`` + ``_fit_full_batch``); the base implements
them from ``model_fn`` (see ``estlab.estimators.custom``).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import random
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from estlab._util import predictions_to_frame
from estlab.estimators import inference
from estlab.estimators.custom import CustomHead, ModelSpec, build_model_spec
from estlab.estimators.model_state import ModelState, ServingModel, build_state, load_from
from estlab.inputs import resolve_input
from estlab.inputs.source import as_source
from estlab.training import checkpoints, distributed
from estlab.training.config import RunConfig, resolve_device
from estlab.training.events import Listener, sort_listeners
from estlab.training.history import History
from estlab.training.lock import ModelDirLock
from estlab.training.loop import LoopResult
from estlab.training.session import TrainingSession, plan_target

logger = logging.getLogger(__name__)

__all__ = ["Estimator", "ServingModel"]


def _positive_int(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0):
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")


class Estimator:
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

    def __init__(
        self,
        model_fn: Any = None,
        model_dir: str | None = None,
        config: RunConfig | None = None,
        params: dict[str, Any] | None = None,
        warm_start_from: str | None = None,
    ) -> None:
        config = RunConfig() if config is None else config
        if not isinstance(config, RunConfig):
            raise TypeError(f"config must be an estlab RunConfig, got {type(config).__name__}")
        if model_dir is not None and config.model_dir is not None and (
                Path(model_dir).expanduser().resolve() != Path(config.model_dir).expanduser().resolve()):
            raise ValueError(f"model_dir={str(model_dir)!r} differs from config.model_dir={config.model_dir!r}; "
                             "pass only one of them, or the same directory to both")
        self._model_fn = model_fn
        self._model_dir: str | None = str(model_dir) if model_dir is not None else config.model_dir
        self._config = config
        self._params = dict(params or {})
        self._warm_start_from = None if warm_start_from is None else str(warm_start_from)
        self._stop_event = threading.Event()  # the one stop flag, shared with every session
        self._call_lock = threading.RLock()
        self._state: ModelState | None = None
        self._spec: ModelSpec | None = None
        self._last_result: LoopResult | None = None
        self.history = History()

    # ------------------------------------------------------------------ properties
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
        if self._state is not None:
            return self._state.global_step
        latest = checkpoints.latest_checkpoint(self.model_dir)
        return 0 if latest is None else checkpoints.step_of(latest)

    @property
    def last_run(self) -> LoopResult | None:
        """``LoopResult`` of the last ``train`` call (status, reason, global_step, final_loss), or None."""
        return self._last_result

    # ------------------------------------------------------------------ build hooks (model_fn)
    def _check(self) -> None:
        """Validate the constructor arguments (premade estimators check theirs); runs before every call."""

    def _model_spec(self) -> ModelSpec:
        if self._model_fn is None:
            raise ValueError(f"{type(self).__name__}: model_fn is None; pass model_fn=fn returning a ModelSpec, "
                             "or use a premade estimator (estlab.estimator.DNNClassifier, ...)")
        if self._spec is None:
            self._spec = build_model_spec(self._model_fn, self._params)
        return self._spec

    def _feature_columns(self) -> list:
        """All feature columns the model reads ([] for raw-tensor models)."""
        return list(self._model_spec().feature_columns)

    def _build_head(self) -> Any:
        """The head: label encoding, loss, predictions, metrics."""
        spec = self._model_spec()
        return spec.head if spec.head is not None else CustomHead.from_spec(spec)

    def _build_module(self, transformer: Any) -> torch.nn.Module:
        """The module ``module(encoded_batch) -> logits``; feature layers built without a transformer are bound."""
        module = self._model_spec().module
        if transformer is not None:
            from estlab.features import bind_feature_layers

            bind_feature_layers(module, transformer)
        return module

    def _build_optimizers(self, module: torch.nn.Module) -> list[torch.optim.Optimizer]:
        """One optimizer per parameter group the model trains separately."""
        from estlab.estimators.optimizers import resolve_optimizer

        spec = self._model_spec()
        return [resolve_optimizer(spec.optimizer, spec.learning_rate)(module.parameters())]

    def _fit_full_batch(self, module: torch.nn.Module, encoded: dict, labels: torch.Tensor, weights: Any) -> None:
        """Full-batch learners (``trains_full_batch = True``) fit here once instead of SGD steps."""
        raise NotImplementedError(f"{type(self).__name__} sets trains_full_batch but has no _fit_full_batch")

    def _estimator_params(self) -> dict[str, Any]:
        """Plain JSON constructor parameters, stored in checkpoints."""
        return {"params": self._params}

    def _input_names(self, module: torch.nn.Module) -> list[str] | None:
        """Names of the module's tensor arguments when it takes raw tensors, ``None`` for one dict."""
        if self._model_fn is None:
            return None
        names = self._model_spec().input_names
        return None if names is None else list(names)

    # ------------------------------------------------------------------ public API
    def request_stop(self) -> None:
        """Ask a running ``train`` (in any thread) to stop after the current batch; it checkpoints first."""
        self._stop_event.set()

    def latest_checkpoint(self) -> str | None:
        """Path of the newest checkpoint in ``model_dir`` (None when there is none)."""
        latest = checkpoints.latest_checkpoint(self.model_dir)
        return None if latest is None else str(latest)

    def get_variable_names(self) -> list[str]:
        """Names of the variables in the newest checkpoint.

        Examples
        --------
        >>> est.get_variable_names()  # doctest: +SKIP
        ['bias', 'weight']
        """
        return sorted(self._load_latest_or_fail()[1]["model"])

    def get_variable_value(self, name: str) -> np.ndarray:
        """Value of one variable in the newest checkpoint as a numpy array."""
        state = self._load_latest_or_fail()[1]["model"]
        if name not in state:
            raise ValueError(f"get_variable_value: no variable {name!r}; variables are {sorted(state)}")
        return state[name].detach().cpu().numpy()

    def train(self, input_fn: Any, hooks: Sequence[Listener] | None = None, steps: int | None = None,
              max_steps: int | None = None, *, label: Any = None, batch_size: int = 128,
              num_epochs: int | None = None, shuffle: bool = True) -> Estimator:
        """Train the model; ``steps`` adds to the current step, ``max_steps`` is absolute.

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

        Returns
        -------
        Estimator
            ``self``, so calls chain.

        Examples
        --------
        >>> est.train(train_df, label="income_bracket", max_steps=1000)  # doctest: +SKIP
        """
        if steps is not None and max_steps is not None:
            raise ValueError(f"train: steps={steps} and max_steps={max_steps} were both given; pass only one")
        _positive_int("steps", steps)
        _positive_int("max_steps", max_steps)
        hooks = sort_listeners(hooks or [])  # type check before any work
        self._check()
        with self._call_lock:
            self._stop_event.clear()
            frame = isinstance(input_fn, pd.DataFrame | dict)
            label = self._saved_label() if label is None and frame else label
            if num_epochs is None and steps is None and max_steps is None and frame:
                num_epochs = 1  # a frame with no step bound trains one epoch instead of forever
            source = as_source(resolve_input(input_fn, label=label, batch_size=batch_size, num_epochs=num_epochs,
                                             shuffle=shuffle, seed=self.config.random_seed))
            if not source.has_labels:
                raise ValueError("train: the input has no labels; pass label='<target column>' with a DataFrame, "
                                 "or an input_fn that returns (features, labels)")
            distributed.init_distributed(resolve_device(self.config.device))
            lock = ModelDirLock(self.model_dir)
            with lock if distributed.is_chief() else contextlib.nullcontext():
                return self._train_locked(source, hooks, steps, max_steps, label)

    def _train_locked(self, source: Any, hooks: list, steps: int | None, max_steps: int | None,
                      label: Any) -> Estimator:
        state = self._current_state(fit_on=source)
        state.label = label if label is not None else state.label
        if max_steps is not None and state.global_step >= max_steps:
            logger.warning("Skipping training: global_step %d has already reached max_steps=%d in %s "
                           "(max_steps is absolute; use steps= to train further)",
                           state.global_step, max_steps, self.model_dir)
            self._last_result = LoopResult("finished", "max_steps already reached", state.global_step, None)
            return self
        target = plan_target(state.global_step, steps, max_steps, self.model_dir)
        info = {"estimator": type(self).__name__, "params": state.params}
        with TrainingSession(self.model_dir, self.config, self.history, self._stop_event, hooks,
                             metrics_fn=self._metrics_fn(state)) as session:
            try:
                if self.trains_full_batch:
                    self._last_result = session.fit_full_batch(state, source, self._fit_full_batch, target, info,
                                                               what=type(self).__name__)
                else:
                    self._last_result = session.train(state, source, target, info, self.config.autocast_dtype)
            except KeyboardInterrupt:
                raise  # the loop checkpointed before re-raising; the in-memory model is good
            except BaseException:
                self._state = None  # weights may be damaged: the next call reloads the last good checkpoint
                raise
        return self

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
        _positive_int("steps", steps)
        hooks = sort_listeners(hooks or [])
        self._check()
        with self._reading(checkpoint_path) as path:
            state = self._state_for(path)
            with TrainingSession(self.model_dir, self.config, self.history, self._stop_event, hooks,
                                 training=False, metrics_fn=self._metrics_fn(state, batch_size),
                                 record=checkpoint_path is None) as session:
                return session.evaluate(input_fn, state.global_step, steps=steps, name=name, label=label)

    def _metrics_fn(self, state: ModelState, batch_size: int = 512) -> Any:
        """``metrics(input_fn, steps=, label=)`` over ``state`` (what a session evaluates with)."""
        autocast = self.config.autocast_dtype

        def metrics(input_fn: Any, steps: int | None = None, label: Any = None) -> dict[str, float]:
            label = label if label is not None else state.label
            source = as_source(resolve_input(input_fn, label=label, batch_size=batch_size, num_epochs=1,
                                             shuffle=False))
            if not source.has_labels:
                raise ValueError("evaluate: the input has no labels; pass label='<target column>' with a "
                                 "DataFrame, or an input_fn that returns (features, labels)")
            return inference.evaluate_metrics(state, source, steps, autocast)

        return metrics

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
        self._check()
        keys = [predict_keys] if isinstance(predict_keys, str) else predict_keys
        with self._reading(checkpoint_path) as path:
            state = self._state_for(path)
            if isinstance(input_fn, pd.DataFrame) and isinstance(state.label, str) and state.label in input_fn.columns:
                input_fn = input_fn.drop(columns=[state.label])
            source = as_source(resolve_input(input_fn, batch_size=batch_size, num_epochs=1, shuffle=False))
        batches = inference.predict_batches(state, source, keys)
        return inference.single_examples(batches) if yield_single_examples else batches

    def predict_frame(self, input_fn: Any, predict_keys: Sequence[str] | str | None = None,
                      checkpoint_path: str | None = None, *, batch_size: int = 512) -> pd.DataFrame:
        """Predictions as a DataFrame: one row per example; vector outputs become ``<key>_<i>`` columns.

        Examples
        --------
        >>> est.predict_frame(test_df)[["class_ids", "probabilities_1"]]  # doctest: +SKIP
        """
        return predictions_to_frame(self.predict(input_fn, predict_keys, checkpoint_path=checkpoint_path,
                                                 yield_single_examples=False, batch_size=batch_size))

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

        Examples
        --------
        >>> est.serving_model().global_step  # doctest: +SKIP
        1000
        """
        python_state, numpy_state = random.getstate(), np.random.get_state()
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        try:
            with self._call_lock, torch.random.fork_rng(devices=devices):
                state = self._state_for(checkpoint_path)  # rebuilding from a checkpoint may reseed
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
        return ServingModel.of(state)

    def close(self) -> None:
        """Release the in-memory model (and the CUDA cache); the model_dir stays. The next call reloads."""
        with self._call_lock:
            self._state = None
            self._spec = None
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_dir={self.model_dir!r}, global_step={self.global_step})"

    # ------------------------------------------------------------------ the in-memory model
    @contextlib.contextmanager
    def _reading(self, checkpoint_path: str | None) -> Iterator[str | None]:
        """Serialise with other calls; while another thread trains, read its newest checkpoint instead of waiting.

        Yields the checkpoint to read (``None``: the in-memory model).
        """
        if self._call_lock.acquire(blocking=False):
            try:
                yield checkpoint_path
            finally:
                self._call_lock.release()
            return
        latest = self.latest_checkpoint()
        if checkpoint_path is None and latest is not None:
            yield latest  # a separate model built from the checkpoint: the training thread is not touched
            return
        with self._call_lock:
            yield checkpoint_path

    def _saved_label(self) -> Any:
        """The training label remembered in memory or in the newest checkpoint (None when untrained)."""
        try:
            return self._current_state().label
        except ValueError:
            return None

    def _load_latest_or_fail(self) -> tuple[Path, dict]:
        loaded = checkpoints.load_latest(self.model_dir)
        if loaded is None:
            raise ValueError(f"Could not find a trained model in model_dir {self.model_dir!r}; call train() first")
        return loaded

    def _build(self, loaded: tuple[Path, dict] | None, fit_on: Any = None, restore_rng: bool = True) -> ModelState:
        self._spec = None
        state, history = build_state(self, self.config, loaded, fit_on, restore_rng, self._warm_start_from)
        if history is not None:
            self.history = history
        return state

    def _current_state(self, fit_on: Any = None) -> ModelState:
        """The in-memory model, (re)loaded when the model_dir holds a newer checkpoint."""
        latest = checkpoints.latest_checkpoint(self.model_dir)
        newer = latest is not None and (self._state is None or checkpoints.step_of(latest) > self._state.global_step)
        if self._state is None or newer:
            loaded = checkpoints.load_latest(self.model_dir)
            if loaded is None and fit_on is None:
                raise ValueError(f"Could not find a trained model in model_dir {self.model_dir!r}; "
                                 "call train() first")
            self._state = self._build(loaded, fit_on)
        return self._state

    def _state_for(self, checkpoint_path: str | None) -> ModelState:
        if checkpoint_path is None:
            return self._current_state()
        return self._build(load_from(checkpoint_path, self.latest_checkpoint()), restore_rng=False)
