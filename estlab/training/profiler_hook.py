"""TF's ``ProfilerHook``: a ``torch.profiler`` trace of one step every N steps or seconds, as Chrome trace files.

Each traced step is written to ``<output_dir>/timeline-<global_step>.json`` (Chrome trace format, open it in
``chrome://tracing`` or Perfetto), atomically. The first step of a ``train`` call is traced, then one step each
``save_steps`` steps / ``save_secs`` seconds, as TF's hook. CPU activity is traced, and CUDA kernels when
the model trains on a GPU. ``show_memory=True`` records tensor allocations (``profile_memory``);
``show_dataflow`` has no torch counterpart and is accepted and ignored.

Examples
--------
>>> hook = ProfilerHook(save_steps=100, output_dir="/tmp/profile")
>>> hook.output_file.format(300)
'/tmp/profile/timeline-300.json'
"""

from __future__ import annotations

import logging
import os
from typing import Any

from estlab.training.events import Event
from estlab.training.hook_timers import SecondOrStepTimer
from estlab.training.session_run_hook import (
    SessionRunArgs,
    SessionRunContext,
    SessionRunHook,
    SessionRunValues,
)

logger = logging.getLogger(__name__)


class ProfilerHook(SessionRunHook):
    """Trace one training step every ``save_steps`` steps or ``save_secs`` seconds into ``output_dir``.

    Parameters
    ----------
    save_steps, save_secs : int, float, optional
        Cadence (exactly one).
    output_dir : str
        Directory of the ``timeline-<step>.json`` files (default: the current directory, as TF).
    show_dataflow : bool
        Accepted, ignored (no torch counterpart).
    show_memory : bool
        Record tensor allocations.

    Examples
    --------
    >>> ProfilerHook()
    Traceback (most recent call last):
    ...
    ValueError: Either every_secs or every_steps should be provided.
    """

    def __init__(
        self,
        save_steps: int | None = None,
        save_secs: float | None = None,
        output_dir: str | os.PathLike = "",
        show_dataflow: bool = True,
        show_memory: bool = False,
    ) -> None:
        self._timer = SecondOrStepTimer(every_secs=save_secs, every_steps=save_steps)
        self.output_dir = os.fspath(output_dir)
        self.output_file = os.path.join(self.output_dir, "timeline-{}.json")
        self.show_dataflow, self.show_memory = show_dataflow, show_memory
        self._next_step: int | None = None
        self._profiler: Any = None
        #: paths of the traces written, in order
        self.written: list[str] = []

    def begin(self) -> None:
        self._next_step = None

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs:
        if self._next_step is None or self._timer.should_trigger_for_step(self._next_step):
            self._profiler = self._start()
        return SessionRunArgs("global_step")

    def _start(self) -> Any:
        import torch
        from torch.profiler import ProfilerActivity, profile

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        profiler = profile(
            activities=activities, profile_memory=self.show_memory, record_shapes=self.show_memory
        )
        profiler.start()
        return profiler

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        global_step = run_values.results + 1
        profiler, self._profiler = self._profiler, None
        if profiler is not None:
            profiler.stop()
            self._timer.update_last_triggered_step(global_step)
            self._save(profiler, self.output_file.format(global_step), global_step)
        self._next_step = global_step + 1

    def _save(self, profiler: Any, path: str, step: int) -> None:
        logger.info("Saving timeline for %d into '%s'.", step, path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp-{os.getpid()}")
        try:
            profiler.export_chrome_trace(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self.written.append(path)

    def on_train_end(self, event: Event) -> None:
        if self._profiler is not None:  # a trace started for a step that did not run
            self._profiler.stop()
            self._profiler = None
        super().on_train_end(event)
