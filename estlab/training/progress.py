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

    A full-batch learner's run (``train_begin`` with ``full_batch=True``: baseline, boosted trees) is one fit:
    its bar counts that one step, not the run's nominal ``max_steps``. When the run ends the bar shows how:
    a finished run ends complete (green in a notebook) even if it reached its goal early, a stopped one
    amber, a failed one red. ``tqdm`` is imported when training begins; if it is missing the listener does
    nothing.
    """

    order = ORDER["loggers"]

    def __init__(self, every_n_steps: int = 50, bar_class: Any = None) -> None:
        self.every_n_steps = every_n_steps
        self.bar_class = bar_class  # a tqdm class; None: ``tqdm.auto.tqdm`` (the notebook bar in Jupyter)
        self._bar: Any = None
        self._step = 0

    def wants_loss(self, global_step: int) -> bool:
        return self._bar is not None and global_step % self.every_n_steps == 0

    def on_train_begin(self, event: Event) -> None:
        bar_class = self.bar_class
        if bar_class is None:
            try:
                import tqdm.auto
            except ImportError:  # tqdm comes with estlab[lab]
                return
            bar_class = tqdm.auto.tqdm
        start = int(event.get("start_step") or event["global_step"])
        target = event.get("target_step")
        total = int(target) - start if isinstance(target, int | float) and target > start else None
        full_batch = bool(event.get("full_batch"))
        self._step = int(event["global_step"])
        self._bar = bar_class(total=1 if full_batch else total, desc="fit (full batch)" if full_batch else "train",
                         unit="fit" if full_batch else "step", dynamic_ncols=True, leave=True)

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
        bar, status = self._bar, str(event.get("status", ""))
        self._bar = None
        bar.set_postfix_str(status, refresh=False)
        step = int(event.get("global_step") or self._step)
        bar.update(max(step - self._step, 0))  # a full-batch fit emits no step_end: its one step counts here
        self._step = step
        if status == "finished" and bar.total and 0 < bar.n < bar.total:
            bar.total = bar.n  # it reached its goal (early stopping, a full-batch fit): a complete bar
            _widget_bar(bar, "max", max(bar.n, 1))
        bar.close()
        if status == "stopped":
            _widget_bar(bar, "bar_style", "warning")  # tqdm's notebook bar says "danger" for any short bar


def _widget_bar(bar: Any, name: str, value: Any) -> None:
    """Set a trait of ``tqdm.notebook``'s progress widget (``container.children[1]``); other bars have none."""
    children: Any = getattr(getattr(bar, "container", None), "children", ())
    if len(children) > 1:
        setattr(children[1], name, value)


def progress_listener(config: Any = None) -> ProgressBar | None:
    """A :class:`ProgressBar` when :func:`progress_wanted` says so (the session's default), else ``None``."""
    return ProgressBar() if progress_wanted(config) else None
