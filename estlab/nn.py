"""TF's ``tf.nn`` activation functions, so ``activation_fn=tf.nn.relu`` runs after ``import estlab as tf``.

Each function has TF's name, arguments and defaults and computes TF's definition with torch operations (so
it works as ``activation_fn=`` of the premade estimators, inside a module and in an export). ``name=`` is
accepted and ignored (torch has no op names). Only functions whose TF semantics torch reproduces exactly are
here; where the defaults differ, TF's default is kept:

=================  ==============================================  =========================================
function           TF's definition                                 torch
=================  ==============================================  =========================================
``relu``           ``max(x, 0)``                                   ``torch.relu``
``relu6``          ``min(max(x, 0), 6)``                           ``F.relu6``
``elu``            ``x`` if ``x > 0`` else ``exp(x) - 1``          ``F.elu`` (``alpha=1``)
``selu``           ``scale * elu(x, alpha)`` (TF's constants)      ``torch.selu`` (the same constants)
``sigmoid``        ``1 / (1 + exp(-x))``                           ``torch.sigmoid``
``tanh``           ``tanh(x)``                                     ``torch.tanh``
``softplus``       ``log(exp(x) + 1)``                             ``F.softplus``
``softsign``       ``x / (|x| + 1)``                               ``F.softsign``
``leaky_relu``     ``x`` if ``x > 0`` else ``alpha * x``,          ``F.leaky_relu(negative_slope=alpha)``
                   **alpha=0.2** (torch's default is 0.01)
``gelu``           ``approximate=False``: ``x * Phi(x)``; True:    ``F.gelu(approximate="none"/"tanh")``
                   the tanh formula
``silu``/``swish`` ``x * sigmoid(beta * x)``, ``beta=1``           ``F.silu`` (``beta == 1``)
``softmax``        along ``axis``, default the last                ``torch.softmax(dim=axis)``
``log_softmax``    along ``axis``, default the last                ``torch.log_softmax(dim=axis)``
=================  ==============================================  =========================================

Examples
--------
>>> import torch
>>> import estlab as tf
>>> tf.nn.leaky_relu(torch.tensor([-1.0, 2.0]))  # TF's alpha=0.2
tensor([-0.2000,  2.0000])
>>> tf.nn.elu.__module__  # activation_fn=tf.nn.elu in a premade estimator
'estlab.nn'
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def relu(features: Tensor, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.relu``: ``max(features, 0)``.

    Examples
    --------
    >>> relu(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return torch.relu(features)


def relu6(features: Tensor, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.relu6``: ``min(max(features, 0), 6)``.

    Examples
    --------
    >>> relu6(torch.tensor([-1.0, 7.0]))
    tensor([0., 6.])
    """
    return F.relu6(features)


def elu(features: Tensor, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.elu``: ``features`` where positive, else ``exp(features) - 1``.

    Examples
    --------
    >>> elu(torch.tensor([0.0, 1.0]))
    tensor([0., 1.])
    """
    return F.elu(features)


def selu(features: Tensor, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.selu``: ``1.0507009873554805 * elu(features, alpha=1.6732632423543772)``.

    Examples
    --------
    >>> selu(torch.tensor([1.0]))
    tensor([1.0507])
    """
    return torch.selu(features)


def sigmoid(x: Tensor, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.sigmoid`` (``tf.math.sigmoid``): ``1 / (1 + exp(-x))``.

    Examples
    --------
    >>> sigmoid(torch.tensor([0.0]))
    tensor([0.5000])
    """
    return torch.sigmoid(x)


def tanh(x: Tensor, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.tanh`` (``tf.math.tanh``).

    Examples
    --------
    >>> tanh(torch.tensor([0.0]))
    tensor([0.])
    """
    return torch.tanh(x)


def softplus(features: Tensor, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.softplus``: ``log(exp(features) + 1)``.

    Examples
    --------
    >>> softplus(torch.tensor([0.0]))
    tensor([0.6931])
    """
    return F.softplus(features)


def softsign(features: Tensor, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.softsign``: ``features / (abs(features) + 1)``.

    Examples
    --------
    >>> softsign(torch.tensor([1.0, -3.0]))
    tensor([ 0.5000, -0.7500])
    """
    return F.softsign(features)


def leaky_relu(features: Tensor, alpha: float = 0.2, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.leaky_relu``: ``features`` where positive, else ``alpha * features``; TF's ``alpha=0.2``.

    (``torch.nn.functional.leaky_relu`` defaults to a slope of 0.01.)

    Examples
    --------
    >>> leaky_relu(torch.tensor([-1.0, 2.0]))
    tensor([-0.2000,  2.0000])
    >>> leaky_relu(torch.tensor([-1.0]), alpha=0.01)
    tensor([-0.0100])
    """
    return F.leaky_relu(features, negative_slope=float(alpha))


def gelu(features: Tensor, approximate: bool = False, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.gelu``: ``features * Phi(features)`` (the normal CDF), or with ``approximate=True`` TF's
    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x ** 3)))``.

    Examples
    --------
    >>> gelu(torch.tensor([0.0, 1.0]))
    tensor([0.0000, 0.8413])
    """
    if not isinstance(approximate, bool):
        raise TypeError(
            f"gelu: approximate must be True or False (TF's flag), received {approximate!r}; torch's "
            "'tanh'/'none' strings are spelled approximate=True/False here."
        )
    return F.gelu(features, approximate="tanh" if approximate else "none")


def silu(features: Tensor, beta: float = 1.0) -> Tensor:
    """TF's ``tf.nn.silu`` (alias ``tf.nn.swish``): ``features * sigmoid(beta * features)``.

    Examples
    --------
    >>> silu(torch.tensor([0.0, 1.0]))
    tensor([0.0000, 0.7311])
    """
    if beta == 1.0:
        return F.silu(features)
    return features * torch.sigmoid(beta * features)


#: TF's ``tf.nn.swish``: the same function as :func:`silu`.
swish = silu


def softmax(logits: Tensor, axis: int | None = None, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.softmax``: ``exp(logits) / sum(exp(logits), axis)``; ``axis=None`` is the last axis.

    Examples
    --------
    >>> softmax(torch.tensor([[0.0, 0.0]]))
    tensor([[0.5000, 0.5000]])
    """
    return torch.softmax(logits, dim=-1 if axis is None else axis)


def log_softmax(logits: Tensor, axis: int | None = None, name: str | None = None) -> Tensor:
    """TF's ``tf.nn.log_softmax``: ``logits - log(sum(exp(logits), axis))``; ``axis=None`` is the last axis.

    Examples
    --------
    >>> log_softmax(torch.tensor([[0.0, 0.0]]))
    tensor([[-0.6931, -0.6931]])
    """
    return torch.log_softmax(logits, dim=-1 if axis is None else axis)


__all__ = [
    "elu",
    "gelu",
    "leaky_relu",
    "log_softmax",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]
