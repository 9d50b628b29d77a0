"""Custom estimators: a PyTorch-native ``model_fn`` (``ModelSpec``, ``CustomHead``, the ``ModelFnHooks`` build hooks).

``model_to_estimator`` lives in ``estlab.estimators.from_module``.

TF's ``model_fn(features, labels, mode, params)`` rebuilt a graph on every call. In PyTorch the
model is an ``nn.Module`` built once and kept, so estlab's ``model_fn`` is a *builder*:

``model_fn(params) -> ModelSpec``
    called once per model build (first ``train``, or when a checkpoint is loaded). The spec gives the
    module, how to turn its logits into a loss/predictions/metrics (a head from
    ``estlab.estimators.heads``, or ``loss_fn`` + ``metric_fns`` + ``predictions_fn``), the optimizer,
    and the inputs: ``feature_columns`` (the module gets the encoded dict, as premade models do) or
    ``input_names`` (the module's ``forward`` takes those raw tensors as positional arguments).

The mode is passed where it matters: a module whose ``forward`` has a ``mode`` parameter receives
``ModeKeys.TRAIN``, ``ModeKeys.EVAL`` or ``ModeKeys.PREDICT``; ``module.training`` is also set as usual.

Examples
--------
>>> import torch
>>> from estlab.estimators.heads import make_head
>>> def model_fn(params):
...     net = torch.nn.Sequential(torch.nn.Linear(2, params["units"]), torch.nn.ReLU(), torch.nn.Linear(params["units"], 1))
...     return ModelSpec(module=net, head=make_head(2), input_names=("x",), learning_rate=0.01)
>>> build_model_spec(model_fn, {"units": 4}).input_names
('x',)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch


class ModeKeys:
    """The three modes, with TF's string values.

    Examples
    --------
    >>> ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT
    ('train', 'eval', 'infer')
    """

    TRAIN = "train"
    EVAL = "eval"
    PREDICT = "infer"


@dataclass(frozen=True)
class ModelSpec:
    """What a ``model_fn`` returns: the module and how to train, evaluate and predict with it.

    Parameters
    ----------
    module : nn.Module
        ``module(encoded_dict)`` (with ``feature_columns``), ``module(dict_of_raw_tensors)`` (neither), or
        ``module(*tensors)`` in ``input_names`` order; returns logits ``(N, k)``.
    head : Head, optional
        A head from ``estlab.estimators.heads`` (loss, TF predictions and metrics). If ``None``,
        ``loss_fn`` is required.
    loss_fn : callable, optional
        ``loss_fn(logits, labels)`` or ``loss_fn(logits, labels, weights)`` → scalar tensor.
    metric_fns : mapping, optional
        name → ``fn(labels: ndarray, logits: ndarray) -> float``, computed over the whole evaluation input.
    predictions_fn : callable, optional
        ``logits -> dict`` of predictions (default ``{"predictions": logits}``).
    feature_columns : sequence, optional
        Feature columns read through a fitted ``FeatureTransformer``.
    input_names : sequence of str, optional
        Raw feature keys passed to ``forward`` positionally (no feature columns).
    optimizer : str or callable
        Optimizer name (``"Adam"``, ``"Adagrad"``, ...) or factory ``params -> Optimizer``.
    learning_rate : float, optional
        Learning rate for a named optimizer (its default when ``None``).
    weight_column : str, optional
        Example-weight column for a ``loss_fn`` that takes weights.

    Examples
    --------
    >>> spec = ModelSpec(module=torch.nn.Linear(3, 1), loss_fn=torch.nn.functional.mse_loss, input_names=("x",))
    >>> spec.optimizer
    'Adam'
    """

    module: torch.nn.Module
    head: Any = None
    loss_fn: Callable[..., torch.Tensor] | None = None
    metric_fns: Mapping[str, Callable[[np.ndarray, np.ndarray], float]] = field(default_factory=dict)
    predictions_fn: Callable[[torch.Tensor], dict[str, Any]] | None = None
    feature_columns: Sequence[Any] = ()
    input_names: Sequence[str] | None = None
    optimizer: Any = "Adam"
    learning_rate: float | None = None
    weight_column: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.module, torch.nn.Module):
            raise TypeError(f"ModelSpec: module must be a torch.nn.Module, got {type(self.module).__name__}")
        if self.head is None and self.loss_fn is None:
            raise ValueError("ModelSpec: give head= (e.g. estlab.estimators.heads.make_head(n_classes=2)) "
                             "or loss_fn=callable(logits, labels) -> scalar tensor")
        if self.head is not None and self.loss_fn is not None:
            raise ValueError("ModelSpec: head= and loss_fn= were both given; the head already defines the loss, "
                             "pass only one")
        if self.feature_columns and self.input_names is not None:
            raise ValueError("ModelSpec: feature_columns= and input_names= were both given; a module reads either "
                             "encoded feature columns or raw tensors")
        if self.input_names is not None:
            object.__setattr__(self, "input_names", tuple(self.input_names))
        object.__setattr__(self, "feature_columns", tuple(self.feature_columns))


def build_model_spec(model_fn: Callable[..., ModelSpec], params: dict[str, Any]) -> ModelSpec:
    """Call ``model_fn(params)`` (or ``model_fn()`` when it takes no argument) and check the result.

    Examples
    --------
    >>> build_model_spec(lambda params: ModelSpec(torch.nn.Linear(1, 1), loss_fn=torch.nn.functional.mse_loss),
    ...                  {}).learning_rate is None
    True
    """
    try:
        names = list(inspect.signature(model_fn).parameters)
    except (TypeError, ValueError):
        names = ["params"]
    if {"features", "labels"} <= set(names):
        raise TypeError(
            "build_model_spec: takes a builder model_fn(params) -> ModelSpec(module=..., head=...), called once; "
            "a TF-style model_fn(features, labels, mode, params) returning an EstimatorSpec is run by "
            "Estimator(model_fn=...) itself (see estlab.estimators.tf_model_fn)"
        )
    spec = model_fn(params) if names else model_fn()
    if isinstance(spec, torch.nn.Module):
        raise TypeError("model_fn returned a bare nn.Module; return ModelSpec(module=that_module, head=...) so the "
                        "estimator knows the loss and metrics")
    if not isinstance(spec, ModelSpec):
        raise TypeError(f"model_fn must return a ModelSpec, got {type(spec).__name__}")
    return spec


def _as_array(labels: Any) -> np.ndarray:
    if isinstance(labels, pd.Series | pd.DataFrame):
        return labels.to_numpy()
    if isinstance(labels, Mapping):
        return np.column_stack([np.asarray(v) for v in labels.values()])
    return np.asarray(labels)


def numeric_label_tensor(labels: Any, fix: str) -> torch.Tensor:
    """Numeric labels as a tensor (floats as float32, integers as int64); other dtypes raise with ``fix``.

    Examples
    --------
    >>> numeric_label_tensor([1, 0], "encode them").dtype
    torch.int64
    """
    values = _as_array(labels)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"labels have dtype {values.dtype}; {fix}")
    tensor = torch.from_numpy(np.array(values, copy=True))
    return tensor.float() if values.dtype.kind in "fb" else tensor.long()


class CustomHead:
    """Head-like adapter around a custom ``loss_fn`` / ``metric_fns`` / ``predictions_fn``.

    Evaluation metrics: ``loss`` and ``average_loss`` (``loss_fn`` over the whole input at once),
    then each ``metric_fns`` entry called as ``fn(labels, logits)`` on numpy arrays.

    Examples
    --------
    >>> head = CustomHead(loss_fn=torch.nn.functional.mse_loss)
    >>> head.metrics(torch.tensor([[1.0], [3.0]]), torch.tensor([[1.0], [1.0]]))["loss"]
    2.0
    """

    task = "custom"
    logits_dimension = None
    loss_reduction = "sum_over_batch_size"

    def __init__(self, loss_fn: Callable[..., torch.Tensor], metric_fns: Mapping[str, Callable] | None = None,
                 predictions_fn: Callable | None = None, weight_column: str | None = None) -> None:
        self.loss_fn = loss_fn
        self.metric_fns = dict(metric_fns or {})
        self.predictions_fn = predictions_fn
        self.weight_column = weight_column
        try:
            self._takes_weights = len(inspect.signature(loss_fn).parameters) >= 3
        except (TypeError, ValueError):
            self._takes_weights = False

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> CustomHead:
        """The adapter for a ``ModelSpec`` without a head."""
        assert spec.loss_fn is not None, "a ModelSpec without a head has a loss_fn (checked in __post_init__)"
        return cls(spec.loss_fn, spec.metric_fns, spec.predictions_fn, spec.weight_column)

    def encode_labels(self, labels: Any) -> torch.Tensor:
        """Numeric labels → tensor (floats as float32, integers as int64)."""
        return numeric_label_tensor(labels, "a custom loss_fn takes numeric labels: encode them, or use a head "
                                            "with label_vocabulary (estlab.estimators.heads.make_head)")

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """``loss_fn`` on a batch (weights passed when it takes them)."""
        if weights is not None and self._takes_weights:
            return self.loss_fn(logits, labels, weights)
        if weights is not None:
            raise ValueError(f"weight_column={self.weight_column!r} needs loss_fn(logits, labels, weights); "
                             "the given loss_fn takes two arguments")
        return self.loss_fn(logits, labels)

    def predictions(self, logits: torch.Tensor) -> dict[str, Any]:
        """``predictions_fn(logits)``, or ``{"predictions": logits}``."""
        return self.predictions_fn(logits) if self.predictions_fn is not None else {"predictions": logits}

    def metrics(self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None,
                loss_sum: float | None = None, weight_sum: float | None = None,
                num_batches: int | None = None) -> dict[str, float]:
        """Loss over the whole input plus ``metric_fns``."""
        with torch.no_grad():
            loss = float(self.loss(logits, labels, weights))
        out = {"loss": loss, "average_loss": loss}
        y, z = labels.detach().cpu().numpy(), logits.detach().cpu().numpy()
        out.update({name: float(fn(y, z)) for name, fn in self.metric_fns.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        """Description stored in checkpoints (functions by name; not rebuildable)."""
        return {"type": "CustomHead", "loss_fn": getattr(self.loss_fn, "__name__", repr(self.loss_fn)),
                "metric_fns": sorted(self.metric_fns), "weight_column": self.weight_column}


def forward_input_names(module: torch.nn.Module) -> tuple[str, ...]:
    """Names of ``module.forward``'s tensor arguments (``mode`` and ``*args``/``**kwargs`` excluded).

    Examples
    --------
    >>> class Net(torch.nn.Module):
    ...     def forward(self, input_1, mode=None):
    ...         return input_1
    >>> forward_input_names(Net())
    ('input_1',)
    """
    parameters = inspect.signature(module.forward).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = tuple(p.name for p in parameters if p.kind in kinds and p.name != "mode")
    if not names:
        raise ValueError(f"model_to_estimator: {type(module).__name__}.forward has no named tensor arguments; "
                         "pass input_names=[...] explicitly")
    return names


class ModelFnHooks:
    """The build hooks of an estimator defined by a ``model_fn`` (``Estimator``'s defaults).

    Two contracts, told apart by the signature: TF's ``model_fn(features, labels, mode, params, config)``
    returning an ``EstimatorSpec`` (a ``features`` parameter; ``estlab.estimators.tf_model_fn``), or estlab's
    builder ``model_fn(params) -> ModelSpec``. Premade estimators override the hooks; the estimator's model
    state is built from them (``estlab.estimators.model_state.build_state``).

    Examples
    --------
    >>> from estlab.estimators.heads import make_head
    >>> class Hooks(ModelFnHooks):
    ...     _model_fn = staticmethod(lambda params: ModelSpec(module=torch.nn.Linear(1, 1), head=make_head(None),
    ...                                                       input_names=("x",)))
    ...     _params: dict = {}
    ...     _spec = None
    >>> Hooks()._input_names(torch.nn.Linear(1, 1))
    ['x']
    """

    _model_fn: Any
    _params: dict[str, Any]
    _spec: ModelSpec | None

    def _model_spec(self) -> ModelSpec:
        if self._model_fn is None:
            raise ValueError(f"{type(self).__name__}: model_fn is None; pass model_fn=fn returning a ModelSpec, "
                             "or use a premade estimator (estlab.estimator.DNNClassifier, ...)")
        if self._spec is None:
            self._spec = build_model_spec(self._model_fn, self._params)
        return self._spec

    def _tf_style(self) -> bool:
        """Whether ``model_fn`` has TF's signature (``features``, ...) and returns an ``EstimatorSpec``."""
        from estlab.estimators.tf_model_fn import is_tf_model_fn

        return self._model_fn is not None and is_tf_model_fn(self._model_fn)

    def _feature_columns(self) -> list:
        """All feature columns the model reads ([] for raw-tensor models); for TF's model_fn, those in params."""
        if self._tf_style():
            from estlab.estimators.tf_model_fn import columns_in_params

            return columns_in_params(self._params)
        return list(self._model_spec().feature_columns)

    def _build_head(self) -> Any:
        """The head: label encoding, loss, predictions, metrics."""
        if self._tf_style():
            from estlab.estimators.tf_model_fn import ModelFnHead

            return ModelFnHead(getattr(self._model_fn, "__name__", "model_fn"))
        spec = self._model_spec()
        return spec.head if spec.head is not None else CustomHead.from_spec(spec)

    def _build_module(self, transformer: Any) -> torch.nn.Module:
        """The module ``module(encoded_batch) -> logits``; feature layers built without a transformer are bound."""
        if self._tf_style():
            from estlab.estimators.tf_model_fn import ModelFnModule

            return ModelFnModule(self._model_fn, self._params, getattr(self, "config", None), transformer)
        module = self._model_spec().module
        if transformer is not None:
            from estlab.features import bind_feature_layers

            bind_feature_layers(module, transformer)
        return module

    def _build_optimizers(self, module: torch.nn.Module) -> list[torch.optim.Optimizer]:
        """One optimizer per parameter group the model trains separately."""
        from estlab.estimators.optimizers import has_sparse_gradients, resolve_optimizer

        if self._tf_style():
            from estlab.estimators.tf_model_fn import ModelFnModule

            assert isinstance(module, ModelFnModule), "a TF-style model_fn builds a ModelFnModule"
            return module.build_optimizers()
        spec = self._model_spec()
        return [resolve_optimizer(spec.optimizer, spec.learning_rate, fused=not has_sparse_gradients(module))(
            module.parameters())]

    def _fit_full_batch(self, module: torch.nn.Module, encoded: dict, labels: torch.Tensor, weights: Any) -> None:
        """Full-batch learners (``trains_full_batch = True``) fit here once instead of SGD steps."""
        raise NotImplementedError(f"{type(self).__name__} sets trains_full_batch but has no _fit_full_batch")

    def _estimator_params(self) -> dict[str, Any]:
        """Plain JSON constructor parameters, stored in checkpoints."""
        return {"params": self._params}

    def _input_names(self, module: torch.nn.Module) -> list[str] | None:
        """Names of the module's tensor arguments when it takes raw tensors, ``None`` for one dict."""
        if self._model_fn is None or self._tf_style():
            return None
        names = self._model_spec().input_names
        return None if names is None else list(names)
