"""Optimizer specs (TF's names, classes, factories, instances) and learning rates (numbers or schedules).

A PyTorch optimizer needs the parameters it trains, which a premade estimator creates only when it builds
its module; so what the estimators accept is a *spec* that :func:`resolve_optimizer` turns into
``factory(params) -> torch.optim.Optimizer``:

- ``None``: TF's default for that estimator (:func:`tf_default_optimizer`);
- a name, TF's spelling (case-insensitive): ``"Adagrad"``, ``"Adam"``, ``"Ftrl"``, ``"RMSProp"``, ``"SGD"``, ...
  (:data:`OPTIMIZERS`); ``"Ftrl"`` is TF's FTRL-Proximal (:class:`estlab.estimators.ftrl.Ftrl`);
- a ``torch.optim.Optimizer`` class, or a ``functools.partial`` of one binding its arguments (TF's
  ``optimizer=tf.keras.optimizers.Ftrl(l1_regularization_strength=0.01)`` becomes
  ``optimizer=partial(Ftrl, l1_regularization_strength=0.01)``); ``learning_rate`` sets its ``lr``;
- any callable ``params -> Optimizer``;
- a callable taking no argument (TF 2's ``optimizer=lambda: tf.keras.optimizers.Adam(...)`` pattern) that
  returns one of the forms above (``lambda: torch.optim.Adagrad``); it is called when the optimizer is
  checked. One that builds an optimizer (``lambda: torch.optim.Adam(lr=0.01)``) cannot work in torch, whose
  optimizers need their parameters, and is refused naming these forms;
- an already-built optimizer instance, only where it is safe: when it was built on exactly the parameters
  being trained (a custom ``model_fn`` that creates its module and optimizer together). A premade
  estimator's module does not exist before training, so an instance cannot hold its parameters; that is
  refused with the forms to use instead, rather than silently training nothing.

``learning_rate`` is a positive number, or a schedule (see ``estlab.training.lr_schedule``): a callable
``step -> rate`` (TF's ``tf.keras.optimizers.schedules.ExponentialDecay(0.1, 1000, 0.96)`` is
``ExponentialDecay(0.1, 1000, 0.96)`` there, or ``lambda step: 0.1 * 0.96 ** (step / 1000)``), or a
``torch.optim.lr_scheduler`` class / ``functools.partial`` of one. A schedule is applied at every
optimizer step and its position is saved with the optimizer in checkpoints.

Examples
--------
>>> import torch
>>> factory = resolve_optimizer("adam", learning_rate=0.01)
>>> opt = factory([torch.nn.Parameter(torch.zeros(2))])
>>> type(opt).__name__, opt.param_groups[0]["lr"]
('Adam', 0.01)
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias, cast

import torch

from estlab._util import did_you_mean
from estlab.estimators.choices import OPTIMIZER_NAMES, OPTIMIZER_TABLE, TF_DEFAULT_OPTIMIZERS
from estlab.estimators.ftrl import Ftrl
from estlab.training.lr_schedule import (
    attach_schedule,
    check_schedule,
    initial_learning_rate,
    is_scheduler_factory,
)

OptimizerFactory: TypeAlias = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]
#: ``None`` (TF's default), a name, a ``torch.optim.Optimizer`` class or ``functools.partial`` of one, a factory
#: ``params -> Optimizer``, or an optimizer built on exactly the parameters to train.
OptimizerSpec: TypeAlias = str | Callable[..., torch.optim.Optimizer] | torch.optim.Optimizer | None
#: A positive number, ``None`` (the optimizer's default), a callable ``step -> rate``, or a
#: ``torch.optim.lr_scheduler`` class or ``functools.partial`` of one.
LearningRate: TypeAlias = float | Callable[..., Any] | None

_CLASSES: dict[str, type[torch.optim.Optimizer]] = {"Ftrl": Ftrl}

#: name → (optimizer class, extra keyword arguments, default learning rate); the names and values are
#: declared torch-free in :data:`estlab.estimators.choices.OPTIMIZER_TABLE`.
OPTIMIZERS: dict[str, tuple[Callable[..., torch.optim.Optimizer], dict[str, Any], float]] = {
    name: (_CLASSES.get(cls_name) or getattr(torch.optim, cls_name), dict(extra), lr)
    for name, (cls_name, extra, lr) in OPTIMIZER_TABLE.items()
}

_BY_LOWER = {name.lower(): name for name in OPTIMIZERS}


def optimizer_names() -> list[str]:
    """Names accepted wherever an optimizer is given by name.

    Examples
    --------
    >>> "Adam" in optimizer_names()
    True
    """
    return list(OPTIMIZER_NAMES)


def canonical_optimizer_name(name: str, parameter: str = "optimizer") -> str:
    """The registered spelling of ``name`` (case-insensitive), or a ValueError listing valid names.

    Examples
    --------
    >>> canonical_optimizer_name("rmsprop")
    'RMSProp'
    """
    key = str(name).lower()
    if key not in _BY_LOWER:
        raise ValueError(
            f"{parameter}={name!r} is not a known optimizer name; valid names are {optimizer_names()} "
            "(or pass a callable params -> torch.optim.Optimizer)." + did_you_mean(name, OPTIMIZERS, n=1, cutoff=0.5)
        )
    return _BY_LOWER[key]


def tf_default_optimizer(estimator: str, n_feature_columns: int | None = None) -> tuple[str, float]:
    """TF's default ``(optimizer name, learning rate)`` for a premade estimator: what ``optimizer=None`` means.

    Parameters
    ----------
    estimator : str
        A key of :data:`estlab.estimators.choices.TF_DEFAULT_OPTIMIZERS` (``"LinearClassifier"``,
        ``"DNNLinearCombinedClassifier.linear"``, ...).
    n_feature_columns : int, optional
        Number of feature columns; TF's linear models use ``min(rate, 1 / sqrt(n))``.

    Examples
    --------
    >>> tf_default_optimizer("LinearClassifier", n_feature_columns=100)
    ('Ftrl', 0.1)
    >>> tf_default_optimizer("DNNClassifier")
    ('Adagrad', 0.05)
    """
    if estimator not in TF_DEFAULT_OPTIMIZERS:
        raise ValueError(f"tf_default_optimizer: unknown estimator {estimator!r}; known are "
                         f"{sorted(TF_DEFAULT_OPTIMIZERS)}." + did_you_mean(estimator, TF_DEFAULT_OPTIMIZERS, n=1))
    name, rate, capped = TF_DEFAULT_OPTIMIZERS[estimator]
    if capped and n_feature_columns:
        rate = min(rate, 1.0 / math.sqrt(n_feature_columns))
    return name, rate


#: torch classes with a fused implementation (one kernel over all parameters; CPU and CUDA since torch 2.4)
FUSED_CLASSES: tuple[type[torch.optim.Optimizer], ...] = (torch.optim.Adam, torch.optim.AdamW, torch.optim.Adagrad,
                                                          torch.optim.SGD)
FUSED_DEVICES = frozenset({"cpu", "cuda"})


def fused_factory(factory: Callable[..., torch.optim.Optimizer]) -> OptimizerFactory:
    """``factory`` building torch's fused implementation when every parameter allows it (floating point, one
    CPU or CUDA device), else the default one.

    The fused update is the same formula in one kernel over all parameters (3-4x faster for the many small
    tensors of a tabular model); results agree with the per-tensor update to the last bit or two of float32.
    Not for modules with sparse gradients (``nn.Embedding(sparse=True)``), which fused kernels refuse.

    Examples
    --------
    >>> import functools, torch
    >>> opt = fused_factory(functools.partial(torch.optim.Adam, lr=0.1))([torch.nn.Parameter(torch.zeros(2))])
    >>> opt.param_groups[0]["fused"]
    True
    """

    def build(params: Iterable[Any]) -> torch.optim.Optimizer:
        params = list(params)
        flat = [p for item in params for p in (item["params"] if isinstance(item, dict) else [item])]
        devices = {p.device for p in flat}
        if (flat and len(devices) == 1 and next(iter(devices)).type in FUSED_DEVICES
                and all(p.is_floating_point() for p in flat)):
            return factory(params, fused=True)
        return factory(params)

    return build


def has_sparse_gradients(module: torch.nn.Module) -> bool:
    """True when a submodule makes sparse gradients (``nn.Embedding`` / ``nn.EmbeddingBag`` with ``sparse=True``).

    Examples
    --------
    >>> import torch
    >>> has_sparse_gradients(torch.nn.Embedding(3, 2, sparse=True)), has_sparse_gradients(torch.nn.Linear(1, 1))
    (True, False)
    """
    return any(getattr(m, "sparse", False) is True for m in module.modules())


def resolve_optimizer(
    optimizer: OptimizerSpec, learning_rate: LearningRate = None, parameter: str = "optimizer", *,
    default: tuple[str, float] | None = None, fused: bool = True,
) -> OptimizerFactory:
    """Turn an optimizer spec and a learning rate into ``factory(params) -> Optimizer`` (checked now).

    Parameters
    ----------
    optimizer : None, str, type, functools.partial, callable or torch.optim.Optimizer
        See the module docstring. ``None`` takes ``default``.
    learning_rate : float, callable or scheduler class, optional
        A positive number, or a schedule (callable ``step -> rate``, or a ``torch.optim.lr_scheduler`` class
        or partial of one). ``None`` takes the name's (or ``default``'s, or the class's) default. A number
        cannot be combined with a factory or an instance (set it there); a schedule can.
    parameter : str
        The constructor argument's name, used in error messages.
    default : (str, float), optional
        ``(name, learning rate)`` that ``optimizer=None`` means (see :func:`tf_default_optimizer`).
    fused : bool
        An optimizer given by name (or the default) uses torch's fused implementation where it has one and the
        parameters allow it (:func:`fused_factory`). False for modules with sparse gradients. A class, partial,
        factory or instance the user passes is built as given.

    Examples
    --------
    >>> import functools, torch
    >>> params = [torch.nn.Parameter(torch.zeros(1))]
    >>> resolve_optimizer(torch.optim.SGD, 0.1)(params).param_groups[0]["lr"]
    0.1
    >>> type(resolve_optimizer(None, default=("Ftrl", 0.2))(params)).__name__
    'Ftrl'
    >>> resolve_optimizer(functools.partial(torch.optim.SGD, momentum=0.9), 0.3)(params).param_groups[0]["lr"]
    0.3
    """
    schedule = _schedule_of(learning_rate)
    rate: float | None = None
    if schedule is None and learning_rate is not None:
        rate = float(learning_rate)  # type: ignore[arg-type]  # a number: checked by _schedule_of
    elif schedule is not None and not is_scheduler_factory(schedule):
        rate = initial_learning_rate(schedule)
    if optimizer is None:
        if default is None:
            raise ValueError(f"{parameter}=None: this estimator has no TF default optimizer; pass a name in "
                             f"{optimizer_names()} or a callable params -> torch.optim.Optimizer.")
        optimizer = default[0]
        rate = default[1] if rate is None and schedule is None else rate
    base = _base_factory(optimizer, rate, schedule is not None, parameter, fused)
    if schedule is None:
        return base

    def scheduled(params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return attach_schedule(base(params), schedule)

    return scheduled


def _schedule_of(learning_rate: LearningRate) -> Callable[..., Any] | None:
    """The schedule in ``learning_rate`` (None for a number or None); a bad value raises ValueError."""
    if learning_rate is None:
        return None
    if isinstance(learning_rate, bool) or not callable(learning_rate):
        if (isinstance(learning_rate, bool) or not isinstance(learning_rate, int | float) or not learning_rate > 0
                or learning_rate == float("inf")):
            raise ValueError(f"learning_rate must be a positive number; received {learning_rate!r}. (A schedule is "
                             "a callable step -> rate, or a torch.optim.lr_scheduler class or partial of one.)")
        return None
    check_schedule(learning_rate)
    return learning_rate


def _base_factory(optimizer: Any, rate: float | None, scheduled: bool, parameter: str,
                  fused: bool = False) -> OptimizerFactory:
    """The factory for ``optimizer`` at ``rate`` (None: its default); a name builds torch's fused implementation
    when ``fused`` and torch has one (:func:`fused_factory`)."""
    if isinstance(optimizer, str):
        cls, extra, default_lr = OPTIMIZERS[canonical_optimizer_name(optimizer, parameter)]
        named = functools.partial(cls, lr=default_lr if rate is None else rate, **extra)
        return fused_factory(named) if fused and cls in FUSED_CLASSES else named
    if _is_optimizer_class(optimizer) or _is_optimizer_partial(optimizer):
        return functools.partial(optimizer, lr=rate) if rate is not None else optimizer
    if isinstance(optimizer, torch.optim.Optimizer):
        if rate is not None and not scheduled:
            raise ValueError(f"learning_rate={rate!r} cannot be combined with an optimizer instance; it has its "
                             "learning rate already.")
        return _instance_factory(optimizer, parameter)
    if callable(optimizer) and _takes_no_argument(optimizer):
        return _base_factory(_zero_argument_spec(optimizer, parameter), rate, scheduled, parameter, fused)
    if callable(optimizer):
        if rate is not None and not scheduled:
            raise ValueError(
                f"learning_rate={rate!r} cannot be combined with a callable {parameter}; set the "
                "learning rate inside the factory."
            )
        return cast(OptimizerFactory, optimizer)  # a user factory: params -> Optimizer (``OptimizerSpec``)
    if type(optimizer).__name__ == "LinearSDCA":  # estimators.sdca: only the linear estimators take it
        raise ValueError(f"{parameter}=LinearSDCA(...) is only supported by LinearClassifier (binary) and "
                         "LinearRegressor (one label); pass a gradient optimizer name here instead.")
    raise ValueError(
        f"{parameter} must be None, a name in {optimizer_names()}, a torch.optim.Optimizer class or "
        f"functools.partial of one, or a callable params -> Optimizer; received {optimizer!r}."
    )


def _takes_no_argument(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` can be called with no argument but not with one (TF 2's ``lambda: Adam(...)`` factories)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: taken as a factory params -> Optimizer
        return False
    try:
        signature.bind(None)
    except TypeError:
        try:
            signature.bind()
        except TypeError:
            return False
        return True
    return False


def _zero_argument_spec(factory: Callable[[], Any], parameter: str) -> Any:
    """What a zero-argument ``factory`` returns, when that is a spec a torch optimizer can be built from.

    TF 2 documents ``optimizer=lambda: tf.keras.optimizers.Adam(...)``: a factory called without arguments,
    because a Keras optimizer learns its variables later. A torch optimizer needs its parameters when built,
    so the factory may return a name, a ``torch.optim.Optimizer`` class, a ``functools.partial`` of one, a
    callable ``params -> Optimizer`` or an instance built on exactly the parameters trained (it is called
    when the optimizer is checked); anything else, or a factory that cannot run without the parameters, is
    refused naming the forms estlab takes.
    """
    forms = (f"pass {parameter}= as a name ('Adam'), a torch.optim.Optimizer class (torch.optim.Adam), "
             "functools.partial(torch.optim.Adam, lr=0.01), or a callable taking the parameters "
             "(lambda params: torch.optim.Adam(params, lr=0.01))")
    name = getattr(factory, "__name__", type(factory).__name__)
    try:
        spec = factory()
    except Exception as err:  # noqa: BLE001 - any failure of the user's factory gets the same explanation
        raise ValueError(
            f"{parameter}={name} takes no argument (TF 2's `lambda: tf.keras.optimizers.Adam(...)`), and calling "
            f"it failed with {type(err).__name__}: {err}. A torch optimizer is built on the parameters it "
            f"trains, which the estimator creates later; {forms}."
        ) from err
    if isinstance(spec, str | torch.optim.Optimizer) or (callable(spec) and not _takes_no_argument(spec)):
        return spec  # an instance is then checked as one: it must hold exactly the parameters trained
    raise ValueError(f"{parameter}={name} takes no argument and returned {spec!r}, which is no optimizer spec; "
                     f"{forms}.")


def _instance_factory(instance: torch.optim.Optimizer, parameter: str) -> OptimizerFactory:
    """A factory returning ``instance`` when asked for exactly the parameters it was built on."""

    def factory(params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        wanted = {id(p) for p in params}
        held = {id(p) for group in instance.param_groups for p in group["params"]}
        if wanted != held:
            name = type(instance).__name__
            raise ValueError(
                f"{parameter} received a {name} instance built on other parameters than the {len(wanted)} this "
                f"estimator trains ({len(held)} held, {len(wanted & held)} in common); a premade estimator creates "
                f"its parameters when it builds its module, after the constructor. Pass the class "
                f"(torch.optim.{name}), a functools.partial(torch.optim.{name}, lr=...), a name, or a factory "
                "params -> Optimizer instead."
            )
        return instance

    return factory


def _is_optimizer_class(value: object) -> bool:
    """Whether ``value`` is a ``torch.optim.Optimizer`` subclass.

    A plain bool, not a type guard: narrowing to ``type[Optimizer]`` would take the base class's
    ``(params, defaults)`` signature, which the subclasses (``cls(params, lr=...)``) do not share.
    """
    return inspect.isclass(value) and issubclass(value, torch.optim.Optimizer)


def _is_optimizer_partial(value: object) -> bool:
    """Whether ``value`` is a ``functools.partial`` of an optimizer class (its ``lr`` can still be set)."""
    return isinstance(value, functools.partial) and _is_optimizer_class(value.func)


__all__ = [
    "OPTIMIZERS",
    "Ftrl",
    "LearningRate",
    "OptimizerFactory",
    "OptimizerSpec",
    "canonical_optimizer_name",
    "fused_factory",
    "has_sparse_gradients",
    "optimizer_names",
    "resolve_optimizer",
    "tf_default_optimizer",
]
