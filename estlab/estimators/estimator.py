"""``Estimator``: train / evaluate / predict with checkpoints, as ``tf.estimator.Estimator``, on PyTorch.

The estimator keeps its model in memory between calls (TF rebuilt it each time) and re-reads the
model_dir only when a newer checkpoint appeared there (another process trained it). Subclasses
(premade estimators) override the build hooks ``_feature_columns``, ``_build_head``,
``_build_module``, ``_build_optimizers``, ``_estimator_params`` (and, for full-batch learners,
``trains_full_batch`` + ``_fit_full_batch``); the base implements them from ``model_fn``
(see ``estlab.estimators.custom``).

Evaluation runs over the whole input once, in order: logits of all batches are concatenated and
the head computes the metrics over them (``head.metrics(logits, labels, weights, num_batches=...)``),
so nothing is averaged per batch.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.tensorboard import SummaryWriter

from estlab.estimators.custom import CustomHead, ModeKeys, ModelSpec, build_model_spec
from estlab.inputs import IndexBatcher, InputFn, iter_batches, resolve_input
from estlab.training import checkpoints, distributed
from estlab.training.checkpoints import CheckpointSaver
from estlab.training.config import RunConfig, resolve_device
from estlab.training.events import Control, Listener, sort_listeners
from estlab.training.history import History
from estlab.training.lock import ModelDirLock
from estlab.training.logging_listener import LoggingListener
from estlab.training.loop import LoopResult, LoopTask, run_loop
from estlab.training.seeding import rng_state, seed_everything, set_rng_state
from estlab.training.summaries import TensorBoardWriter, eval_dir, write_scalars

logger = logging.getLogger(__name__)


@dataclass
class _Run:
    """The in-memory model of an estimator (what a checkpoint restores)."""

    module: torch.nn.Module
    forward_module: torch.nn.Module
    optimizers: list[torch.optim.Optimizer]
    head: Any
    transformer: Any
    device: torch.device
    global_step: int = 0
    batcher_state: dict[str, Any] | None = None
    label: Any = None
    scaler: Any = None
    input_names: list[str] | None = None
    takes_mode: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ServingModel:
    """What an export needs from a trained estimator (see :meth:`Estimator.serving_model`).

    ``module`` is the trained module itself (copy it before changing it); ``raw_tensors(frame)`` builds the
    module's raw inputs for models that read no feature columns; ``params`` are the estimator's plain
    constructor parameters.
    """

    module: torch.nn.Module
    transformer: Any
    head: Any
    input_names: list[str] | None
    takes_mode: bool
    label: Any
    global_step: int
    params: dict[str, Any]
    raw_tensors: Any


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        if isinstance(value, dict):
            return {str(k): _jsonable(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [_jsonable(v) for v in value]
        return repr(value)


def _has_labels(data: Any) -> bool:
    return data.label is not None if getattr(data, "streaming", False) else data.labels is not None


def _one_pass(data: Any) -> Iterator[Any]:
    """The input once, as parts with ``features``/``labels``/``feature_names``: itself, or a stream's chunks."""
    if not getattr(data, "streaming", False):
        yield data
        return
    for chunk in data.chunks(0, 0):
        if chunk.epoch > 0:
            return
        yield chunk


def _env_max_steps() -> int | None:
    raw = os.environ.get("ESTLAB_MAX_STEPS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"environment variable ESTLAB_MAX_STEPS must be a positive int, got {raw!r}; "
                         "unset it or set e.g. ESTLAB_MAX_STEPS=20")
    return int(raw)


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
        Checkpoints and TensorBoard events; a temporary directory when neither this nor
        ``config.model_dir`` is given.
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
            Path(model_dir).expanduser().resolve() != Path(config.model_dir).expanduser().resolve()
        ):
            raise ValueError(
                f"model_dir={str(model_dir)!r} differs from config.model_dir={config.model_dir!r}; "
                "pass only one of them, or the same directory to both"
            )
        model_dir = model_dir if model_dir is not None else config.model_dir
        if model_dir is None:
            model_dir = tempfile.mkdtemp(prefix="estlab_")
            logger.warning("Using temporary folder as model directory: %s", model_dir)
        self._model_dir = str(model_dir)
        self._config = config.replace(model_dir=self._model_dir)
        self._model_fn = model_fn
        self._params = dict(params or {})
        self._warm_start_from = None if warm_start_from is None else str(warm_start_from)
        self._stop_event = threading.Event()
        self._call_lock = threading.RLock()
        self._run: _Run | None = None
        self._spec: ModelSpec | None = None
        self._eval_writers: dict[str | None, SummaryWriter] = {}
        self._last_result: Any = None
        self.history = History()

    # ------------------------------------------------------------------ properties
    @property
    def model_dir(self) -> str:
        """Directory of checkpoints and events."""
        return self._model_dir

    @property
    def config(self) -> RunConfig:
        """The run configuration (``model_dir`` filled in)."""
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
        if self._run is not None:
            return self._run.global_step
        latest = checkpoints.latest_checkpoint(self._model_dir)
        return 0 if latest is None else checkpoints.step_of(latest)

    @property
    def last_run(self) -> Any:
        """``LoopResult`` of the last ``train`` call (status, reason, global_step, final_loss), or None."""
        return self._last_result

    # ------------------------------------------------------------------ subclass hooks
    def _model_spec(self) -> ModelSpec:
        if self._model_fn is None:
            raise ValueError(
                f"{type(self).__name__}: model_fn is None; pass model_fn=fn returning a ModelSpec, "
                "or use a premade estimator (estlab.estimator.DNNClassifier, ...)"
            )
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
        """The module: ``module(encoded_batch) -> logits (N, head.logits_dimension)``.

        ``DenseFeatures`` / ``LinearFeatures`` layers built inside ``model_fn`` without a transformer are
        bound here to the fitted one, before optimizers are created.
        """
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
        return {"params": _jsonable(self._params)}

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
        latest = checkpoints.latest_checkpoint(self._model_dir)
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

    def train(
        self,
        input_fn: Any,
        hooks: Sequence[Listener] | None = None,
        steps: int | None = None,
        max_steps: int | None = None,
        *,
        label: Any = None,
        batch_size: int = 128,
        num_epochs: int | None = None,
        shuffle: bool = True,
    ) -> Estimator:
        """Train the model; ``steps`` adds to the current step, ``max_steps`` is absolute.

        Parameters
        ----------
        input_fn : InputFn, DataFrame, dict of arrays or callable
            Training data; a DataFrame/dict needs ``label=`` (and uses ``batch_size``, ``num_epochs``, ``shuffle``).
        hooks : list of Listener, optional
            Extra listeners for this call.
        steps, max_steps : int, optional
            At most one. Neither: train until the input is exhausted (one epoch for a DataFrame or dict
            given without ``num_epochs``; forever for an input_fn with ``num_epochs=None``) or ``request_stop()``. The environment variable ``ESTLAB_MAX_STEPS`` caps the steps of
            every call (so notebooks run in seconds in CI).

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
        hooks = list(hooks or [])
        sort_listeners(hooks)  # type check before any work
        with self._call_lock:
            self._stop_event.clear()
            if label is None and isinstance(input_fn, pd.DataFrame | dict):
                label = self._saved_label()
            if (num_epochs is None and steps is None and max_steps is None
                    and isinstance(input_fn, pd.DataFrame | dict)):
                num_epochs = 1  # a frame with no step bound trains one epoch instead of forever
            data = resolve_input(input_fn, label=label, batch_size=batch_size, num_epochs=num_epochs,
                                 shuffle=shuffle, seed=self._config.random_seed)
            if not _has_labels(data):
                raise ValueError("train: the input has no labels; pass label='<target column>' with a DataFrame, "
                                 "or an input_fn that returns (features, labels)")
            distributed.init_distributed(resolve_device(self._config.device))
            lock = ModelDirLock(self._model_dir)
            if distributed.is_chief():
                lock.acquire()
            try:
                return self._train_locked(data, hooks, steps, max_steps, label)
            finally:
                lock.release()

    def _train_locked(self, data: InputFn, hooks: list, steps: int | None, max_steps: int | None,
                      label: Any) -> Estimator:
        run = self._current_run(fit_on=data)
        run.label = label if label is not None else run.label
        if max_steps is not None and run.global_step >= max_steps:
            logger.warning("Skipping training: global_step %d has already reached max_steps=%d in %s "
                           "(max_steps is absolute; use steps= to train further)",
                           run.global_step, max_steps, self._model_dir)
            self._last_result = LoopResult("finished", "max_steps already reached", run.global_step, None)
            return self
        target = max_steps if max_steps is not None else (run.global_step + steps if steps else None)
        cap = _env_max_steps()
        if cap is not None and (target is None or target > run.global_step + cap):
            logger.warning("ESTLAB_MAX_STEPS=%d caps this train call at %d steps (asked: %s)", cap, cap,
                           "until the input ends" if target is None else target - run.global_step)
            target = run.global_step + cap
        if self.trains_full_batch:
            if getattr(data, "streaming", False):
                raise ValueError(f"{type(self).__name__} fits on the whole data at once; pass a DataFrame or "
                                 "an InputFn instead of a streamed parquet input")
            encoded, labels, weights = self._tensors(run, data, with_labels=True)
            try:
                self._fit_full_batch(run.module, encoded, labels, weights)
            except BaseException:
                self._run = None  # a half-fitted model must not be used; the next call reloads the checkpoint
                raise
            run.global_step += 1
            control = self._control(run, None, hooks)
            control.global_step = run.global_step
            control.emit("train_begin", start_step=run.global_step - 1, target_step=target,
                         device=str(run.device), estimator=type(self).__name__, params=self._estimator_params())
            control.save_checkpoint()
            control.emit("train_end", status="finished", reason="full-batch fit", error=None, final_loss=None)
            return self
        batcher, encoded, labels, weights, rows = self._batches(run, data)
        control = self._control(run, batcher, hooks)
        task = LoopTask(
            module=run.module, optimizers=run.optimizers, loss_fn=run.head.loss, features=encoded,
            labels=labels, weights=weights, batches=batcher, start_step=run.global_step, target_step=target,
            device=run.device, rows=rows, autocast_dtype=self._config.autocast_dtype, scaler=run.scaler,
            forward=self._forward_fn(run, ModeKeys.TRAIN),
            begin_info={"estimator": type(self).__name__, "params": self._estimator_params()},
        )
        try:
            self._last_result = run_loop(task, control)
        except KeyboardInterrupt:
            run.global_step = control.global_step  # the loop checkpointed before re-raising
            raise
        except BaseException:
            self._run = None  # weights may be damaged: the next call reloads the last good checkpoint
            raise
        finally:
            run.batcher_state = batcher.state_dict()
            for listener in control.listeners:
                listener.control = None  # listeners outlive the run; the run's objects must not
        run.global_step = self._last_result.global_step
        return self

    def evaluate(
        self,
        input_fn: Any,
        steps: int | None = None,
        hooks: Sequence[Listener] | None = None,
        checkpoint_path: str | None = None,
        name: str | None = None,
        *,
        label: Any = None,
        batch_size: int = 512,
    ) -> dict[str, Any]:
        """Metrics over the whole input (or its first ``steps`` batches), plus ``global_step``.

        Writes the metrics to TensorBoard under ``model_dir/eval`` (``eval_<name>``) and records them in
        ``history``; ``hooks`` receive the ``evaluate`` event.

        Examples
        --------
        >>> est.evaluate(test_df)["accuracy"]  # doctest: +SKIP
        0.85
        """
        _positive_int("steps", steps)
        hooks = sort_listeners(hooks or [])
        record = checkpoint_path is None
        with self._reading(checkpoint_path) as checkpoint_path:
            run = self._run_for(checkpoint_path)
            label = label if label is not None else run.label
            data = resolve_input(input_fn, label=label, batch_size=batch_size, num_epochs=1, shuffle=False)
            if not _has_labels(data):
                raise ValueError("evaluate: the input has no labels; pass label='<target column>' with a "
                                 "DataFrame, or an input_fn that returns (features, labels)")
            all_logits, all_labels, all_weights, n_batches = [], [], [], 0
            world = distributed.get_world_size() if steps is None else 1  # steps: every rank evaluates the same
            streaming = getattr(data, "streaming", False)
            # parquet: this rank's row groups, each row once (chunks() would cap ranks to equal steps)
            parts = data.shard(distributed.get_rank(), world).single_pass() if world > 1 and streaming else _one_pass(data)
            for part in parts:
                if steps is not None and n_batches >= steps:
                    break
                encoded, labels, weights = self._tensors(run, part, with_labels=True)
                if world > 1 and not streaming:  # this rank's rows; all ranks' results are gathered below
                    rows = distributed.shard_indices(len(labels), even=False).to(labels.device)
                    encoded, labels = {k: v[rows] for k, v in encoded.items()}, labels[rows]
                    weights = None if weights is None else weights[rows]
                remaining = None if steps is None else steps - n_batches
                logits, n_rows, batches = self._logits(run, encoded, data.batch_size, remaining, ModeKeys.EVAL)
                n_batches += batches
                all_logits.append(logits)
                all_labels.append(labels[:n_rows].cpu())
                all_weights.append(None if weights is None else weights[:n_rows].cpu())
            if not all_logits:
                raise ValueError("evaluate: the input has no rows; pass a non-empty evaluation set")
            logits, labels = torch.cat(all_logits), torch.cat(all_labels)
            weights = None if all_weights[0] is None else torch.cat(all_weights)
            if world > 1:
                logits, labels = distributed.gather_concat(logits), distributed.gather_concat(labels)
                weights = None if weights is None else distributed.gather_concat(weights)
                n_batches = int(distributed.all_reduce_sums({"batches": n_batches})["batches"])
            metrics = run.head.metrics(logits, labels, weights, num_batches=n_batches)
            metrics = {k: float(v) for k, v in metrics.items()}
            event = {"type": "evaluate", "run": self._model_dir, "global_step": run.global_step,
                     "time": time.time(), "metrics": dict(metrics), "name": name}
            if distributed.is_chief() and self._config.tensorboard:
                writer = self._eval_writers.get(name)
                if writer is None:
                    writer = self._eval_writers[name] = SummaryWriter(str(eval_dir(self._model_dir, name)))
                write_scalars(writer, metrics, run.global_step)
            if record:
                self.history.dispatch(event)
            for hook in hooks:
                hook.dispatch(event)
            return {**metrics, "global_step": run.global_step}

    def predict(
        self,
        input_fn: Any,
        predict_keys: Sequence[str] | str | None = None,
        hooks: Sequence[Listener] | None = None,
        checkpoint_path: str | None = None,
        yield_single_examples: bool = True,
        *,
        batch_size: int = 512,
    ) -> Iterator[dict[str, Any]]:
        """Yield prediction dicts with TF's keys (one per example, or one per batch).

        ``hooks`` are accepted for TF compatibility; prediction emits no training events.

        Examples
        --------
        >>> next(est.predict(test_df))["probabilities"]  # doctest: +SKIP
        array([0.9, 0.1], dtype=float32)
        """
        sort_listeners(hooks or [])
        keys = [predict_keys] if isinstance(predict_keys, str) else predict_keys
        with self._reading(checkpoint_path) as checkpoint_path:
            run = self._run_for(checkpoint_path)
            data = self._predict_input(input_fn, run, batch_size)
        return self._predict_iter(run, data, keys, yield_single_examples)

    def predict_frame(
        self,
        input_fn: Any,
        predict_keys: Sequence[str] | str | None = None,
        checkpoint_path: str | None = None,
        *,
        batch_size: int = 512,
    ) -> pd.DataFrame:
        """Predictions as a DataFrame: one row per example; vector outputs become ``<key>_<i>`` columns.

        Examples
        --------
        >>> est.predict_frame(test_df)[["class_ids", "probabilities_1"]]  # doctest: +SKIP
        """
        columns: dict[str, list[np.ndarray]] = {}
        for batch in self.predict(input_fn, predict_keys, checkpoint_path=checkpoint_path,
                                  yield_single_examples=False, batch_size=batch_size):
            for key, value in batch.items():
                columns.setdefault(key, []).append(value)
        out: dict[str, Any] = {}
        for key, parts in columns.items():
            values = np.concatenate(parts)
            values = values.reshape(len(values), -1) if values.ndim > 1 else values.reshape(-1, 1)
            if values.shape[1] == 1:
                out[key] = values[:, 0]
            else:
                out.update({f"{key}_{i}": values[:, i] for i in range(values.shape[1])})
        return pd.DataFrame(out)

    def export_saved_model(self, export_dir_base: str, *args: Any, **kwargs: Any) -> str:
        """Export for serving (delegates to ``estlab.export.export_saved_model``)."""
        try:
            from estlab.export import export_saved_model
        except ImportError as error:
            raise NotImplementedError(
                f"export_saved_model needs estlab.export, which could not be imported ({error}); "
                "see the export issue / install estlab[onnx]"
            ) from error
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
                run = self._run_for(checkpoint_path)  # rebuilding from a checkpoint may reseed
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
        return ServingModel(
            module=run.module, transformer=run.transformer, head=run.head, input_names=run.input_names,
            takes_mode=run.takes_mode, label=run.label, global_step=run.global_step,
            params=self._estimator_params(), raw_tensors=lambda frame: self._raw_tensors(run, frame),
        )

    def close(self) -> None:
        """Release the in-memory model (and the CUDA cache); the model_dir stays. The next call reloads."""
        with self._call_lock:
            self._run = None
            self._spec = None
            for writer in self._eval_writers.values():
                writer.close()
            self._eval_writers.clear()
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_dir={self._model_dir!r}, global_step={self.global_step})"

    # ------------------------------------------------------------------ building and restoring
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
        if self._run is not None:
            return self._run.label
        try:
            return self._current_run().label
        except ValueError:
            return None

    def _load_latest_or_fail(self) -> tuple[Path, dict]:
        loaded = checkpoints.load_latest(self._model_dir)
        if loaded is None:
            raise ValueError(f"Could not find a trained model in model_dir {self._model_dir!r}; call train() first")
        return loaded

    def _current_run(self, fit_on: InputFn | None = None) -> _Run:
        """The in-memory run, (re)loaded when the model_dir holds a newer checkpoint."""
        latest = checkpoints.latest_checkpoint(self._model_dir)
        newer = latest is not None and (self._run is None or checkpoints.step_of(latest) > self._run.global_step)
        if self._run is None or newer:
            loaded = checkpoints.load_latest(self._model_dir)
            if loaded is None and fit_on is None:
                raise ValueError(
                    f"Could not find a trained model in model_dir {self._model_dir!r}; call train() first"
                )
            self._run = self._build_run(loaded, fit_on)
        return self._run

    def _run_for(self, checkpoint_path: str | None) -> _Run:
        if checkpoint_path is None:
            return self._current_run()
        path = Path(checkpoint_path)
        if not path.exists():
            raise ValueError(f"checkpoint_path {str(path)!r} does not exist; pass a model.ckpt-<step>.pt file or a "
                             f"model_dir (latest here: {self.latest_checkpoint()})")
        if path.is_dir():
            loaded = checkpoints.load_latest(path)
            if loaded is None:
                raise ValueError(f"checkpoint_path: no readable checkpoint in {str(path)!r}")
        else:
            loaded = (path, checkpoints.load_checkpoint(path))
        return self._build_run(loaded, None, restore_rng=False)

    def _build_run(self, loaded: tuple[Path, dict] | None, fit_on: InputFn | None, restore_rng: bool = True) -> _Run:
        self._spec = None
        device = distributed.rank_device(resolve_device(self._config.device))
        meta = loaded[1]["meta"] if loaded else {}
        # Seed before any build hook runs (a model_fn may create its module in _build_head). A side model
        # (another checkpoint, or one read while a thread trains) must not touch the global RNGs.
        with torch.random.fork_rng(devices=[]) if not restore_rng else contextlib.nullcontext():
            if self._config.random_seed is not None and loaded is None:
                seed_everything(self._config.random_seed)
            head = self._build_head()
            transformer = self._transformer(meta, fit_on)
            module = self._build_module(transformer).to(device)
            optimizers = self._build_optimizers(module)
        scaler = None
        if self._config.mixed_precision in ("fp16", "float16") and device.type == "cuda":
            scaler = torch.amp.GradScaler("cuda")
        run = _Run(module=module, forward_module=module, optimizers=optimizers, head=head, transformer=transformer,
                   device=device, scaler=scaler, input_names=self._input_names(module),
                   takes_mode="mode" in inspect.signature(module.forward).parameters)
        if loaded:
            self._restore(run, *loaded, restore_rng=restore_rng)
        elif self._warm_start_from:
            self._warm_start(module)
        if self._config.compile:
            run.forward_module = torch.compile(run.forward_module)
        run.forward_module = distributed.wrap_model(run.forward_module, device)
        return run

    def _transformer(self, meta: dict, fit_on: Any) -> Any:
        """The fitted FeatureTransformer: from the checkpoint, else fitted on the training input (None without columns)."""
        columns = self._feature_columns()
        if not columns:
            return None
        from estlab.features import FeatureTransformer

        if meta.get("transformer") is not None:
            return FeatureTransformer.from_dict(meta["transformer"])
        if getattr(fit_on, "streaming", False):
            self._check_keys(FeatureTransformer(columns), fit_on.schema_names)
            return fit_on.fit_transformer(FeatureTransformer(columns))
        self._check_keys(FeatureTransformer(columns), fit_on.features)
        return FeatureTransformer(columns).fit(fit_on.features)

    def _restore(self, run: _Run, path: Path, data: dict, restore_rng: bool) -> None:
        try:
            run.module.load_state_dict(data["model"])
        except RuntimeError as error:
            raise ValueError(
                f"checkpoint {str(path)!r} does not fit this model ({error}); the estimator's parameters differ "
                f"from the run that wrote it ({data['meta'].get('estimator_params')}); use another model_dir"
            ) from None
        for optimizer, state in zip(run.optimizers, data.get("optimizers", [])):
            optimizer.load_state_dict(state)
        if run.scaler is not None and data.get("scaler"):
            run.scaler.load_state_dict(data["scaler"])
        meta = data["meta"]
        run.global_step = int(data["global_step"])
        run.batcher_state = meta.get("batcher")
        run.label = meta.get("label")
        run.extra["listeners"] = meta.get("listeners", {})
        if restore_rng:
            set_rng_state(data.get("rng", {}), meta.get("rng", {}))
            self.history = History.from_dict(meta.get("history", {}))

    def _warm_start(self, module: torch.nn.Module) -> None:
        source = Path(self._warm_start_from)
        loaded = checkpoints.load_latest(source) if source.is_dir() else (source, checkpoints.load_checkpoint(source))
        if loaded is None:
            raise ValueError(f"warm_start_from: no readable checkpoint in {str(source)!r}; pass a model_dir "
                             "that was trained, or a model.ckpt-<step>.pt file")
        own = module.state_dict()
        matching = {k: v for k, v in loaded[1]["model"].items() if k in own and own[k].shape == v.shape}
        module.load_state_dict(matching, strict=False)
        logger.info("Warm-started %d of %d variables from %s", len(matching), len(own), loaded[0])

    def _checkpoint_payload(self, run: _Run, batcher: IndexBatcher | None) -> tuple[dict, dict]:
        tensors, plain = rng_state()
        payload = {
            "global_step": run.global_step,
            "model": {k: v.detach().cpu() for k, v in run.module.state_dict().items()},
            "optimizers": [o.state_dict() for o in run.optimizers],
            "scaler": run.scaler.state_dict() if run.scaler is not None else {},
            "rng": tensors,
        }
        meta = {
            "format": 1,
            "global_step": run.global_step,
            "estimator": type(self).__name__,
            "estimator_params": _jsonable(self._estimator_params()),
            "head": _jsonable(run.head.to_dict()) if hasattr(run.head, "to_dict") else None,
            "transformer": run.transformer.to_dict() if run.transformer is not None else None,
            "batcher": batcher.state_dict() if batcher is not None else run.batcher_state,
            "label": _jsonable(run.label),
            "history": self.history.to_dict(),
            "listeners": run.extra.get("listeners", {}),
            "rng": plain,
            "time": time.time(),
        }
        return payload, meta

    def _control(self, run: _Run, batcher: IndexBatcher | None, hooks: list) -> Control:
        config = self._config
        listeners: list[Listener] = [self.history, LoggingListener(config.log_step_count_steps)]
        if distributed.is_chief():
            listeners.append(CheckpointSaver(config.save_checkpoints_steps, config.save_checkpoints_secs))
            if config.tensorboard:
                listeners.append(TensorBoardWriter(self._model_dir, config.save_summary_steps,
                                                   config.log_step_count_steps))

        def save() -> str | None:
            run.global_step = control.global_step
            if batcher is not None:
                run.batcher_state = batcher.state_dict()
            if not distributed.is_chief():
                return None
            run.extra.setdefault("listeners", {}).update(
                {x.state_key: x.state_dict() for x in control.listeners if hasattr(x, "state_key")})
            payload, meta = self._checkpoint_payload(run, batcher)
            path = checkpoints.save_checkpoint(checkpoints.checkpoint_path(self._model_dir, run.global_step),
                                               payload, meta)
            checkpoints.prune_checkpoints(self._model_dir, config.keep_checkpoint_max)
            return str(path)

        saved = run.extra.get("listeners", {})
        for hook in hooks:  # listener state from the checkpoint (e.g. EarlyStopping's best value)
            if getattr(hook, "state_key", None) in saved:
                hook.load_state_dict(saved[hook.state_key])
        control = Control(sort_listeners(listeners + hooks), {"run": self._model_dir}, save, self._stop_event)
        control.global_step = run.global_step
        return control

    # ------------------------------------------------------------------ data
    @staticmethod
    def _check_keys(transformer: Any, features: Any) -> None:
        required = getattr(transformer, "required_keys", None)
        required = required() if callable(required) else required
        available = list(features.columns if isinstance(features, pd.DataFrame) else features)
        missing = [k for k in (required or []) if k not in available]
        if missing:
            raise ValueError(
                f"feature column key(s) {missing} are missing from the input, which has columns {available}; "
                "add the column(s) to the data or remove the feature column(s) that read them"
            )

    def _predict_input(self, input_fn: Any, run: _Run, batch_size: int) -> InputFn:
        if isinstance(input_fn, pd.DataFrame) and isinstance(run.label, str) and run.label in input_fn.columns:
            input_fn = input_fn.drop(columns=[run.label])
        return resolve_input(input_fn, batch_size=batch_size, num_epochs=1, shuffle=False)

    def _tensors(self, run: _Run, data: InputFn, with_labels: bool) -> tuple[dict, Any, Any]:
        features = data.features
        if run.transformer is not None:
            self._check_keys(run.transformer, features)
            encoded = run.transformer.transform(features)
        else:
            encoded = self._raw_tensors(run, features)
        encoded = {k: v.to(run.device) for k, v in encoded.items()}
        if not with_labels:
            return encoded, None, None
        labels = run.head.encode_labels(data.labels).to(run.device)
        weights = None
        weight_column = getattr(run.head, "weight_column", None)
        if weight_column is not None:
            if weight_column not in data.feature_names:
                raise ValueError(f"weight_column {weight_column!r} is not in the input, which has columns "
                                 f"{data.feature_names}; add it or set weight_column=None")
            values = np.array(features[weight_column], dtype=np.float64)  # a writable copy
            bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
            if bad.size:
                raise ValueError(f"weight_column {weight_column!r} has {bad.size} negative or non-finite "
                                 f"weight(s), e.g. {float(values[bad[0]])} at row {int(bad[0])}; weights must be "
                                 "finite and >= 0 (fix or drop those rows)")
            weights = torch.as_tensor(values, dtype=torch.float32, device=run.device)
        return encoded, labels, weights

    @staticmethod
    def _raw_tensors(run: _Run, features: Any) -> dict[str, torch.Tensor]:
        names = run.input_names if run.input_names is not None else list(
            features.columns if isinstance(features, pd.DataFrame) else features)
        available = list(features.columns if isinstance(features, pd.DataFrame) else features)
        missing = [n for n in names if n not in available]
        if missing:
            raise ValueError(f"model input(s) {missing} are missing from the features, which have keys {available}; "
                             "name the arrays after the module's forward() arguments, e.g. x={'input_1': images}")
        out = {}
        for name in names:
            values = np.asarray(features[name])
            if values.dtype.kind not in "biuf":
                raise ValueError(f"feature {name!r} has dtype {values.dtype}; a model without feature columns takes "
                                 "numeric arrays only: encode it, or give the model feature columns")
            tensor = torch.from_numpy(np.array(values, copy=True))
            out[name] = tensor.float() if values.dtype.kind in "fb" else tensor
        return out

    def _batches(self, run: _Run, data: Any) -> tuple[Any, Any, Any, Any, torch.Tensor | None]:
        """Index batches + the tensors they index, resumed from the saved iterator position.

        In-memory inputs are encoded once; a streamed parquet input (``data.streaming``) is encoded
        chunk by chunk through ``TensorStream``, whose live views the loop indexes the same way.
        """
        world = distributed.get_world_size()

        def fresh() -> Any:
            if getattr(data, "streaming", False):
                from estlab.inputs.parquet import TensorStream

                source = data.shard(distributed.get_rank(), world) if world > 1 else data
                return TensorStream(source, lambda chunk: self._tensors(run, chunk, with_labels=True))
            n_rows = data.num_rows if rows is None else len(rows)
            return IndexBatcher(n_rows, data.batch_size, data.num_epochs, data.shuffle, data.seed)

        streaming = getattr(data, "streaming", False)
        rows = distributed.shard_indices(data.num_rows) if world > 1 and not streaming else None
        batcher = fresh()
        if run.batcher_state is not None:
            try:
                batcher.load_state_dict(run.batcher_state)
                if batcher.exhausted:  # the previous call used the whole input: start it again, as TF did
                    batcher = fresh()
            except (ValueError, KeyError):
                logger.info("Training input differs from the saved iterator state; starting it from the beginning")
                batcher = fresh()
        if streaming:
            weights = batcher.weights if getattr(run.head, "weight_column", None) else None
            return batcher, batcher.features, batcher.labels, weights, None
        encoded, labels, weights = self._tensors(run, data, with_labels=True)
        return batcher, encoded, labels, weights, rows

    def _forward_fn(self, run: _Run, mode: str) -> Any:
        kwargs = {"mode": mode} if run.takes_mode else {}
        names = run.input_names

        def forward(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            out = (run.forward_module(*[batch[n] for n in names], **kwargs) if names is not None
                   else run.forward_module(batch, **kwargs))
            return out.unsqueeze(1) if out.dim() == 1 else out

        return forward

    def _logits(self, run: _Run, encoded: dict, batch_size: int, steps: int | None,
                mode: str) -> tuple[torch.Tensor, int, int]:
        n_rows = len(next(iter(encoded.values())))
        forward = self._forward_fn(run, mode)
        autocast = self._config.autocast_dtype
        parts = []
        run.module.eval()
        try:
            with torch.no_grad():
                for i, rows in enumerate(iter_batches(n_rows, batch_size)):
                    if steps is not None and i >= steps:
                        break
                    with torch.autocast(run.device.type, dtype=autocast, enabled=autocast is not None):
                        parts.append(forward({k: v[rows] for k, v in encoded.items()}).float().cpu())
        finally:
            run.module.train()
        logits = torch.cat(parts) if parts else torch.zeros(0, 1)
        return logits, len(logits), len(parts)

    def _predict_iter(self, run: _Run, data: Any, keys: Sequence[str] | None,
                      single: bool) -> Iterator[dict[str, Any]]:
        for part in _one_pass(data):
            encoded, _, _ = self._tensors(run, part, with_labels=False)
            yield from self._predict_part(run, encoded, data.batch_size, keys, single)

    def _predict_part(self, run: _Run, encoded: dict, batch_size: int, keys: Sequence[str] | None,
                      single: bool) -> Iterator[dict[str, Any]]:
        n_rows = len(next(iter(encoded.values())))
        forward = self._forward_fn(run, ModeKeys.PREDICT)
        for rows in iter_batches(n_rows, batch_size):
            run.module.eval()
            try:
                with torch.no_grad():
                    predictions = run.head.predictions(forward({k: v[rows] for k, v in encoded.items()}).float())
            finally:
                run.module.train()
            if keys is not None:
                unknown = [k for k in keys if k not in predictions]
                if unknown:
                    raise ValueError(f"predict_keys: {unknown} are not predictions of this model; "
                                     f"valid keys are {sorted(predictions)}")
                predictions = {k: predictions[k] for k in keys}
            arrays = {k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                      for k, v in predictions.items()}
            if not single:
                yield arrays
                continue
            for i in range(rows.stop - rows.start):
                yield {k: v[i] for k, v in arrays.items()}
