"""A progress bar for ``train()``: a ``tqdm.auto`` listener, on in notebooks and off in scripts by default.

:func:`progress_listener` is what a training session adds to its defaults: a :class:`ProgressBar` when the
bar is wanted, else ``None``. Whether it is wanted, first match wins:

1. ``RunConfig(progress=True/False)``, once ``RunConfig`` has that field (``None``/absent: decide below);
2. the environment variable ``ESTLAB_PROGRESS``: ``0``/``false``/``off`` silences, ``1``/``true``/``on`` asks
   for it in scripts too;
3. otherwise on inside a Jupyter kernel (IPython's ``ZMQInteractiveShell``), off elsewhere.

``tqdm`` comes with ``estlab[lab]``; without it there is no bar. Only the chief draws (under torchrun).

Examples
--------
>>> bar = ProgressBar()
>>> bar.order > 0
True
"""

from __future__ import annotations

import os
import sys
from typing import Any

from estlab.training.events import ORDER, Event, Listener

#: the environment switch: "0"/"false"/"off" silences the bar, "1"/"true"/"on" shows it in scripts too
ENV_VAR = "ESTLAB_PROGRESS"


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython's ``ZMQInteractiveShell``)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_wanted(config: Any = None) -> bool:
    """Whether ``train()`` shows a bar: ``config.progress`` if set, else ``ESTLAB_PROGRESS``, else in notebooks.

    Examples
    --------
    >>> import os
    >>> os.environ[ENV_VAR] = "off"; progress_wanted()
    False
    >>> del os.environ[ENV_VAR]
    """
    chosen = getattr(config, "progress", None)
    if chosen is not None:
        return bool(chosen)
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env in ("0", "false", "off", "no"):
        return False
    if env in ("1", "true", "on", "yes"):
        return True
    return in_notebook()


class ProgressBar(Listener):
    """A ``tqdm.auto`` bar over training steps (target from ``train_begin``), with the latest loss.

    ``tqdm`` is imported when training begins; if it is missing the listener does nothing.
    """

    order = ORDER["loggers"]

    def __init__(self, every_n_steps: int = 50) -> None:
        self.every_n_steps = every_n_steps
        self._bar: Any = None
        self._step = 0

    def wants_loss(self, global_step: int) -> bool:
        return self._bar is not None and global_step % self.every_n_steps == 0

    def on_train_begin(self, event: Event) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm comes with estlab[lab]
            return
        start = int(event.get("start_step") or event["global_step"])
        target = event.get("target_step")
        total = int(target) - start if isinstance(target, int | float) and target > start else None
        self._step = int(event["global_step"])
        self._bar = tqdm(total=total, desc="train", unit="step", dynamic_ncols=True, leave=True)

    def on_step_end(self, event: Event) -> None:
        if self._bar is None:
            return
        step = int(event["global_step"])
        self._bar.update(max(step - self._step, 0))
        self._step = step
        if event.get("loss") is not None:
            self._bar.set_postfix(loss=f"{event['loss']:.4g}", refresh=False)

    def on_train_end(self, event: Event) -> None:
        if self._bar is None:
            return
        self._bar.set_postfix_str(str(event.get("status", "")), refresh=False)
        self._bar.close()
        self._bar = None


def progress_listener(config: Any = None) -> ProgressBar | None:
    """A :class:`ProgressBar` when :func:`progress_wanted` says so (the session's default), else ``None``."""
    return ProgressBar() if progress_wanted(config) else None
