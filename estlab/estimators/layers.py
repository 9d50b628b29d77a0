"""Layers for a TF-style ``model_fn``: created on the first call, kept by the estimator, reused on every later call.

TF's ``model_fn(features, labels, mode, params, config)`` builds its layers with ``tf.compat.v1.layers.dense``
and friends, which create variables the first time and reuse them afterwards. These functions do the same in
PyTorch: inside a ``model_fn`` run by an estlab ``Estimator``, each call finds its layer by ``name``, or by
kind and order of creation in the call (TF's names: ``dense``, ``dense_1``, ...), in the estimator's module,
creating it (with TF's default initialisers) on the first call. The layers are ordinary ``nn.Module``\\ s:
they are checkpointed, warm-started and exported like any other.

Examples
--------
>>> import torch
>>> from estlab.estimators.tf_model_fn import EstimatorSpec
>>> def model_fn(features, labels, mode, params):
...     logits = dense(features["x"], units=1)
...     return EstimatorSpec(mode, predictions={"y": logits})
>>> store = LayerStore()
>>> with store.active():
...     first = model_fn({"x": torch.ones(2, 3)}, None, "infer", {}).predictions["y"]
>>> with store.active():
...     again = model_fn({"x": torch.ones(2, 3)}, None, "infer", {}).predictions["y"]
>>> torch.equal(first, again), sorted(store.layers)
(True, ['dense'])
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVE: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("estlab_model_fn_layers", default=None)


class _Call:
    """One ``model_fn`` call: the store it reads and how many layers of each kind it has asked for."""

    def __init__(self, store: LayerStore) -> None:
        self.store = store
        self.counts: dict[str, int] = {}

    def name(self, kind: str, name: str | None) -> str:
        if name is not None:
            return str(name).replace(".", "_")
        index = self.counts.get(kind, 0)
        self.counts[kind] = index + 1
        return kind if index == 0 else f"{kind}_{index}"


class LayerStore(nn.Module):
    """The layers and variables a TF-style ``model_fn`` created, kept across its calls.

    Examples
    --------
    >>> store = LayerStore()
    >>> with store.active():
    ...     w = get_variable("w", shape=(2,), initializer=torch.nn.init.ones_)
    >>> store.variables["w"].tolist()
    [1.0, 1.0]
    """

    def __init__(self, transformer: Any = None) -> None:
        super().__init__()
        self.layers = nn.ModuleDict()
        self.variables = nn.ParameterDict()
        #: the fitted FeatureTransformer that ``input_layer`` binds (None without feature columns)
        self.transformer = transformer

    @contextlib.contextmanager
    def active(self) -> Iterator[LayerStore]:
        """Make this store the one the layer functions use, for one ``model_fn`` call."""
        token = _ACTIVE.set(_Call(self))
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def forward(self, *args: Any) -> Any:  # pragma: no cover - a container, never called
        raise TypeError("LayerStore holds a model_fn's layers; it is not called itself")


def _current(what: str) -> _Call:
    call = _ACTIVE.get()
    if call is None:
        raise RuntimeError(f"estlab.estimators.layers.{what} is called outside a model_fn run by an estlab "
                           "Estimator; the estimator keeps the layers between calls. Outside a model_fn use "
                           "torch.nn modules directly")
    return call


def layer(factory: Callable[[], nn.Module], name: str | None = None) -> nn.Module:
    """The module ``factory()`` built on the first call and kept (any ``nn.Module``, lazy ones included).

    Named ``name``, else ``module``, ``module_1``, ... in order of creation in the call.

    Examples
    --------
    >>> store = LayerStore()
    >>> with store.active():
    ...     out = layer(lambda: torch.nn.Linear(3, 2), name="proj")(torch.ones(1, 3))
    >>> tuple(out.shape), sorted(store.layers)
    ((1, 2), ['proj'])
    """
    call = _current("layer")
    key = call.name("module", name)
    if key not in call.store.layers:
        module = factory()
        if not isinstance(module, nn.Module):
            raise TypeError(f"layer(factory): factory() must return an nn.Module, got {type(module).__name__}")
        from estlab.estimators.embedding_checkpoints import load_checkpoint_tables

        load_checkpoint_tables(module)  # DenseFeatures inside it with ckpt_to_load_from columns
        call.store.layers[key] = module
    return call.store.layers[key]


def _glorot_uniform(tensor: torch.Tensor) -> Any:
    return nn.init.xavier_uniform_(tensor) if tensor.dim() >= 2 else nn.init.uniform_(tensor, -0.05, 0.05)


def dense(inputs: torch.Tensor, units: int, activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
          use_bias: bool = True, kernel_initializer: Callable[[torch.Tensor], Any] | None = None,
          bias_initializer: Callable[[torch.Tensor], Any] | None = None, trainable: bool = True,
          name: str | None = None) -> torch.Tensor:
    """TF's ``tf.compat.v1.layers.dense``: ``activation(inputs @ kernel + bias)``, the layer kept across calls.

    Initialisers are TF's defaults (Glorot-uniform kernel, zero bias) unless given (functions that fill a
    tensor in place, e.g. ``torch.nn.init.normal_``).

    Examples
    --------
    >>> store = LayerStore()
    >>> with store.active():
    ...     out = dense(torch.ones(2, 4), units=3, activation=torch.relu, bias_initializer=torch.nn.init.ones_)
    >>> tuple(out.shape), store.layers["dense"].bias.tolist()
    ((2, 3), [1.0, 1.0, 1.0])
    """
    call = _current("dense")
    key = call.name("dense", name)
    if key not in call.store.layers:
        linear = nn.Linear(int(inputs.shape[-1]), int(units), bias=use_bias, device=inputs.device)
        with torch.no_grad():
            (kernel_initializer or _glorot_uniform)(linear.weight)
            if linear.bias is not None:
                (bias_initializer or nn.init.zeros_)(linear.bias)
        linear.requires_grad_(trainable)
        call.store.layers[key] = linear
    out = call.store.layers[key](inputs.float() if not inputs.is_floating_point() else inputs)
    return activation(out) if activation is not None else out


def dropout(inputs: torch.Tensor, rate: float = 0.5, noise_shape: Sequence[int] | None = None, seed: int | None = None,
            training: bool = False, name: str | None = None) -> torch.Tensor:
    """TF's ``tf.compat.v1.layers.dropout``: drops with probability ``rate`` only when ``training`` (as TF).

    ``noise_shape`` and ``seed`` are not supported (the estimator's ``RunConfig.random_seed`` seeds all).

    Examples
    --------
    >>> dropout(torch.ones(2, 2), rate=0.5, training=False).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    if noise_shape is not None or seed is not None:
        raise ValueError("dropout: noise_shape and seed are not supported; seed the run with "
                         "RunConfig(random_seed=...)")
    return F.dropout(inputs, p=float(rate), training=bool(training))


def input_layer(features: Any, feature_columns: Sequence[Any], trainable: bool = True,
                name: str | None = None) -> torch.Tensor:
    """TF's ``tf.compat.v1.feature_column.input_layer`` inside a ``model_fn``: one kept ``DenseFeatures``.

    The embedding tables it owns are created once and trained (``estlab.feature_column.input_layer``
    outside a model_fn makes new ones on every call). The columns must be among the estimator's
    ``params`` (e.g. ``params["feature_columns"]``), which the estimator fits on the training input.

    Examples
    --------
    >>> from estlab.features import numeric_column
    >>> store = LayerStore()
    >>> with store.active():
    ...     input_layer({"x": torch.tensor([[1.0], [2.0]])}, [numeric_column("x")]).tolist()
    [[1.0], [2.0]]
    """
    from estlab.estimators.embedding_checkpoints import load_checkpoint_tables
    from estlab.features import DenseFeatures

    call = _current("input_layer")
    key = call.name("input_layer", name)
    if key not in call.store.layers:
        features_layer = DenseFeatures(list(feature_columns), call.store.transformer)
        load_checkpoint_tables(features_layer)  # columns with ckpt_to_load_from (a restore overwrites them later)
        features_layer.requires_grad_(trainable)
        call.store.layers[key] = features_layer.to(_device_of(features))
    return call.store.layers[key](features)


def get_variable(name: str, shape: Sequence[int] | None = None,
                 initializer: Callable[[torch.Tensor], Any] | torch.Tensor | float | None = None,
                 trainable: bool = True) -> nn.Parameter:
    """TF's ``tf.compat.v1.get_variable``: a parameter created on the first call (Glorot-uniform by default).

    ``initializer`` is a function filling a tensor in place, or a value / tensor (its shape is used when
    ``shape`` is None).

    Examples
    --------
    >>> store = LayerStore()
    >>> with store.active():
    ...     get_variable("b", initializer=torch.tensor([0.5, 1.5])).tolist()
    [0.5, 1.5]
    """
    call = _current("get_variable")
    key = str(name).replace(".", "_")
    if key not in call.store.variables:
        if callable(initializer):
            if shape is None:
                raise ValueError(f"get_variable({name!r}): give shape= with an initializer function")
            value = torch.empty(tuple(shape))
            with torch.no_grad():
                initializer(value)
        elif initializer is None:
            if shape is None:
                raise ValueError(f"get_variable({name!r}): give shape= or an initial value")
            value = torch.empty(tuple(shape))
            with torch.no_grad():
                _glorot_uniform(value)
        else:
            value = torch.as_tensor(initializer, dtype=torch.float32).clone()
            if shape is not None:
                value = value.expand(tuple(shape)).clone()
        call.store.variables[key] = nn.Parameter(value, requires_grad=trainable)
    return call.store.variables[key]


def trainable_variables() -> list[nn.Parameter]:
    """TF's ``tf.compat.v1.trainable_variables``: the parameters of the running model_fn created so far.

    Build an optimizer over them after the layers: ``torch.optim.Adagrad(trainable_variables(), lr=0.1)``.

    Examples
    --------
    >>> store = LayerStore()
    >>> with store.active():
    ...     _ = dense(torch.ones(1, 2), units=1)
    ...     [tuple(p.shape) for p in trainable_variables()]
    [(1, 2), (1,)]
    """
    return [p for p in _current("trainable_variables").store.parameters() if p.requires_grad]


def _device_of(features: Any) -> torch.device:
    if isinstance(features, dict):
        for value in features.values():
            if isinstance(value, torch.Tensor):
                return value.device
    return torch.device("cpu")


__all__ = ["LayerStore", "dense", "dropout", "get_variable", "input_layer", "layer", "trainable_variables"]
