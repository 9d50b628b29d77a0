"""TF's custom-estimator contract: ``model_fn(features, labels, mode, params, config) -> EstimatorSpec``.

``Estimator(model_fn=fn)`` runs ``fn`` this way when its signature has a ``features`` parameter (TF's rule);
``labels``, ``mode``, ``params`` and ``config`` are passed when ``fn`` names them. Otherwise ``fn`` is
estlab's builder, ``model_fn(params) -> ModelSpec`` (``estlab.estimators.custom``).

How TF's graph-building contract maps onto eager PyTorch:

* ``fn`` is the forward pass: estlab calls it on every batch (TRAIN), on every evaluation batch (EVAL) and
  on every prediction batch and in the exported program (PREDICT). ``features`` is a dict of tensors:
  the encoded features when ``params`` holds feature columns (any value of ``params`` that is a feature
  column or a list of them; the estimator fits them on the training input), else the raw numeric inputs.
  ``labels`` are tensors (None in PREDICT).
* Layers are created on the first call and kept: build them with ``estlab.estimators.layers``
  (``dense``, ``input_layer``, ``dropout``, ``layer(factory)`` for any ``nn.Module``, ``get_variable``), TF's
  ``tf.compat.v1.layers`` idiom. They live in one :class:`ModelFnModule` that the estimator checkpoints.
* Before the optimizers are built, estlab calls ``fn`` once in TRAIN mode on the first two training rows
  (no gradient, layers in eval mode): this creates the layers, materialises lazy modules and yields the
  ``train_op``. Those two encoded rows are kept in the module (``_model_fn_example.*``) so a checkpoint can
  be rebuilt in a new process without data.
* ``train_op`` of that first call is kept: a ``torch.optim.Optimizer`` (estlab zeroes the gradients, calls
  ``loss.backward()`` and steps it; its state is checkpointed), an optimizer name (``"Adagrad"``) or class
  (built over all the model's parameters), or a callable ``train_op()`` run after the backward pass of
  every step (a hand-written update). ``train_op``\\ s returned by later calls are not used.
* ``eval_metric_ops`` are computed over the whole evaluation input: an
  ``estlab.estimators.metrics`` op (TF's ``tf.compat.v1.metrics.accuracy(labels, predictions)`` etc., or
  ``MetricOp(metric, labels, predictions)`` around a torchmetrics-like object or a callable), a
  torchmetrics-like object (``update(predictions, labels)`` per batch; ``predictions`` must be one tensor),
  or a callable ``fn(labels, predictions) -> float`` on the concatenated numpy arrays. ``loss`` is the
  row-weighted mean of the per-batch losses.
* ``export_outputs``: the prediction keys an export serves (a key, a list of keys, or a dict whose values
  are keys, lists of keys or objects with an ``outputs`` mapping); default: every tensor prediction.
  ``predict()`` always yields all predictions.

Examples
--------
>>> import torch
>>> def model_fn(features, labels, mode, params):
...     logits = layers.dense(features["x"], units=1)
...     if mode == ModeKeys.PREDICT:
...         return EstimatorSpec(mode, predictions={"y": logits})
...     loss = torch.nn.functional.mse_loss(logits, labels)
...     return EstimatorSpec(mode, loss=loss, train_op=torch.optim.SGD(layers.trainable_variables(), lr=0.1))
>>> is_tf_model_fn(model_fn)
True
"""

from __future__ import annotations

import contextlib
import inspect
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from estlab._util import warn_ignored_arguments
from estlab.estimators import layers
from estlab.estimators import metrics as _metrics
from estlab.estimators.custom import ModeKeys, numeric_label_tensor

#: the arguments TF passes to a model_fn, by name
MODEL_FN_ARGS = ("features", "labels", "mode", "params", "config")
#: rows of the first training batch kept in the module to rebuild it from a checkpoint
EXAMPLE_ROWS = 2
_MODES = (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT)


def is_tf_model_fn(model_fn: Any) -> bool:
    """Whether ``model_fn`` has TF's signature (a ``features`` parameter).

    Examples
    --------
    >>> is_tf_model_fn(lambda features, labels, mode: None), is_tf_model_fn(lambda params: None)
    (True, False)
    """
    try:
        return "features" in inspect.signature(model_fn).parameters
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class EstimatorSpec:
    """What a TF-style ``model_fn`` returns (TF's ``tf.estimator.EstimatorSpec``, same arguments and order).

    Parameters
    ----------
    mode : str
        ``ModeKeys.TRAIN``, ``EVAL`` or ``PREDICT``.
    predictions : tensor or dict of tensors, optional
        Required in PREDICT.
    loss : scalar tensor, optional
        Required in TRAIN and EVAL.
    train_op : optimizer, optimizer name or class, or callable, optional
        Required in TRAIN (see the module docstring: the first call's is kept).
    eval_metric_ops : dict, optional
        Metric name → metric op, torchmetrics-like object or callable, computed over the whole input.
    export_outputs : str, list or dict, optional
        Prediction keys an export serves, or TF's ``{signature name: PredictOutput / ClassificationOutput /
        RegressionOutput}`` (``estlab.export.outputs``): one signature each, under TF's output names.
    training_chief_hooks, training_hooks, scaffold, evaluation_hooks, prediction_hooks
        Accepted for TF's argument order and ignored with a warning (pass listeners to ``train(hooks=...)``).

    Examples
    --------
    >>> spec = EstimatorSpec(ModeKeys.PREDICT, predictions={"p": torch.zeros(2, 1)})
    >>> sorted(spec.predictions)
    ['p']
    """

    mode: str
    predictions: Any = None
    loss: Any = None
    train_op: Any = None
    eval_metric_ops: Mapping[str, Any] | None = None
    export_outputs: Any = None
    training_chief_hooks: Any = None
    training_hooks: Any = None
    scaffold: Any = None
    evaluation_hooks: Any = None
    prediction_hooks: Any = None

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(f"EstimatorSpec: mode={self.mode!r}; use ModeKeys.TRAIN, EVAL or PREDICT {_MODES}")
        warn_ignored_arguments("EstimatorSpec", {
            "training_chief_hooks": self.training_chief_hooks or None, "training_hooks": self.training_hooks or None,
            "scaffold": self.scaffold, "evaluation_hooks": self.evaluation_hooks or None,
            "prediction_hooks": self.prediction_hooks or None,
        }, why="pass listeners to train/evaluate(hooks=...)")
        if self.loss is not None and (not isinstance(self.loss, torch.Tensor) or self.loss.numel() != 1):
            raise TypeError(f"EstimatorSpec: loss must be a scalar tensor, got {_describe(self.loss)}")
        if self.mode == ModeKeys.PREDICT and self.predictions is None:
            raise ValueError("EstimatorSpec: predictions are required in PREDICT mode")
        if self.mode in (ModeKeys.TRAIN, ModeKeys.EVAL) and self.loss is None:
            raise ValueError(f"EstimatorSpec: loss is required in {self.mode!r} mode")
        if self.mode == ModeKeys.TRAIN and self.train_op is None:
            raise ValueError("EstimatorSpec: train_op is required in TRAIN mode: an optimizer over "
                             "estlab.estimators.layers.trainable_variables(), an optimizer name, or a callable")


def _describe(value: Any) -> str:
    return f"tensor of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__


def _rows(features: Mapping[str, torch.Tensor]) -> int:
    for value in features.values():
        return int(value.shape[0])
    return 0


def _device(features: Mapping[str, torch.Tensor]) -> torch.device:
    for value in features.values():
        return value.device
    return torch.device("cpu")


class _Pending(threading.local):
    """Batches a ``ModelFnModule`` received, waiting for the head to run the model_fn on them with labels.

    The training loop and inference call ``forward(batch)`` then ``head.loss/predictions/metrics``: the
    forward records the batch (TRAIN/PREDICT: the last one; EVAL: one entry per batch, found again through
    the batch id it returns as its output) and the head makes the model_fn call.
    """

    def __init__(self) -> None:
        self.last: tuple[ModelFnModule, dict[str, torch.Tensor]] | None = None
        self.eval: dict[int, tuple[ModelFnModule, dict[str, torch.Tensor]]] = {}
        self.next_id = 0

    def take_last(self) -> tuple[ModelFnModule, dict[str, torch.Tensor]]:
        if self.last is None:
            raise RuntimeError("model_fn: the head was asked for a loss or predictions before the module saw a batch")
        entry, self.last = self.last, None
        return entry

    def add_eval(self, module: ModelFnModule, features: dict[str, torch.Tensor]) -> int:
        if not self.eval:
            self.next_id = 0
        batch_id, self.next_id = self.next_id, self.next_id + 1
        self.eval[batch_id] = (module, features)
        return batch_id


_PENDING = _Pending()


class _Example(nn.Module):
    """The first training rows (encoded features and labels) as buffers, so a checkpoint rebuilds the layers."""

    def set(self, features: Mapping[str, torch.Tensor], labels: torch.Tensor | None) -> None:
        keys = list(features)
        self.register_buffer("keys", torch.tensor(list(json.dumps(keys).encode()), dtype=torch.uint8))
        for i, key in enumerate(keys):
            self.register_buffer(f"f{i}", features[key][:EXAMPLE_ROWS].detach().clone())
        if labels is not None:
            self.register_buffer("labels", labels[:EXAMPLE_ROWS].detach().clone())

    def adopt(self, state_dict: Mapping[str, torch.Tensor], prefix: str) -> None:
        """Create the buffers from a checkpoint's ``state_dict`` (their names and shapes are not known before)."""
        for key, value in state_dict.items():
            if key.startswith(prefix) and "." not in key[len(prefix):]:
                self.register_buffer(key[len(prefix):], value.detach().clone())

    def get(self) -> tuple[dict[str, torch.Tensor], torch.Tensor | None] | None:
        keys_buffer = getattr(self, "keys", None)
        if not isinstance(keys_buffer, torch.Tensor):
            return None
        keys = json.loads(bytes(keys_buffer.cpu().tolist()).decode())
        labels = getattr(self, "labels", None)
        return {key: getattr(self, f"f{i}") for i, key in enumerate(keys)}, labels

    def forward(self, *args: Any) -> Any:  # pragma: no cover - a container, never called
        raise TypeError("_Example holds buffers; it is not called")


class _TrainStep(torch.optim.Optimizer):
    """A callable ``train_op()`` as an optimizer: run after the backward pass of each step, inside the store."""

    def __init__(self, params: Any, step_fn: Callable[[], Any], module: ModelFnModule) -> None:
        super().__init__(params, {"lr": 0.0})
        self._step_fn = step_fn
        self._module = module

    def step(self, closure: Any = None) -> Any:
        with self._module.store.active():
            self._step_fn()
        return None


class ModelFnModule(nn.Module):
    """The module of a TF-style ``model_fn`` estimator: the layers ``fn`` created, and ``fn`` itself.

    ``forward(features, mode)`` records the batch and returns a placeholder ``(N, 1)``; :class:`ModelFnHead`
    then calls ``fn`` with the labels (see :class:`_Pending`). :meth:`call` runs ``fn`` directly.

    Examples
    --------
    >>> def fn(features, mode):
    ...     return EstimatorSpec(mode, predictions={"y": layers.dense(features["x"], 2)})
    >>> module = ModelFnModule(fn, {}, None)
    >>> tuple(module.call({"x": torch.ones(3, 4)}, None, ModeKeys.PREDICT).predictions["y"].shape)
    (3, 2)
    """

    def __init__(self, model_fn: Callable[..., Any], params: Mapping[str, Any], config: Any,
                 transformer: Any = None) -> None:
        super().__init__()
        names = inspect.signature(model_fn).parameters
        unknown = [n for n, p in names.items() if n not in MODEL_FN_ARGS and p.default is inspect.Parameter.empty
                   and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
        if unknown:
            raise TypeError(f"model_fn has argument(s) {unknown}; TF's model_fn takes only {list(MODEL_FN_ARGS)}")
        self.store = layers.LayerStore(transformer)
        self._model_fn_example = _Example()
        self._model_fn = model_fn
        self._arg_names = [n for n in MODEL_FN_ARGS if n in names]
        self._params = dict(params)
        self._config = config
        self._origin = id(self)
        self._train_op: Any = None
        #: an export copy's signatures from TF's export_outputs (set by ModelFnHead, read by the export writer)
        self.export_signatures: dict[str, Any] | None = None

    @property
    def serving_copy(self) -> bool:
        """Whether this is a copy of the estimator's module (an export copies the module before tracing it)."""
        return self._origin != id(self)

    def call(self, features: dict[str, torch.Tensor], labels: Any, mode: str) -> EstimatorSpec:
        """Run ``model_fn`` in ``mode`` with this module's layers; returns its checked ``EstimatorSpec``."""
        values = {"features": features, "labels": labels, "mode": mode, "params": self._params,
                  "config": self._config}
        with self.store.active():
            spec = self._model_fn(**{name: values[name] for name in self._arg_names})
        if not isinstance(spec, EstimatorSpec):
            raise TypeError(f"model_fn must return an EstimatorSpec in {mode!r} mode, got {type(spec).__name__}")
        return spec

    def forward(self, features: dict[str, torch.Tensor], mode: str = ModeKeys.PREDICT) -> torch.Tensor:
        first = next(iter(features.values()))  # its batch size stays symbolic in an export
        if mode == ModeKeys.EVAL:
            return torch.full((first.shape[0], 1), float(_PENDING.add_eval(self, features)), device=first.device)
        _PENDING.last = (self, features)
        return torch.zeros(first.shape[0], 1, device=first.device)

    # ------------------------------------------------------------------ building
    def example(self) -> tuple[dict[str, torch.Tensor], torch.Tensor | None] | None:
        """The kept first training rows, or None before the first build."""
        return self._model_fn_example.get()

    def adopt_example(self, state_dict: Mapping[str, torch.Tensor]) -> None:
        """Take the first training rows from a checkpoint's model state."""
        self._model_fn_example.adopt(state_dict, "_model_fn_example.")

    def materialise(self, features: dict[str, torch.Tensor], labels: torch.Tensor | None) -> None:
        """Call ``model_fn`` once in TRAIN mode (no gradient, eval mode): creates the layers, keeps ``train_op``."""
        if self.example() is None:
            self._model_fn_example.set(features, labels)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                spec = self.call(features, labels, ModeKeys.TRAIN)
        finally:
            self.train(was_training)
        self._train_op = spec.train_op

    def build_optimizers(self) -> list[torch.optim.Optimizer]:
        """The optimizer(s) of the ``train_op`` the build call returned."""
        from estlab.estimators.optimizers import has_sparse_gradients, resolve_optimizer

        train_op, self._train_op = self._train_op, None
        params = [p for p in self.parameters() if p.requires_grad]
        if train_op is None:
            raise RuntimeError("model_fn: no train_op yet; the model is built by a first TRAIN call")
        if isinstance(train_op, torch.optim.Optimizer):
            return [train_op]
        if isinstance(train_op, str):
            return [resolve_optimizer(train_op, self._params.get("learning_rate"),
                                      fused=not has_sparse_gradients(self))(params)]
        if isinstance(train_op, type) and issubclass(train_op, torch.optim.Optimizer):
            # its own default learning rate; a subclass fills the base class's ``defaults`` argument itself
            factory = cast(Callable[..., torch.optim.Optimizer], train_op)
            return [factory(params)]
        if callable(train_op):
            return [_TrainStep(params, train_op, self)]
        raise TypeError(f"EstimatorSpec.train_op must be a torch optimizer, an optimizer name or class, or a "
                        f"callable train step; got {type(train_op).__name__}")


@contextlib.contextmanager
def _evaluating(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


def _as_dict(predictions: Any) -> dict[str, Any]:
    return dict(predictions) if isinstance(predictions, Mapping) else {"predictions": predictions}


def export_keys(export_outputs: Any, predictions: Mapping[str, Any]) -> list[str]:
    """The prediction keys an export serves: ``export_outputs``' keys, or every tensor prediction.

    Examples
    --------
    >>> export_keys(["a"], {"a": torch.zeros(1), "b": torch.zeros(1)})
    ['a']
    >>> export_keys(None, {"a": torch.zeros(1), "names": np.array(["x"])})
    ['a']
    """
    if export_outputs is None:
        return [k for k, v in predictions.items() if isinstance(v, torch.Tensor)]
    found: list[str] = []

    def add(entry: Any) -> None:
        if isinstance(entry, str):
            found.append(entry)
        elif isinstance(getattr(entry, "outputs", None), Mapping):
            found.extend(str(k) for k in entry.outputs)
        elif isinstance(entry, Sequence):
            for item in entry:
                add(item)
        else:
            raise TypeError(f"export_outputs: {entry!r} is not a prediction key, a list of keys, or an output "
                            "with an 'outputs' mapping")

    add(list(export_outputs.values()) if isinstance(export_outputs, Mapping) else export_outputs)
    unknown = [k for k in found if k not in predictions]
    if unknown:
        raise ValueError(f"export_outputs: {unknown} are not predictions; predictions are {sorted(predictions)}")
    return list(dict.fromkeys(found))


class _MetricCollector:
    """One ``eval_metric_ops`` entry over the evaluation batches."""

    def __init__(self, name: str, op: Any) -> None:
        self.name = name
        self.ops: list[_metrics.MetricOp] = []
        self.stateful = op if _metrics.is_stateful_metric(op) else None
        self.pairs: list[tuple[np.ndarray, Any]] = []
        self.fn: Callable[..., Any]  # a plain metric callable, set by add()
        if self.stateful is not None:
            self.stateful.reset()

    def add(self, op: Any, labels: Any, predictions: Any) -> None:
        if isinstance(op, _metrics.MetricOp):
            self.ops.append(op)
            return
        if predictions is None:
            raise ValueError(f"eval_metric_ops[{self.name!r}]: a bare metric is applied to the spec's predictions, "
                             "but EVAL mode returned none; return predictions= in EVAL, or give "
                             f"estlab.estimators.metrics.MetricOp(metric, labels, predictions)")
        if self.stateful is not None:
            if not isinstance(predictions, torch.Tensor):
                raise TypeError(f"eval_metric_ops[{self.name!r}]: a torchmetrics-like metric needs predictions "
                                "to be one tensor; wrap it: MetricOp(metric, labels, predictions['key'])")
            self.stateful.update(predictions, labels)
            return
        if not callable(op):
            raise TypeError(f"eval_metric_ops[{self.name!r}] is a {type(op).__name__}; give a metric op "
                            "(estlab.estimators.metrics.accuracy(...)), a torchmetrics-like object or a callable")
        self.pairs.append((_metrics.as_numpy(labels), predictions))
        self.fn = op

    def result(self) -> float:
        if self.ops:
            return _metrics.compute_metric_ops(self.ops)
        if self.stateful is not None:
            return float(_metrics.as_numpy(self.stateful.compute()))
        labels = np.concatenate([y for y, _ in self.pairs])
        first = self.pairs[0][1]
        if isinstance(first, Mapping):
            predictions: Any = {k: np.concatenate([_metrics.as_numpy(p[k]) for _, p in self.pairs]) for k in first}
        else:
            predictions = np.concatenate([_metrics.as_numpy(p) for _, p in self.pairs])
        return float(self.fn(labels, predictions))


class ModelFnHead:
    """The head of a TF-style ``model_fn`` estimator: it calls ``model_fn`` with the labels.

    Loss (TRAIN), predictions (PREDICT, export) and metrics (EVAL) come from the ``EstimatorSpec`` of the
    batch the :class:`ModelFnModule` recorded. Labels are numeric tensors (float32 or int64).

    Examples
    --------
    >>> ModelFnHead().encode_labels(np.array([0, 2])).dtype
    torch.int64
    """

    task = "custom"
    logits_dimension = None
    loss_reduction = "sum_over_batch_size"
    weight_column = None
    metric_info = None

    def __init__(self, name: str = "model_fn") -> None:
        self.name = name

    def encode_labels(self, labels: Any) -> torch.Tensor:
        """Numeric labels → tensor (floats as float32, integers as int64); one column stays 1-D."""
        return numeric_label_tensor(labels, "a model_fn gets numeric label tensors: encode string labels to "
                                            "ids first (e.g. pandas.Categorical(labels).codes)")

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """``model_fn(features, labels, TRAIN).loss`` for the batch the module just received."""
        module, features = _PENDING.take_last()
        return module.call(features, labels, ModeKeys.TRAIN).loss

    def predictions(self, logits: torch.Tensor) -> dict[str, Any]:
        """``model_fn(features, None, PREDICT).predictions`` (a tensor becomes ``{"predictions": tensor}``).

        In an export (the module is a copy), only the ``export_outputs`` keys.
        """
        module, features = _PENDING.take_last()
        spec = module.call(features, None, ModeKeys.PREDICT)
        predictions = _as_dict(spec.predictions)
        if module.serving_copy:
            from estlab.export.outputs import serving_outputs, uses_export_outputs

            if uses_export_outputs(spec.export_outputs):  # TF's PredictOutput, ClassificationOutput...
                predictions, layout = serving_outputs(spec.export_outputs, predictions)
                if getattr(module, "export_signatures", None) != layout:
                    module.export_signatures = layout
            else:
                predictions = {k: predictions[k] for k in export_keys(spec.export_outputs, predictions)}
        return predictions

    def metrics(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None,
                loss_sum: float | None = None, weight_sum: float | None = None, num_batches: int | None = None,
                metric_fns: Sequence[Callable[..., Mapping[str, Any]]] = ()) -> dict[str, float]:
        """``loss`` (row-weighted mean of batch losses) and every ``eval_metric_ops`` entry, over the whole input.

        ``metric_fns`` (from :func:`estlab.estimators.add_metrics.add_metrics`) get the whole input's labels
        and predictions.
        """
        from estlab.training import distributed

        if distributed.get_world_size() > 1:
            raise NotImplementedError("evaluating a TF-style model_fn under torchrun is not supported; evaluate "
                                      "in one process (the chief) instead")
        batch_ids = list(dict.fromkeys(int(i) for i in logits[:, 0].tolist()))
        offset, loss_total = 0, 0.0
        collectors: dict[str, _MetricCollector] = {}
        all_predictions: list[dict[str, Any]] = []
        for batch_id in batch_ids:
            module, features = _PENDING.eval.pop(batch_id)
            n = _rows(features)
            y = labels[offset:offset + n].to(_device(features))
            offset += n
            with _evaluating(module):
                spec = module.call(features, y, ModeKeys.EVAL)
                predictions = spec.predictions
                if metric_fns and predictions is None:
                    predictions = module.call(features, None, ModeKeys.PREDICT).predictions
            loss_total += float(spec.loss) * n
            for name, op in (spec.eval_metric_ops or {}).items():
                collectors.setdefault(name, _MetricCollector(name, op)).add(op, y, predictions)
            if metric_fns:
                all_predictions.append(_as_dict(predictions))
        stale = [i for i in _PENDING.eval if batch_ids and i < batch_ids[0]]
        for i in stale:  # batches of an evaluation that failed earlier
            del _PENDING.eval[i]
        result = {"loss": loss_total / max(offset, 1)}
        result.update({name: c.result() for name, c in collectors.items()})
        if metric_fns:
            whole = {k: _concat([p[k] for p in all_predictions]) for k in all_predictions[0]}
            for fn in metric_fns:
                result.update(call_metric_fn(fn, labels, whole))
        return result

    def to_dict(self) -> dict[str, Any]:
        """Description stored in checkpoints (exports treat it as a custom head)."""
        return {"type": "CustomHead", "model_fn": self.name}


def _concat(parts: list[Any]) -> Any:
    if all(isinstance(p, torch.Tensor) for p in parts):
        return torch.cat([p.detach().cpu() for p in parts])
    return np.concatenate([_metrics.as_numpy(p) for p in parts])


def call_metric_fn(metric_fn: Callable[..., Mapping[str, Any]], labels: Any, predictions: Any,
                   config: Any = None) -> dict[str, float]:
    """Call TF's ``metric_fn(labels, predictions[, config])`` (bound by name) and compute what it returns.

    Values may be metric ops (``estlab.estimators.metrics.accuracy(...)``), numbers or scalar tensors.

    Examples
    --------
    >>> fn = lambda labels, predictions: {"mae": _metrics.mean_absolute_error(labels, predictions["p"])}
    >>> call_metric_fn(fn, np.array([1.0, 2.0]), {"p": np.array([2.0, 2.0])})
    {'mae': 0.5}
    """
    names = inspect.signature(metric_fn).parameters
    if "features" in names:
        raise TypeError("add_metrics: metric_fn(features=...) is not supported by estlab; compute the metric from "
                        "labels and predictions (add the feature to the predictions in model_fn)")
    values = {"labels": labels, "predictions": predictions, "config": config}
    out = metric_fn(**{k: v for k, v in values.items() if k in names})
    if not isinstance(out, Mapping):
        raise TypeError(f"metric_fn must return a dict of metrics, got {type(out).__name__}")
    result: dict[str, float] = {}
    for name, value in out.items():
        if isinstance(value, _metrics.MetricOp):
            result[str(name)] = value.compute()
        elif isinstance(value, tuple) and value and isinstance(value[0], _metrics.MetricOp):
            result[str(name)] = value[0].compute()
        else:
            result[str(name)] = float(_metrics.as_numpy(value))
    return result


def columns_in_params(params: Mapping[str, Any]) -> list:
    """The feature columns among ``params``' values (a column, or a list of them), in order, once each.

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> [c.name for c in columns_in_params({"feature_columns": [numeric_column("a")], "n_classes": 3})]
    ['a']
    """
    from estlab.features._base import FeatureColumn

    found: list = []
    for value in params.values():
        candidates = getattr(value, "feature_columns", value)  # an InferredColumns holds them
        if isinstance(candidates, FeatureColumn):
            candidates = [candidates]
        if isinstance(candidates, (list, tuple)) and candidates and all(
                isinstance(c, FeatureColumn) for c in candidates):
            found.extend(c for c in candidates if c not in found)
    return found


__all__ = ["EstimatorSpec", "ModeKeys", "ModelFnHead", "ModelFnModule", "call_metric_fn", "columns_in_params",
           "export_keys", "is_tf_model_fn", "layers"]
