"""Shared plumbing of the premade estimators: argument checks, head/optimizer hooks, sklearn-style parameters.

A premade class stores every constructor argument under its own name (``self.hidden_units =
hidden_units``) and validates nothing in ``__init__``; its ``_check()`` validates them all, once, when
it trains (and in :func:`estlab.estimators.registry.validate`). :class:`PremadeEstimator` turns the
stored arguments into the head, the optimizers and the plain-JSON parameters stored in checkpoints, and
gives every premade sklearn's ``get_params``/``set_params`` contract (so ``sklearn.base.clone`` works).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

from estlab.estimators.choices import ACTIVATION_TABLE, LOSS_REDUCTIONS
from estlab.estimators.class_weight import validate_class_weight
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import Head, encode_named_labels, make_head
from estlab.estimators.optimizers import resolve_optimizer
from estlab.estimators.registry import unknown_parameter_error
from estlab.estimators.size_check import (
    TRAINING_BYTES_PER_PARAMETER,
    Block,
    available_memory,
    check_blocks,
    check_model_size,
    optimizer_slots,
)
from estlab.estimators.weights import WeightColumn, check_weight_column, read_weights, weight_key
from estlab.training import distributed
from estlab.training.config import RunConfig, resolve_device

logger = logging.getLogger(__name__)

#: activation names accepted by ``activation_fn`` (TF's ``tf.nn.*`` spellings; names declared in ``choices``).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {name: getattr(nn, cls) for name, cls in ACTIVATION_TABLE.items()}

_BASE_ARGS = ("model_dir", "config", "warm_start_from")


@runtime_checkable
class _ColumnSet(Protocol):
    """A set of feature columns such as ``infer_columns``' result (an ``InferredColumns``)."""

    @property
    def feature_columns(self) -> Sequence[Any]: ...


@runtime_checkable
class _Named(Protocol):
    """Something with a ``name``, as every feature column has."""

    @property
    def name(self) -> str: ...


class _Activation(nn.Module):
    """Wraps a plain activation function (``torch.relu``) as a module: any callable the user passed."""

    def __init__(self, fn: Callable[..., Any]) -> None:
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
    if isinstance(activation_fn, type) and issubclass(activation_fn, nn.Module):
        return activation_fn()
    if callable(activation_fn):
        return _Activation(activation_fn)
    raise ValueError(f"{parameter} must be a name in {sorted(ACTIVATIONS)} or a callable; received {activation_fn!r}.")


def check_feature_columns(columns: Any, parameter: str = "feature_columns", allow_empty: bool = False) -> list:
    """A list of feature columns, or a ValueError naming ``parameter``."""
    if columns is None:
        columns = []
    if isinstance(columns, (str, bytes)) or not isinstance(columns, (Sequence, set, frozenset, tuple)):
        if isinstance(columns, _ColumnSet):  # an InferredColumns
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
    """A finite number ``>= minimum`` (``> minimum`` when not inclusive), or a ValueError naming ``parameter``.

    Examples
    --------
    >>> check_number(0.5, "learning_rate", 0.0, inclusive=False)
    0.5
    >>> check_number(float("inf"), "l2_regularization", 0.0)
    Traceback (most recent call last):
    ...
    ValueError: l2_regularization must be a finite number >= 0.0; received inf.
    """
    kinds = (int,) if integer else (int, float)
    ok = not isinstance(value, bool) and isinstance(value, kinds) and math.isfinite(value)
    ok = ok and (value >= minimum if inclusive else value > minimum)
    if not ok:
        what = "an integer" if integer else "a finite number"
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
    if isinstance(value, _ColumnSet) and not inspect.isclass(value):  # an InferredColumns
        return _plain(list(value.feature_columns))
    if isinstance(value, _Named) and hasattr(value, "__dataclass_fields__"):  # a feature column
        return value.name
    name = getattr(value, "__name__", None)
    if name is None:
        return type(value).__name__
    module = getattr(value, "__module__", None)
    return f"{module}.{name}" if module else name


def one_optimizer(module: nn.Module, optimizer: Any, learning_rate: Any, *,
                  default: tuple[str, float] | None = None) -> list[torch.optim.Optimizer]:
    """``[optimizer over the module's trainable parameters]``, or ``[]`` when it has none.

    ``default`` is TF's ``(name, learning rate)`` that ``optimizer=None`` stands for.

    Examples
    --------
    >>> [type(o).__name__ for o in one_optimizer(nn.Linear(2, 1), "SGD", 0.1)]
    ['SGD']
    """
    params = [p for p in module.parameters() if p.requires_grad]
    return [resolve_optimizer(optimizer, learning_rate, default=default)(params)] if params else []


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


class LabelMoments:
    """Weighted label mean and (population) standard deviation accumulated chunk by chunk, in float64.

    Chunks combine by Chan et al.'s pairwise update of the weighted sum of squared deviations, so streamed
    labels give the statistics of their concatenation (up to float64 rounding).

    Examples
    --------
    >>> import torch
    >>> moments = LabelMoments()
    >>> moments.add(torch.tensor([[1.0]]), None).add(torch.tensor([[3.0]]), None).result()
    (tensor([2.]), tensor([1.]))
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None

    def add(self, labels: torch.Tensor, weights: torch.Tensor | None) -> LabelMoments:
        """Add a chunk: ``labels`` ``(N, d)`` (or ``(N,)``) and optional ``(N,)`` example weights."""
        y = labels.detach().cpu().double().reshape(labels.shape[0], -1)
        w = (torch.ones(y.shape[0], dtype=torch.float64) if weights is None
             else weights.detach().cpu().double().reshape(-1))
        total = float(w.sum())
        if total <= 0:
            return self
        mean = (y * w[:, None]).sum(0) / total
        m2 = ((y - mean) ** 2 * w[:, None]).sum(0)
        if self.mean is None or self.m2 is None:
            self.total, self.mean, self.m2 = total, mean, m2
            return self
        combined = self.total + total
        delta = mean - self.mean
        self.mean = self.mean + delta * (total / combined)
        self.m2 = self.m2 + m2 + delta**2 * (self.total * total / combined)
        self.total = combined
        return self

    def result(self, dimension: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, std)`` as float32 per label dimension; a zero deviation becomes 1, no rows give ``(0, 1)``."""
        if self.mean is None or self.m2 is None:
            return torch.zeros(dimension), torch.ones(dimension)
        std = (self.m2 / self.total).sqrt()
        std = torch.where(std > 1e-12, std, torch.ones_like(std))
        return self.mean.float(), std.float()


def label_statistics(labels: torch.Tensor, weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and standard deviation per label dimension (a zero deviation becomes 1).

    Examples
    --------
    >>> import torch
    >>> label_statistics(torch.tensor([[1.0], [3.0]]), None)
    (tensor([2.]), tensor([1.]))
    """
    return LabelMoments().add(labels, weights).result(int(labels[0].numel()) if labels.shape[0] else 1)


class PremadeEstimator(Estimator):
    """Base of the premade estimators: sklearn-style parameters, one ``_check()``, head and optimizer hooks.

    A subclass's ``__init__`` stores each of its arguments as ``self.<name> = <name>`` and calls
    ``super().__init__(model_dir=..., config=..., warm_start_from=...)``; nothing is validated there.
    ``_check()`` validates every argument (extend it with ``super()._check()`` first), and the build hooks
    (``_build_module`` ...) read the stored arguments.
    """

    #: "classification" or "regression" (what :func:`estlab.estimators.registry.list_premade` filters on).
    task: ClassVar[str] = "classification"
    #: one-line description shown by the registry and the widgets' picker.
    summary: ClassVar[str] = ""

    weight_column: WeightColumn | None
    loss_reduction: str
    n_classes: int
    label_vocabulary: list[str] | None
    label_dimension: int
    #: regressors with this constructor argument learn in standardised label units.
    normalize_labels: bool = False

    def __init__(self, model_dir: str | None = None, config: RunConfig | None = None,
                 warm_start_from: str | None = None) -> None:
        self._base_params = {"model_dir": model_dir, "config": config, "warm_start_from": warm_start_from}
        self._label_stats: tuple[torch.Tensor, torch.Tensor] | None = None
        Estimator.__init__(self, model_dir=model_dir, config=config, warm_start_from=warm_start_from)

    # -- validation ----------------------------------------------------------------------------

    def _check(self) -> None:
        """Validate the arguments every premade has (head, weights, label scaling); subclasses extend it.

        Raises ValueError naming the parameter, what it must be and what it received.
        """
        super()._check()
        check_weight_column(self.weight_column)
        head = self._build_head()
        validate_class_weight(getattr(self, "class_weight", None), head)  # classifiers' class_weight
        if not isinstance(self.normalize_labels, bool):
            raise ValueError(f"normalize_labels must be True or False; received {self.normalize_labels!r}.")

    def train(self, input_fn: Any, *args: Any, label: Any = None, **kwargs: Any) -> Estimator:
        """As :meth:`Estimator.train`, after :meth:`_check`; regressors with ``normalize_labels`` first read
        the label statistics (see :meth:`_read_label_statistics`).

        The statistics come from the first ``train`` input of a new model (no checkpoint yet) and are
        stored with the model; resumed models keep theirs.
        """
        self._check()
        return super().train(input_fn, *args, label=label, **kwargs)

    def _train_in_model_dir(self, source: Any, hooks: list, steps: int | None, max_steps: int | None,
                            label: Any) -> Any:
        if self.normalize_labels and self._label_stats is None and self.latest_checkpoint() is None:
            self._label_stats = self._read_label_statistics(source, label)
        return super()._train_in_model_dir(source, hooks, steps, max_steps, label)

    def _read_label_statistics(self, source: Any, label: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The (weighted) label mean and standard deviation of the training ``source`` (a ``DataSource``).

        Which rows: all of an in-memory input (DataFrame, dict, ``InputFn``); of an iterable of batches
        (generator, ``DataLoader``, ``IterableDataset``) the rows its feature columns are fitted on, whole batches
        from the start until they hold ``fit_rows`` rows (``BatchedInput.fit_sample``), with a warning when the
        input goes on; of streamed parquet what its fitting reads: every row (``fit="stream"``) or the same
        ``sample_rows`` sampled rows (``fit="sample"``). An input of another kind warns and gives None (raw units).
        """
        from estlab.inputs.batched import BatchedInput
        from estlab.inputs.input_fn import InputFn
        from estlab.inputs.parquet import StreamingInput

        head, data = self._build_head(), getattr(source, "data", None)
        if isinstance(data, InputFn) and data.labels is not None:
            return self._moments(head, data.labels, data.features, data.feature_names, label).result()
        if isinstance(data, BatchedInput):
            batch, whole = data.fit_sample()
            if batch.labels is not None:
                if not whole:
                    logger.warning(
                        "normalize_labels: the label mean and standard deviation come from the first %d rows of "
                        "the input %r (the rows its feature columns are fitted on), not from all of it; pass "
                        "iterable_input_fn(..., fit_rows=N) to read more", batch.num_rows, data.name)
                return self._moments(head, batch.labels, batch.features, batch.feature_names, label).result()
        if isinstance(data, StreamingInput) and data.label is not None:
            return self._stream_moments(head, data).result(head.logits_dimension)
        logger.warning("normalize_labels: the training input (%s) gives no labels to read statistics from before "
                       "training; %s learns in raw label units (as TF). Pass a DataFrame, an InputFn or an iterable "
                       "of (features, labels) batches, or normalize_labels=False to silence this.",
                       type(data if data is not None else source).__name__, type(self).__name__)
        return None

    def _moments(self, head: Head, labels: Any, features: Any, feature_names: list[str], label: Any,
                 moments: LabelMoments | None = None) -> LabelMoments:
        """``moments`` (a new one by default) with these rows' encoded labels added, weighted by ``weight_column``."""
        weights = None
        if self.weight_column is not None and weight_key(self.weight_column) in feature_names:
            weights = read_weights(self.weight_column, features, feature_names)
        return (moments or LabelMoments()).add(encode_named_labels(head, labels, label), weights)

    def _stream_moments(self, head: Head, data: Any) -> LabelMoments:
        """Label moments of a ``StreamingInput`` over the rows its transformer fitting reads."""
        columns = [data.label]
        if self.weight_column is not None and weight_key(self.weight_column) in data.columns:
            columns.append(weight_key(self.weight_column))
        if data.fit_mode == "sample":  # the rows the transformer's sample takes (they depend on the seed only)
            frames = iter([data.sample(data.sample_rows, seed=data.seed, columns=columns)])
        else:
            frames = data.iter_frames(columns=columns)
        moments = LabelMoments()
        for frame in frames:
            features = frame.drop(columns=[data.label])
            self._moments(head, frame[data.label], features, list(features.columns), data.label, moments)
        return moments

    def _scale_labels(self, module: nn.Module) -> nn.Module:
        """Wrap a regressor's module in :class:`LabelScaler` when ``normalize_labels`` is on."""
        if not self.normalize_labels:
            return module
        d = self._build_head().logits_dimension
        stats = self._label_stats
        mean, scale = stats if stats is not None else (torch.zeros(d), torch.ones(d))
        return LabelScaler(module, mean, scale)

    def _check_size(self, blocks: Sequence[Block]) -> None:
        """Refuse (``MemoryError``), before anything is allocated, a model whose training state (``blocks``:
        see :mod:`estlab.estimators.size_check`) can't fit in the memory free where it trains: the host, and on
        CUDA the device."""
        device = distributed.rank_device(resolve_device(self.config.device))
        check_blocks(blocks, device=device, who=type(self).__name__)

    # -- hooks of the Estimator seam ------------------------------------------------------------

    def _build_head(self) -> Head:
        if self.task == "classification":
            return make_head(self.n_classes, self.label_vocabulary, self.weight_column, self.loss_reduction)
        return make_head(None, None, self.weight_column, self.loss_reduction, label_dimension=self.label_dimension)

    def _estimator_params(self) -> dict:
        return {name: _plain(value) for name, value in self.get_params(deep=False).items() if name not in _BASE_ARGS}

    # -- sklearn's parameter contract -------------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's parameter names, in order."""
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments as given (sklearn's contract), for inspection, forms and ``sklearn.base.clone``.

        Parameters
        ----------
        deep : bool
            Also list ``<name>__<sub>`` entries of arguments that have ``get_params`` themselves.

        Examples
        --------
        >>> from estlab.estimators import BaselineClassifier
        >>> BaselineClassifier(n_classes=3).get_params()["n_classes"]
        3
        """
        params: dict[str, Any] = {}
        for name in self._param_names():
            value = self._base_params[name] if name in _BASE_ARGS else getattr(self, name)
            params[name] = value
            nested = getattr(value, "get_params", None)
            if deep and nested is not None and not inspect.isclass(value):
                params.update({f"{name}__{key}": sub for key, sub in nested().items()})
        return params

    def set_params(self, **params: Any) -> PremadeEstimator:
        """Set constructor arguments by name (sklearn's contract); ``<name>__<sub>`` reaches nested ones.

        Like a new constructor call, nothing is validated until ``train`` (or ``registry.validate``); the
        in-memory model is released so the next call builds it from the new arguments.

        Examples
        --------
        >>> from estlab.estimators import BaselineRegressor
        >>> BaselineRegressor().set_params(label_dimension=2).label_dimension
        2
        """
        valid = self._param_names()
        nested: dict[str, dict[str, Any]] = {}
        base: dict[str, Any] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise unknown_parameter_error(type(self).__name__, name, valid)
            if sub:
                nested.setdefault(name, {})[sub] = value
            elif name in _BASE_ARGS:
                base[name] = value
            else:
                setattr(self, name, value)
        for name, sub_params in nested.items():
            getattr(self, name).set_params(**sub_params)
        if params:
            self.close()
            self._label_stats = None
        if base:
            PremadeEstimator.__init__(self, **{**self._base_params, **base})
        return self

    def __repr__(self) -> str:
        """Arguments that differ from their defaults (sklearn style), then ``model_dir`` as given (no temp dir made)."""
        signature = inspect.signature(type(self).__init__).parameters
        shown = []
        for name, value in self._estimator_params().items():
            default = signature[name].default
            if default is inspect.Parameter.empty or _plain(default) != value:
                shown.append(f"{name}={value!r}")
        shown.append(f"model_dir={self._base_params['model_dir']!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


__all__ = [
    "ACTIVATIONS",
    "LOSS_REDUCTIONS",
    "TRAINING_BYTES_PER_PARAMETER",
    "Block",
    "PremadeEstimator",
    "available_memory",
    "check_dropout",
    "check_feature_columns",
    "check_hidden_units",
    "check_model_size",
    "check_number",
    "make_activation",
    "one_optimizer",
    "optimizer_slots",
]
