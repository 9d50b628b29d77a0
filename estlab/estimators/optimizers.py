"""Optimizer names (TF's spellings) resolved through one dict to ``torch.optim`` factories.

``"Ftrl"`` has no torch counterpart: it maps to ``torch.optim.Adagrad`` with
``initial_accumulator_value=0.1`` (TF's FTRL default). FTRL-Proximal without L1/L2
regularisation (TF's default ``l1=l2=0``, ``learning_rate_power=-0.5``) takes the same
per-coordinate ``lr / sqrt(sum of squared gradients)`` steps as Adagrad, so this is TF's
``LinearClassifier`` default without its sparsity-inducing L1 term.

Examples
--------
>>> import torch
>>> factory = resolve_optimizer("adam", learning_rate=0.01)
>>> opt = factory([torch.nn.Parameter(torch.zeros(2))])
>>> type(opt).__name__, opt.param_groups[0]["lr"]
('Adam', 0.01)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeAlias

import torch

from estlab._util import did_you_mean
from estlab.estimators.choices import OPTIMIZER_NAMES, OPTIMIZER_TABLE

OptimizerFactory: TypeAlias = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]
#: A name, a ``torch.optim.Optimizer`` subclass (built as ``cls(params, lr=...)``) or a factory ``params -> Optimizer``.
OptimizerSpec: TypeAlias = str | Callable[..., torch.optim.Optimizer]

#: name → (torch optimizer class, extra keyword arguments, default learning rate); the names and
#: values are declared torch-free in :data:`estlab.estimators.choices.OPTIMIZER_TABLE`.
OPTIMIZERS: dict[str, tuple[Callable[..., torch.optim.Optimizer], dict[str, Any], float]] = {
    name: (getattr(torch.optim, cls_name), dict(extra), lr) for name, (cls_name, extra, lr) in OPTIMIZER_TABLE.items()
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


def resolve_optimizer(
    optimizer: OptimizerSpec, learning_rate: float | None = None, parameter: str = "optimizer"
) -> OptimizerFactory:
    """Turn an optimizer name, class or factory into ``factory(params) -> Optimizer``.

    Parameters
    ----------
    optimizer : str, type or callable
        A name from :data:`OPTIMIZERS` (case-insensitive), a ``torch.optim.Optimizer`` subclass
        (built with ``lr=learning_rate`` when given), or a callable ``params -> Optimizer`` (used as is;
        ``learning_rate`` must then be ``None``).
    learning_rate : float, optional
        Learning rate; ``None`` takes the name's default from :data:`OPTIMIZERS`.
    parameter : str
        The constructor argument's name, used in error messages.

    Examples
    --------
    >>> import torch
    >>> resolve_optimizer(torch.optim.SGD, 0.1)([torch.nn.Parameter(torch.zeros(1))]).param_groups[0]["lr"]
    0.1
    """
    if learning_rate is not None:
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
            raise ValueError(f"learning_rate must be a positive number; received {learning_rate!r}.")
    if isinstance(optimizer, str):
        cls, extra, default_lr = OPTIMIZERS[canonical_optimizer_name(optimizer, parameter)]
        lr = float(learning_rate) if learning_rate is not None else default_lr
        return partial(cls, lr=lr, **extra)
    if _is_optimizer_class(optimizer):
        return partial(optimizer, lr=float(learning_rate)) if learning_rate is not None else optimizer
    if isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"{parameter} received an optimizer instance ({type(optimizer).__name__}); pass a name, the class, "
            f"or a factory such as lambda params: torch.optim.{type(optimizer).__name__}(params, lr=...)."
        )
    if callable(optimizer):
        if learning_rate is not None:
            raise ValueError(
                f"learning_rate={learning_rate!r} cannot be combined with a callable {parameter}; set the "
                "learning rate inside the factory."
            )
        return optimizer
    raise ValueError(
        f"{parameter} must be a name in {optimizer_names()} or a callable params -> Optimizer; "
        f"received {optimizer!r}."
    )


def _is_optimizer_class(value: object) -> bool:
    """Whether ``value`` is a ``torch.optim.Optimizer`` subclass.

    A plain bool, not a type guard: narrowing to ``type[Optimizer]`` would take the base class's
    ``(params, defaults)`` signature, which the subclasses (``cls(params, lr=...)``) do not share.
    """
    return inspect.isclass(value) and issubclass(value, torch.optim.Optimizer)
