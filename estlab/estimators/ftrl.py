"""FTRL-Proximal (TF's ``tf.keras.optimizers.Ftrl`` / ``tf.compat.v1.train.FtrlOptimizer``) as a torch optimizer.

TF's update, per coordinate, with gradient ``g``, weight ``w``, accumulator ``n`` (starts at
``initial_accumulator_value``) and linear term ``z`` (starts at 0), ``p = -learning_rate_power``::

    g_s   = g + 2 * l2_shrinkage * w                    # shrinkage-type L2 (a loss penalty)
    n_new = n + g ** 2                                  # the raw gradient, not g_s
    z    += g_s - (n_new ** p - n ** p) / lr * w
    q     = n_new ** p / lr + 2 * (l2 + beta / (2 * lr))
    w     = (clip(z, -l1, l1) - z) / q                  # 0 where |z| <= l1: L1 makes weights exactly 0
    n     = n_new

A sparse gradient (``nn.Embedding(sparse=True)``) updates only the rows it holds, as TF's sparse apply
(duplicate indices summed first). A dense gradient updates every coordinate, as TF's dense apply; a zero
gradient leaves ``z``, ``n`` and ``w`` unchanged unless ``l2_shrinkage_regularization_strength > 0``.

Examples
--------
>>> import torch
>>> w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
>>> opt = Ftrl([w], lr=0.1)
>>> w.grad = torch.tensor([0.5], dtype=torch.float64)
>>> opt.step()
>>> round(w.item(), 6)  # -0.5 / (sqrt(0.1 + 0.25) / 0.1)
-0.084515
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


class Ftrl(torch.optim.Optimizer):
    """FTRL-Proximal with TF's arguments and update (see the module docstring for the formulas).

    Parameters
    ----------
    params : iterable
        Parameters (or parameter groups) to optimise.
    lr : float
        Learning rate (TF's ``learning_rate``; Keras' default 0.001). A schedule may change
        ``param_groups[i]["lr"]`` between steps, as for any torch optimizer.
    learning_rate_power : float
        ``<= 0``; how the per-coordinate rate decays with the accumulated squared gradient (0: fixed rate).
    initial_accumulator_value : float
        ``>= 0``; starting value of the squared-gradient accumulator.
    l1_regularization_strength : float
        ``>= 0``; L1 strength, makes weights exactly zero.
    l2_regularization_strength : float
        ``>= 0``; the paper's (stabilising) L2 strength.
    l2_shrinkage_regularization_strength : float
        ``>= 0``; L2 added to the loss (magnitude penalty), applied through the gradient.
    beta : float
        ``>= 0``; TF's ``beta`` (adds ``beta / (2 * lr)`` to the L2 strength).

    Examples
    --------
    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = Ftrl([w], lr=0.2, l1_regularization_strength=1.0)
    >>> w.grad = torch.tensor([0.5, 3.0])
    >>> opt.step()
    >>> w.detach().tolist()[0]  # |z| = 0.5 <= l1: exactly zero
    0.0
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.001,
        learning_rate_power: float = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        l2_shrinkage_regularization_strength: float = 0.0,
        beta: float = 0.0,
    ) -> None:
        checks = {
            "lr": (lr, lr > 0, "> 0"),
            "learning_rate_power": (learning_rate_power, learning_rate_power <= 0, "<= 0"),
            "initial_accumulator_value": (initial_accumulator_value, initial_accumulator_value >= 0, ">= 0"),
            "l1_regularization_strength": (l1_regularization_strength, l1_regularization_strength >= 0, ">= 0"),
            "l2_regularization_strength": (l2_regularization_strength, l2_regularization_strength >= 0, ">= 0"),
            "l2_shrinkage_regularization_strength": (l2_shrinkage_regularization_strength,
                                                     l2_shrinkage_regularization_strength >= 0, ">= 0"),
            "beta": (beta, beta >= 0, ">= 0"),
        }
        for name, (value, ok, rule) in checks.items():
            if not ok:
                raise ValueError(f"Ftrl: {name} must be {rule}; received {value!r}.")
        defaults = {
            "lr": float(lr),
            "learning_rate_power": float(learning_rate_power),
            "initial_accumulator_value": float(initial_accumulator_value),
            "l1_regularization_strength": float(l1_regularization_strength),
            "l2_regularization_strength": float(l2_regularization_strength),
            "l2_shrinkage_regularization_strength": float(l2_shrinkage_regularization_strength),
            "beta": float(beta),
        }
        super().__init__(params, defaults)
        self._flat_states: dict[tuple[int, ...], _FlatState] = {}  # per group of dense parameters (a cache)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._flat_states = {}  # not pickled: rebuilt from ``state`` at the next step

    # torch wraps these base methods so that torch._dynamo skips them, and the wrapper imports torch._dynamo
    # (~1 s, ~800 modules with sympy) on its first call; FTRL is never compiled, so it calls the plain methods
    # and a linear model trains without that import.
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """As ``torch.optim.Optimizer.add_param_group`` (without importing ``torch._dynamo``)."""
        _plain("add_param_group")(self, param_group)

    def state_dict(self) -> dict[str, Any]:
        """As ``torch.optim.Optimizer.state_dict`` (without importing ``torch._dynamo``)."""
        return _plain("state_dict")(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """As ``torch.optim.Optimizer.load_state_dict`` (without importing ``torch._dynamo``)."""
        _plain("load_state_dict")(self, state_dict)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """As ``torch.optim.Optimizer.zero_grad`` (without importing ``torch._dynamo``)."""
        _plain("zero_grad")(self, set_to_none)

    def _state_of(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["accumulator"] = torch.full_like(p, group["initial_accumulator_value"],
                                                   memory_format=torch.preserve_format)
            state["linear"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One FTRL-Proximal update of every parameter that has a gradient.

        Examples
        --------
        >>> import torch
        >>> w = torch.nn.Parameter(torch.zeros(1))
        >>> Ftrl([w], lr=0.1).step() is None  # no gradient yet: nothing changes
        True
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            dense: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state_of(p, group)
                if p.grad.is_sparse:
                    _sparse_update(p, p.grad, state, group)
                else:
                    dense.setdefault((p.device, p.dtype), []).append(p)
            for params in dense.values():  # all dense parameters of one device and dtype: one op per formula
                _update_all(self, params, [self.state[p] for p in params], group)
        return loss


def _plain(name: str) -> Callable[..., Any]:
    """``torch.optim.Optimizer``'s method ``name`` without torch's dynamo-skipping wrapper (when it has one)."""
    method = getattr(torch.optim.Optimizer, name)
    return getattr(method, "__wrapped__", method)


def _proximal(grad: torch.Tensor, weight: torch.Tensor, accum: torch.Tensor, linear: torch.Tensor,
              group: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TF's FTRL update on aligned tensors: ``(new weight, new accumulator, new linear)``."""
    lr, power = group["lr"], -group["learning_rate_power"]
    l1, l2 = group["l1_regularization_strength"], group["l2_regularization_strength"]
    l2 = l2 + group["beta"] / (2.0 * lr)
    shrunk = grad + 2.0 * group["l2_shrinkage_regularization_strength"] * weight
    new_accum = accum + grad * grad
    new_linear = linear + shrunk - (new_accum.pow(power) - accum.pow(power)) / lr * weight
    quadratic = new_accum.pow(power) / lr + 2.0 * l2
    new_weight = (new_linear.clamp(-l1, l1) - new_linear) / quadratic
    return new_weight, new_accum, new_linear


class _FlatState:
    """The accumulators and linear terms of several parameters as two flat vectors; each parameter's state entries
    are views into them, so one op updates all and ``state_dict`` still holds one tensor per parameter."""

    def __init__(self, params: list[torch.Tensor], states: list[dict[str, Any]]) -> None:
        self.accumulator = torch.cat([s["accumulator"].reshape(-1) for s in states])
        self.linear = torch.cat([s["linear"].reshape(-1) for s in states])
        self.sizes = [p.numel() for p in params]
        self.views: list[tuple[torch.Tensor, torch.Tensor]] = []
        for p, s, accum, linear in zip(params, states, self.accumulator.split(self.sizes),
                                       self.linear.split(self.sizes), strict=True):
            s["accumulator"], s["linear"] = accum.view_as(p), linear.view_as(p)
            self.views.append((s["accumulator"], s["linear"]))

    def holds(self, states: list[dict[str, Any]]) -> bool:
        """True while every state entry is still this object's view (a ``load_state_dict`` replaces them)."""
        return len(states) == len(self.views) and all(
            s["accumulator"] is a and s["linear"] is z for s, (a, z) in zip(states, self.views, strict=True))


def _update_all(optimizer: Ftrl, params: list[torch.Tensor], states: list[dict[str, Any]],
                group: dict[str, Any]) -> None:
    """``_proximal`` on many dense parameters of one device and dtype at once: gradients and weights
    concatenated, the state kept flat (:class:`_FlatState`), one ``_proximal`` over the vectors (a dozen kernel
    launches, not a dozen per parameter), the weights copied back. Elementwise: exactly the per-parameter values."""
    if len(params) == 1:
        p, state = params[0], states[0]
        weight, accum, linear = _proximal(p.grad.to(p.dtype), p.detach(), state["accumulator"],  # type: ignore[union-attr]
                                          state["linear"], group)
        p.detach().copy_(weight)
        state["accumulator"].copy_(accum)
        state["linear"].copy_(linear)
        return
    key = tuple(id(p) for p in params)
    flat = optimizer._flat_states.get(key)
    if flat is None or not flat.holds(states):
        flat = optimizer._flat_states[key] = _FlatState(params, states)
    weights = [p.detach() for p in params]
    grads = torch.cat([p.grad.reshape(-1) for p in params])  # type: ignore[union-attr]
    weight, accum, linear = _proximal(grads.to(weights[0].dtype), torch.cat([w.reshape(-1) for w in weights]),
                                      flat.accumulator, flat.linear, group)
    flat.accumulator.copy_(accum)
    flat.linear.copy_(linear)
    torch._foreach_copy_(weights, [v.view_as(w) for v, w in zip(weight.split(flat.sizes), weights, strict=True)])


def _sparse_update(p: torch.Tensor, grad: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
    """Only the rows the sparse gradient holds (duplicates summed), as TF's ``SparseApplyFtrl``."""
    grad = grad.coalesce()
    rows = grad.indices()[0]
    values = grad.values().to(p.dtype)
    accum, linear = state["accumulator"], state["linear"]
    weight, new_accum, new_linear = _proximal(values, p[rows], accum[rows], linear[rows], group)
    p.index_copy_(0, rows, weight)
    accum.index_copy_(0, rows, new_accum)
    linear.index_copy_(0, rows, new_linear)


__all__ = ["Ftrl"]
