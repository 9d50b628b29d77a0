"""TF's hook timers: :class:`SecondOrStepTimer` (every N seconds or every N steps) and :class:`NeverTriggerTimer`.

Same semantics as ``tf.estimator.SecondOrStepTimer``: the first step asked about triggers; a step equal to the
last triggered one never does; ``update_last_triggered_step`` returns the seconds and steps since the previous
trigger (``(None, None)`` the first time). Wall-clock time is ``time.time()``, as TF's.

Examples
--------
>>> timer = SecondOrStepTimer(every_steps=10)
>>> timer.should_trigger_for_step(1)
True
>>> timer.update_last_triggered_step(1)
(None, None)
>>> timer.should_trigger_for_step(10), timer.should_trigger_for_step(11)
(False, True)
"""

from __future__ import annotations

import time


class SecondOrStepTimer:
    """Triggers at most once every ``every_secs`` seconds or once every ``every_steps`` steps (exactly one).

    Parameters
    ----------
    every_secs : float, optional
        Seconds between triggers.
    every_steps : int, optional
        Steps between triggers.

    Examples
    --------
    >>> SecondOrStepTimer(every_secs=60).should_trigger_for_step(0)
    True
    >>> SecondOrStepTimer()
    Traceback (most recent call last):
    ...
    ValueError: Either every_secs or every_steps should be provided.
    """

    def __init__(self, every_secs: float | None = None, every_steps: int | None = None) -> None:
        self.reset()
        self._every_secs = every_secs
        self._every_steps = every_steps
        if every_secs is None and every_steps is None:
            raise ValueError("Either every_secs or every_steps should be provided.")
        if every_secs is not None and every_steps is not None:
            raise ValueError("Can not provide both every_secs and every_steps.")
        for name, value in (("every_secs", every_secs), ("every_steps", every_steps)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TypeError(f"SecondOrStepTimer: {name} must be a number, got {value!r}")

    def reset(self) -> None:
        """Forget the last trigger: the next step asked about triggers."""
        self._last_triggered_step: int | None = None
        self._last_triggered_time: float | None = None

    def should_trigger_for_step(self, step: int) -> bool:
        """True when ``step`` is at least ``every_steps`` past, or ``every_secs`` after, the last trigger."""
        if self._last_triggered_step is None:
            return True
        if self._last_triggered_step == step:
            return False
        if self._every_secs is not None:
            assert self._last_triggered_time is not None
            if time.time() >= self._last_triggered_time + self._every_secs:
                return True
        return self._every_steps is not None and step >= self._last_triggered_step + self._every_steps

    def update_last_triggered_step(self, step: int) -> tuple[float | None, int | None]:
        """Record a trigger at ``step`` now; returns ``(elapsed_secs, elapsed_steps)`` since the previous one."""
        now = time.time()
        if self._last_triggered_time is None or self._last_triggered_step is None:
            elapsed: tuple[float | None, int | None] = (None, None)
        else:
            elapsed = (now - self._last_triggered_time, step - self._last_triggered_step)
        self._last_triggered_time, self._last_triggered_step = now, step
        return elapsed

    def last_triggered_step(self) -> int | None:
        """The step of the last trigger, or None."""
        return self._last_triggered_step


class NeverTriggerTimer(SecondOrStepTimer):
    """A timer that never triggers (``LoggingTensorHook(at_end=True)`` alone).

    Examples
    --------
    >>> NeverTriggerTimer().should_trigger_for_step(0)
    False
    """

    def __init__(self) -> None:
        self.reset()

    def should_trigger_for_step(self, step: int) -> bool:
        """Never."""
        return False

    def update_last_triggered_step(self, step: int) -> tuple[float | None, int | None]:
        """Nothing is recorded: ``(None, None)``."""
        return (None, None)
