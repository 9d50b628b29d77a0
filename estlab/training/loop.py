"""The training loop: iterate index batches, forward, loss, backward, step, emit events, check the stop flag.

Everything else (checkpoints, TensorBoard, logging, early stopping, history, widgets) is a listener.
The loss is synchronised to the host only at steps some listener needs (``Listener.wants_loss``), or
after ``SYNC_WINDOW`` steps; between those the losses wait in a device buffer (one small copy per
step, no host sync), ``step_end`` carries ``loss=None``, and a NaN is still traced to its exact step.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from estlab.training import distributed
from estlab.training.events import Control

#: Steps whose losses wait on the device before a sync is forced (bounds the buffer; NaN checks stay exact).
SYNC_WINDOW = 1024
#: Under torchrun a stop request is agreed across ranks (one collective) every this many steps.
DISTRIBUTED_STOP_CHECK_STEPS = 8


class NanLossError(FloatingPointError):
    """The training loss became NaN or infinite (TF's ``NanLossDuringTrainingError``)."""


@dataclass
class LoopTask:
    """What one training run steps over (the estimator builds it).

    ``loss_fn(logits, labels, weights)``; ``rows`` maps batcher indices to this rank's rows;
    ``forward(batch) -> logits`` defaults to calling ``module``.
    """

    module: torch.nn.Module
    optimizers: list[torch.optim.Optimizer]
    loss_fn: Callable[..., torch.Tensor]
    features: dict[str, torch.Tensor]
    labels: torch.Tensor
    weights: torch.Tensor | None
    batches: Iterator[torch.Tensor]
    start_step: int
    target_step: int | None
    device: torch.device
    rows: torch.Tensor | None = None
    autocast_dtype: torch.dtype | None = None
    scaler: Any = None
    forward: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None
    begin_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoopResult:
    """How a run ended: ``status`` ("finished" | "stopped"), ``reason``, ``global_step``, ``final_loss``."""

    status: str
    reason: str
    global_step: int
    final_loss: float | None


def run_loop(task: LoopTask, control: Control) -> LoopResult:
    """Train until ``task.target_step``, the input's end or a stop request; always ends with a checkpoint.

    A NaN/inf loss raises ``NanLossError`` (no checkpoint is written after it). ``KeyboardInterrupt``
    writes a final checkpoint, emits ``train_end`` (``"stopped"``) and is re-raised.
    """
    step = control.global_step = task.start_step
    window = torch.zeros(SYNC_WINDOW, device=task.device)  # losses since the last sync, on the device
    pending, final_loss, status, reason, interrupted = 0, None, "finished", "reached the target step", None
    autocast = (torch.autocast(task.device.type, dtype=task.autocast_dtype) if task.autocast_dtype
                else contextlib.nullcontext())
    control.emit("train_begin", start_step=step, target_step=task.target_step, device=str(task.device),
                 **task.begin_info)
    window_start, window_rows, seen = time.perf_counter(), 0, 0
    forward = task.forward or task.module
    world_size = distributed.get_world_size()
    pin = task.device.type == "cuda"

    def sync() -> float:
        nonlocal pending
        losses = window[:pending].tolist()  # the one device-to-host copy
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        if bad is not None:
            raise NanLossError(f"loss is NaN or infinite at step {step - pending + bad + 1}; the last good "
                               "checkpoint is kept. Lower the learning rate, check the inputs for NaN/inf, "
                               "or clip gradients")
        pending = 0
        return sum(losses) / len(losses)

    try:
        task.module.train()
        while task.target_step is None or step < task.target_step:
            if (control.stop_requested if world_size == 1  # one process: checked every batch
                    else step % DISTRIBUTED_STOP_CHECK_STEPS == 0 and distributed.any_rank(control.stop_requested)):
                status, reason = "stopped", control.stop_reason or "stop requested"
                break
            idx = next(task.batches, None)
            if idx is None:
                reason = "input exhausted"
                break
            rows = idx if task.rows is None else task.rows[idx]
            if pin:  # from pinned memory the copy is truly asynchronous: the host does not wait for the GPU
                rows = rows.pin_memory()
            rows = rows.to(task.device, non_blocking=True)
            with autocast:
                logits = forward({k: v[rows] for k, v in task.features.items()})
                loss = task.loss_fn(logits, task.labels[rows], None if task.weights is None else task.weights[rows])
            for optimizer in task.optimizers:
                optimizer.zero_grad(set_to_none=True)
            (loss if task.scaler is None else task.scaler.scale(loss)).backward()
            for optimizer in task.optimizers:
                optimizer.step() if task.scaler is None else task.scaler.step(optimizer)
            if task.scaler is not None:
                task.scaler.update()
            step = control.global_step = step + 1
            window[pending] = loss.detach()
            pending, window_rows, seen = pending + 1, window_rows + len(rows), seen + len(rows)
            wanted = [listener.wants_loss(step) for listener in control.listeners]
            value = sync() if any(wanted) or step == task.target_step or pending == SYNC_WINDOW else None
            final_loss = value if value is not None else final_loss
            now = time.perf_counter()
            rate = window_rows / max(now - window_start, 1e-9)
            window_start, window_rows = (now, 0) if value is not None else (window_start, window_rows)
            control.emit("step_end", loss=value, learning_rate=float(task.optimizers[0].param_groups[0]["lr"])
                         if task.optimizers else 0.0, examples_per_sec=rate,
                         epoch=int(getattr(task.batches, "epoch", 0)), examples_seen=seen)
    except KeyboardInterrupt as error:
        status, reason, interrupted = "stopped", "KeyboardInterrupt", error
    except BaseException as error:
        control.emit("train_end", status="failed", reason=type(error).__name__, error=str(error),
                     final_loss=final_loss)
        raise
    try:
        final_loss = sync() if pending else final_loss
        control.save_checkpoint()  # always: listener state and history may have changed since the last one
    except BaseException as error:
        control.emit("train_end", status="failed", reason=type(error).__name__, error=str(error),
                     final_loss=final_loss)
        raise
    control.emit("train_end", status=status, reason=reason, error=None, final_loss=final_loss)
    if interrupted is not None:
        raise interrupted
    return LoopResult(status, reason, step, final_loss)
