"""Learning-rate schedules applied per optimizer step, with their position saved in the optimizer's state.

A schedule is attached to an optimizer with :func:`attach_schedule`, through torch's public optimizer hooks:
it then moves with every ``optimizer.step()`` the training loop takes (nothing else needs to step it), and
its position travels in ``optimizer.state_dict()``, so a resumed run continues the schedule where the
checkpoint left it. Two forms:

- a callable ``step -> learning rate`` (TF's ``tf.keras.optimizers.schedules.*``; e.g.
  :class:`ExponentialDecay`): before step ``k`` (0-based: the optimizer's own step count, TF's
  ``optimizer.iterations``) every parameter group's ``lr`` is set to ``schedule(k)``;
- a ``torch.optim.lr_scheduler`` class, or a ``functools.partial`` of one binding its arguments
  (``partial(ExponentialLR, gamma=0.96)``): built on the optimizer, and its ``step()`` called after
  every optimizer step, as torch documents.

Examples
--------
>>> import torch
>>> w = torch.nn.Parameter(torch.zeros(1))
>>> opt = attach_schedule(torch.optim.SGD([w], lr=1.0), ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5))
>>> for _ in range(3):
...     w.grad = torch.ones(1)
...     opt.step()
>>> round(w.item(), 6)  # -(0.1 + 0.05 + 0.025)
-0.175
"""

from __future__ import annotations

import functools
import inspect
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

#: the key under which a schedule's position is stored in ``optimizer.state_dict()``.
STATE_KEY = "estlab_lr_schedule"

_ATTACHED: weakref.WeakKeyDictionary[torch.optim.Optimizer, Any] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ExponentialDecay:
    """TF's ``tf.keras.optimizers.schedules.ExponentialDecay``: ``initial * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``step // decay_steps`` (the rate drops in stairs).

    Examples
    --------
    >>> schedule = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5, staircase=True)
    >>> schedule(0), schedule(199), schedule(200)
    (0.1, 0.05, 0.025)
    """

    initial_learning_rate: float
    decay_steps: int
    decay_rate: float
    staircase: bool = False

    def __post_init__(self) -> None:
        if not self.decay_steps > 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be > 0; received {self.decay_steps!r}.")

    def __call__(self, step: int) -> float:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return float(self.initial_learning_rate * self.decay_rate ** exponent)


def is_scheduler_factory(value: object) -> bool:
    """Whether ``value`` is a ``torch.optim.lr_scheduler`` class or a ``functools.partial`` of one.

    Examples
    --------
    >>> import functools, torch
    >>> is_scheduler_factory(functools.partial(torch.optim.lr_scheduler.StepLR, step_size=10))
    True
    >>> is_scheduler_factory(lambda step: 0.1)
    False
    """
    func = value.func if isinstance(value, functools.partial) else value
    return inspect.isclass(func) and issubclass(func, torch.optim.lr_scheduler.LRScheduler | _plateau())


def _plateau() -> type:
    return torch.optim.lr_scheduler.ReduceLROnPlateau


def check_schedule(schedule: object, parameter: str = "learning_rate") -> None:
    """Raise a ValueError unless ``schedule`` is a usable schedule (a callable or a scheduler factory).

    Examples
    --------
    >>> check_schedule(ExponentialDecay(0.1, 10, 0.9))
    """
    func = schedule.func if isinstance(schedule, functools.partial) else schedule
    if inspect.isclass(func) and issubclass(func, _plateau()):
        raise ValueError(
            f"{parameter}: ReduceLROnPlateau needs a metric at every step; use a step schedule, or lower the "
            "learning rate from a Listener's on_evaluate."
        )
    if not callable(schedule):
        raise ValueError(f"{parameter} must be a number, a callable step -> learning rate, or a "
                         f"torch.optim.lr_scheduler class (or functools.partial of one); received {schedule!r}.")


def initial_learning_rate(schedule: Callable[[int], Any], parameter: str = "learning_rate") -> float:
    """``schedule(0)`` as a positive float (the rate an optimizer is built with).

    Examples
    --------
    >>> initial_learning_rate(lambda step: 0.5 / (1 + step))
    0.5
    """
    return _rate(schedule, 0, parameter)


def _rate(schedule: Callable[[int], Any], step: int, parameter: str) -> float:
    value = schedule(step)
    rate = float(value.item() if isinstance(value, torch.Tensor) else value)
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"{parameter}: the schedule gave {rate!r} at step {step}; a learning rate must be a "
                         "finite number >= 0.")
    return rate


def attach_schedule(optimizer: torch.optim.Optimizer, schedule: Any,
                    parameter: str = "learning_rate") -> torch.optim.Optimizer:
    """Make ``optimizer`` follow ``schedule`` at every step; its position is saved in ``state_dict()``.

    Attaching the same schedule again does nothing; another schedule to an optimizer that already follows
    one is an error (it would step twice).

    Examples
    --------
    >>> import functools, torch
    >>> w = torch.nn.Parameter(torch.zeros(1))
    >>> opt = attach_schedule(torch.optim.SGD([w], lr=1.0),
    ...                       functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5))
    >>> w.grad = torch.ones(1)
    >>> opt.step()
    >>> opt.param_groups[0]["lr"]  # the rate of the next step
    0.5
    """
    check_schedule(schedule, parameter)
    if optimizer in _ATTACHED:
        if _ATTACHED[optimizer].source is schedule:
            return optimizer
        raise ValueError(f"{parameter}: this {type(optimizer).__name__} already follows a learning-rate schedule.")
    runner: _StepSchedule | _TorchScheduler
    if is_scheduler_factory(schedule):
        runner = _TorchScheduler(schedule, schedule(optimizer))
        optimizer.register_step_post_hook(runner.after_step)
    else:
        runner = _StepSchedule(schedule, parameter)
        optimizer.register_step_pre_hook(runner.before_step)
        optimizer.register_step_post_hook(runner.after_step)
    optimizer.register_state_dict_post_hook(runner.save)
    optimizer.register_load_state_dict_pre_hook(runner.load)
    _ATTACHED[optimizer] = runner
    return optimizer


class _StepSchedule:
    """``lr = schedule(steps taken)`` before every step."""

    def __init__(self, schedule: Callable[[int], Any], parameter: str) -> None:
        self.source = self.schedule = schedule
        self.parameter = parameter
        self.step = 0

    def before_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        rate = _rate(self.schedule, self.step, self.parameter)
        for group in optimizer.param_groups:
            group["lr"] = rate

    def after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.step += 1

    def save(self, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any]:
        return {**state_dict, STATE_KEY: {"step": self.step}}

    def load(self, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any]:
        saved = state_dict.pop(STATE_KEY, None)
        if isinstance(saved, dict) and "step" in saved:
            self.step = int(saved["step"])
        return state_dict


class _TorchScheduler:
    """A ``torch.optim.lr_scheduler`` stepped after every optimizer step."""

    def __init__(self, source: Any, scheduler: Any) -> None:
        self.source = source
        self.scheduler = scheduler

    def after_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.scheduler.step()

    def save(self, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any]:
        return {**state_dict, STATE_KEY: _plain(self.scheduler.state_dict())}

    def load(self, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any]:
        saved = state_dict.pop(STATE_KEY, None)
        if isinstance(saved, dict):
            self.scheduler.load_state_dict({**self.scheduler.state_dict(), **saved})
        return state_dict


def _plain(value: Any) -> Any:
    """Only numbers, strings, bools, None, and lists/dicts of them (what a ``weights_only`` checkpoint loads)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        items = [_plain(v) for v in value]
        return items if all(v is not _DROP for v in items) else _DROP
    if isinstance(value, dict):
        return {k: v for k, v in ((k, _plain(v)) for k, v in value.items()) if v is not _DROP}
    return _DROP


_DROP = object()

__all__ = ["STATE_KEY", "ExponentialDecay", "attach_schedule", "check_schedule", "initial_learning_rate",
           "is_scheduler_factory"]
