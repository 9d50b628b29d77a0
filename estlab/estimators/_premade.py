"""Shared plumbing of the premade estimators: argument checks, head/optimizer hooks, JSON params.

A premade class stores every constructor argument under its own name (``self.hidden_units``,
...); :class:`PremadeEstimator` turns those into the head, the optimizers and the plain-JSON
parameters stored in checkpoints, so each premade module only builds its ``nn.Module``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import LOSS_REDUCTIONS, Head, make_head
from estlab.estimators.optimizers import resolve_optimizer

#: activation names accepted by ``activation_fn`` (TF's ``tf.nn.*`` spellings).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
}

_BASE_ARGS = ("model_dir", "config", "warm_start_from")


class _Activation(nn.Module):
    """Wraps a plain activation function (``torch.relu``) as a module."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def make_activation(activation_fn: str | Callable, parameter: str = "activation_fn") -> nn.Module:
    """An activation module from a name in :data:`ACTIVATIONS`, a module class or a function.

    Examples
    --------
    >>> type(make_activation("relu")).__name__
    'ReLU'
    """
    if isinstance(activation_fn, str):
        key = activation_fn.lower()
        if key not in ACTIVATIONS:
            raise ValueError(
                f"{parameter}={activation_fn!r} is not a known activation; valid names are {sorted(ACTIVATIONS)} "
                "(or pass a function such as torch.tanh, or an nn.Module class)."
            )
        return ACTIVATIONS[key]()
    if inspect.isclass(activation_fn) and issubclass(activation_fn, nn.Module):
        return activation_fn()
    if callable(activation_fn):
        return _Activation(activation_fn)
    raise ValueError(f"{parameter} must be a name in {sorted(ACTIVATIONS)} or a callable; received {activation_fn!r}.")


def check_feature_columns(columns: Any, parameter: str = "feature_columns", allow_empty: bool = False) -> list:
    """A list of feature columns, or a ValueError naming ``parameter``."""
    if columns is None:
        columns = []
    if isinstance(columns, (str, bytes)) or not isinstance(columns, (Sequence, set, frozenset, tuple)):
        if hasattr(columns, "feature_columns"):  # an InferredColumns
            columns = columns.feature_columns
        else:
            raise ValueError(
                f"{parameter} must be a list of feature columns (e.g. [fc.numeric_column('age')]); "
                f"received {type(columns).__name__}: {columns!r}."
            )
    columns = list(columns)
    if not columns and not allow_empty:
        raise ValueError(
            f"{parameter} is empty; pass at least one feature column (estlab.features.infer_columns(frame, "
            "label=...).feature_columns builds a set)."
        )
    for column in columns:
        if isinstance(column, str) or not hasattr(column, "name"):
            raise ValueError(
                f"{parameter} holds {column!r}, which is not a feature column; wrap raw keys, e.g. "
                f"fc.numeric_column({column!r})."
            )
    return columns


def check_hidden_units(hidden_units: Any, parameter: str = "hidden_units") -> list[int]:
    """A non-empty list of positive ints, or a ValueError."""
    if isinstance(hidden_units, (int, str)) or not isinstance(hidden_units, Sequence):
        raise ValueError(f"{parameter} must be a list of positive ints such as [64, 32]; received {hidden_units!r}.")
    units = list(hidden_units)
    if not units or any(isinstance(u, bool) or not isinstance(u, int) or u < 1 for u in units):
        raise ValueError(f"{parameter} must be a list of positive ints such as [64, 32]; received {hidden_units!r}.")
    return units


def check_dropout(dropout: Any, parameter: str = "dropout") -> float | None:
    """``None`` or a probability in ``[0, 1)``."""
    if dropout is None:
        return None
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(
            f"{parameter} must be None or a drop probability in [0, 1); received {dropout!r}."
        )
    return float(dropout) if dropout > 0 else None


def check_number(value: Any, parameter: str, minimum: float, *, integer: bool = False, inclusive: bool = True):
    """A number ``>= minimum`` (``> minimum`` when not inclusive), or a ValueError naming ``parameter``."""
    kinds = (int,) if integer else (int, float)
    ok = not isinstance(value, bool) and isinstance(value, kinds)
    ok = ok and (value >= minimum if inclusive else value > minimum)
    if not ok:
        what = "an integer" if integer else "a number"
        bound = f">= {minimum}" if inclusive else f"> {minimum}"
        raise ValueError(f"{parameter} must be {what} {bound}; received {value!r}.")
    return value


def _plain(value: Any) -> Any:
    """A JSON-friendly stand-in for a constructor argument."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "name") and hasattr(value, "__dataclass_fields__"):  # a feature column
        return value.name
    name = getattr(value, "__name__", None)
    if name is None:
        return type(value).__name__
    module = getattr(value, "__module__", None)
    return f"{module}.{name}" if module else name


class LabelScaler(nn.Module):
    """Outputs ``inner(encoded) * label_scale + label_mean``: a regressor learning in standardised units.

    The statistics are buffers, so checkpoints and exports carry them.

    Examples
    --------
    >>> import torch
    >>> m = LabelScaler(nn.Identity(), torch.tensor([10.0]), torch.tensor([2.0]))
    >>> m(torch.tensor([[1.0]])).tolist()
    [[12.0]]
    """

    def __init__(self, inner: nn.Module, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("label_mean", mean.detach().float().clone())
        self.register_buffer("label_scale", scale.detach().float().clone())

    def forward(self, encoded: Any) -> torch.Tensor:
        return self.inner(encoded) * self.label_scale + self.label_mean


def label_statistics(labels: torch.Tensor, weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and standard deviation per label dimension (a zero deviation becomes 1).

    Examples
    --------
    >>> import torch
    >>> label_statistics(torch.tensor([[1.0], [3.0]]), None)
    (tensor([2.]), tensor([1.]))
    """
    y = labels.detach().cpu().double().reshape(labels.shape[0], -1)
    w = torch.ones(y.shape[0], dtype=torch.float64) if weights is None else weights.detach().cpu().double().reshape(-1)
    total = w.sum().clamp_min(1e-12)
    mean = (y * w[:, None]).sum(0) / total
    std = (((y - mean) ** 2 * w[:, None]).sum(0) / total).sqrt()
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return mean.float(), std.float()


class PremadeEstimator(Estimator):
    """Base of the premade estimators: head, optimizer and parameter hooks from stored arguments.

    Subclasses store each constructor argument under its own name, call :meth:`_check_common`,
    then ``Estimator.__init__``, and implement ``_build_module``.
    """

    #: "classification" or "regression" (what :func:`estlab.estimators.registry.list_premade` filters on).
    task: ClassVar[str] = "classification"
    #: one-line description shown by the registry and the widgets' picker.
    summary: ClassVar[str] = ""
    #: fixed choices per constructor argument, for the widgets' form.
    param_choices: ClassVar[dict[str, list]] = {}

    def _setup(self, arguments: dict[str, Any]) -> None:
        """Store constructor ``arguments`` (``locals()``) as given, validate, then init the Estimator."""
        args = {k: v for k, v in arguments.items() if k not in ("self", "__class__")}
        base = {k: args.pop(k) for k in _BASE_ARGS}
        self._base_args = base
        self._label_stats: tuple[torch.Tensor, torch.Tensor] | None = None
        for name, value in args.items():
            setattr(self, name, value)
        self._check_common()
        self._check()
        Estimator.__init__(self, **base)

    def _check(self) -> None:
        """Subclass checks of their own arguments (raise ValueError naming the parameter)."""

    def train(self, input_fn: Any, *args: Any, label: Any = None, **kwargs: Any) -> Estimator:
        """As :meth:`Estimator.train`; regressors with ``normalize_labels`` first read the label statistics.

        The statistics come from the first ``train`` input of a new model (no checkpoint yet) and are
        stored with the model; resumed models keep theirs.
        """
        if getattr(self, "normalize_labels", False) and self._label_stats is None and self.latest_checkpoint() is None:
            self._label_stats = self._read_label_statistics(input_fn, label)
        return super().train(input_fn, *args, label=label, **kwargs)

    def _read_label_statistics(self, input_fn: Any, label: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
        from estlab.inputs import resolve_input

        data = resolve_input(input_fn, label=label, num_epochs=1, shuffle=False)
        labels = getattr(data, "labels", None)
        if labels is None:  # streamed input: no whole-label view, learn in raw units (as TF)
            return None
        weights = None
        if self.weight_column is not None and self.weight_column in getattr(data, "feature_names", []):
            weights = torch.as_tensor(np.array(data.features[self.weight_column], dtype=np.float64))
        return label_statistics(self._head.encode_labels(labels), weights)

    def _scale_labels(self, module: nn.Module) -> nn.Module:
        """Wrap a regressor's module in :class:`LabelScaler` when ``normalize_labels`` is on."""
        if not getattr(self, "normalize_labels", False):
            return module
        d = self._head.logits_dimension
        mean, scale = self._label_stats if self._label_stats is not None else (torch.zeros(d), torch.ones(d))
        return LabelScaler(module, mean, scale)

    def _check_common(self) -> None:
        """Validate the head and optimizer arguments shared by every premade estimator."""
        if self.weight_column is not None and not isinstance(self.weight_column, str):
            raise ValueError(
                f"weight_column must be a column name (str) or None; received {self.weight_column!r}."
            )
        if self.task == "classification":
            self._head = make_head(
                self.n_classes, self.label_vocabulary, self.weight_column, self.loss_reduction
            )
        else:
            self._head = make_head(
                None, None, self.weight_column, self.loss_reduction, label_dimension=self.label_dimension
            )
        if not isinstance(getattr(self, "normalize_labels", False), bool):
            raise ValueError(f"normalize_labels must be True or False; received {self.normalize_labels!r}.")
        for name, lr_name in (("optimizer", "learning_rate"), ("linear_optimizer", "linear_learning_rate"),
                              ("dnn_optimizer", "dnn_learning_rate")):
            if hasattr(self, name):
                resolve_optimizer(getattr(self, name), getattr(self, lr_name, None), name)

    # -- hooks of the Estimator seam ------------------------------------------------------------

    def _build_head(self) -> Head:
        return self._head

    def _feature_columns(self) -> list:
        return list(self.feature_columns)

    def _build_optimizers(self, module: nn.Module) -> list[torch.optim.Optimizer]:
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            return []
        return [resolve_optimizer(self.optimizer, self.learning_rate)(params)]

    def _estimator_params(self) -> dict:
        signature = inspect.signature(type(self).__init__)
        return {
            name: _plain(getattr(self, name, None))
            for name in signature.parameters
            if name not in ("self", *_BASE_ARGS)
        }

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments as given (sklearn-style), for inspection and cloning.

        Examples
        --------
        >>> from estlab.estimators import BaselineClassifier
        >>> BaselineClassifier().get_params()["n_classes"]
        2
        """
        signature = inspect.signature(type(self).__init__)
        params = {}
        for name in signature.parameters:
            if name == "self":
                continue
            if name in _BASE_ARGS:
                params[name] = self._base_args[name]
            else:
                params[name] = getattr(self, name)
        return params

    def __repr__(self) -> str:
        """Arguments that differ from their defaults (sklearn style), then ``model_dir``."""
        signature = inspect.signature(type(self).__init__).parameters
        plain = self._estimator_params()
        shown = []
        for name, value in plain.items():
            default = signature[name].default
            if default is inspect.Parameter.empty or _plain(default) != value:
                shown.append(f"{name}={value!r}")
        shown.append(f"model_dir={self.model_dir!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


__all__ = [
    "ACTIVATIONS",
    "LOSS_REDUCTIONS",
    "PremadeEstimator",
    "check_dropout",
    "check_feature_columns",
    "check_hidden_units",
    "check_number",
    "make_activation",
]
