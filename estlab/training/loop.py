"""The training loop: iterate index batches, forward, loss, backward, step, emit events, check the stop flag.

Everything else (checkpoints, TensorBoard, logging, early stopping, history, widgets) is a listener.
The loss is synchronised to the host only at steps some listener needs (``Listener.wants_loss``), or
after ``SYNC_WINDOW`` steps; between those the losses wait in a device buffer (one small copy per
step, no host sync), ``step_end`` carries ``loss=None``, and a NaN is still traced to its exact step.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from estlab.training import distributed
from estlab.training.events import Control
from estlab.training.row_gather import RowGather

logger = logging.getLogger(__name__)

#: Steps whose losses wait on the device before a sync is forced (bounds the buffer; NaN checks stay exact).
SYNC_WINDOW = 1024
#: Under torchrun a stop request is agreed across ranks (one collective) every this many steps.
DISTRIBUTED_STOP_CHECK_STEPS = 8
#: Rows of the latest training batch the model is probed on (eval mode, no grad) before each checkpoint.
PROBE_ROWS = 64
#: batch tensors are packed (one index op per dtype) when a run reads at least 1 / this of the input's rows
PACK_AFTER_EPOCH_FRACTION = 3
#: ``train_end`` reason prefix of a run a NaN loss stopped (``NanTensorHook(fail_on_nan_loss=False)``)
DIVERGED = "diverged: "


class NanLossError(FloatingPointError):
    """The training loss, or the model's outputs after a step, became NaN or infinite.

    TF's ``NanLossDuringTrainingError``; no checkpoint of the broken model is written.
    """


def probe_model(module: torch.nn.Module, forward: Callable[[dict[str, torch.Tensor]], torch.Tensor],
                batch: dict[str, torch.Tensor] | None, autocast: Any = None) -> str | None:
    """Why the model in its current state is unusable (non-finite weights or outputs), or None when healthy.

    The weights and buffers are checked (one reduction), then, when ``batch`` is given, the outputs of
    ``forward(batch)`` in eval mode without gradients (what evaluation, prediction and an export compute).
    The training loop calls it before every checkpoint it writes (``Control.before_save``), so a checkpoint
    never keeps a model whose weights a step blew up, even when that step's loss (computed before the
    update) was finite.

    Examples
    --------
    >>> m = torch.nn.Linear(1, 1)
    >>> with torch.no_grad():
    ...     _ = m.weight.fill_(10.0)
    >>> forward = lambda batch: m(batch["x"])
    >>> probe_model(m, forward, {"x": torch.ones(2, 1)}) is None
    True
    >>> probe_model(m, forward, {"x": torch.full((2, 1), 1e38)})  # finite weights, outputs overflow
    'its outputs are NaN or infinite for 2 of 2 probe rows'
    >>> with torch.no_grad():
    ...     _ = m.weight.fill_(float("inf"))
    >>> probe_model(m, forward, None)
    "parameter 'weight' holds non-finite values"
    """
    for kind, named in (("parameter", module.named_parameters()), ("buffer", module.named_buffers())):
        tensors = [(name, t) for name, t in named if t.is_floating_point() and t.numel()]
        if tensors and not bool(torch.stack([t.detach().isfinite().all() for _, t in tensors]).all()):
            bad = next(name for name, t in tensors if not bool(t.detach().isfinite().all()))
            return f"{kind} {bad!r} holds non-finite values"
    if batch is None:
        return None
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), (autocast if autocast is not None else contextlib.nullcontext()):
            out = forward(batch)
    finally:
        module.train(was_training)
    if isinstance(out, torch.Tensor) and out.is_floating_point() and not bool(out.isfinite().all()):
        rows = int((~out.detach().reshape(out.shape[0], -1).isfinite()).any(dim=1).sum()) if out.dim() else 1
        return f"its outputs are NaN or infinite for {rows} of {out.shape[0] if out.dim() else 1} probe rows"
    return None


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
    #: TF's ``clip_gradients``: the global norm of all gradients is scaled down to at most this (None: off).
    clip_gradients: float | None = None


@dataclass(frozen=True)
class LoopResult:
    """How a run ended: ``status`` ("finished" | "stopped"), ``reason``, ``global_step``, ``final_loss``."""

    status: str
    reason: str
    global_step: int
    final_loss: float | None
    #: a NaN loss stopped the run (a listener's ``stop_on_nan_loss``): the in-memory model is not to be kept
    diverged: bool = False


def _learning_rate(task: LoopTask) -> float | str:
    return float(task.optimizers[0].param_groups[0]["lr"]) if task.optimizers else "not set"


def clear_grads(optimizers: list[torch.optim.Optimizer]) -> None:
    """``optimizer.zero_grad(set_to_none=True)`` for each, without torch's per-call wrapper where it is torch's own.

    ``Optimizer.zero_grad`` is wrapped by torch to keep ``torch.compile`` from tracing it (~30 us a call, and
    its first call imports ``torch._dynamo``); with ``set_to_none`` it only sets every ``grad`` to None, which
    is done here directly. An optimizer class with its own ``zero_grad`` gets its own.

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.ones(1)); p.grad = torch.ones(1)
    >>> clear_grads([torch.optim.SGD([p], lr=0.1)]); p.grad is None
    True
    """
    for optimizer in optimizers:
        if type(optimizer).zero_grad is not torch.optim.Optimizer.zero_grad:
            optimizer.zero_grad(set_to_none=True)
            continue
        for group in optimizer.param_groups:
            for param in group["params"]:
                param.grad = None


def clip_by_global_norm(optimizers: list[torch.optim.Optimizer], clip_norm: float) -> torch.Tensor:
    """Scale all gradients by ``min(1, clip_norm / global_norm)`` in place (TF's ``clip_by_global_norm``).

    The global norm is over every gradient of every optimizer; it stays on the device (no host sync).
    Returns the norm before clipping.

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.zeros(2)); p.grad = torch.tensor([3.0, 4.0])
    >>> float(clip_by_global_norm([torch.optim.SGD([p], lr=0.1)], 1.0)), p.grad.tolist()
    (5.0, [0.6000000238418579, 0.800000011920929])
    """
    grads = [p.grad for o in optimizers for g in o.param_groups for p in g["params"] if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norms = [torch.linalg.vector_norm(g.coalesce().values() if g.is_sparse else g, dtype=torch.float32)
             for g in grads]
    total = torch.linalg.vector_norm(torch.stack([n.to(norms[0].device) for n in norms]))
    scale = torch.clamp(clip_norm / total, max=1.0)  # a zero norm gives inf, clamped to 1: nothing to clip
    for grad in grads:
        grad.mul_(scale.to(device=grad.device, dtype=grad.dtype))
    return total


def _room_to_pack(tensors: list[torch.Tensor]) -> bool:
    """Packing copies the tensors once: on a CUDA device only while that needs at most half of its free memory
    (the model and its batches keep the rest); on the host the copy is one more set of the encoded tensors, which
    the memory benchmark counts."""
    device = tensors[0].device
    if device.type != "cuda":
        return True
    free, _total = torch.cuda.mem_get_info(device)
    return 2 * sum(t.element_size() * t.numel() for t in tensors if t.device == device) <= free


def _pack_quietly(gather: RowGather) -> None:
    try:
        gather.pack()
    except Exception as error:  # e.g. out of memory for the copy: batches keep being gathered one by one
        logger.debug("batch tensors not packed: %s", error)


def batch_rows(task: LoopTask) -> Callable[[torch.Tensor], tuple[dict[str, torch.Tensor], torch.Tensor,
                                                                  torch.Tensor | None]]:
    """``rows -> (features, labels, weights)`` of one batch: one index op per dtype (:class:`RowGather`) when
    the run reads enough rows to repay packing the tensors once, else one per tensor.

    Packing copies the in-memory tensors once (~0.1 s per million Adult rows) and saves ~0.25 us per row and
    tensor gathered, so it pays from about a third of an epoch on; streamed inputs (whose tensors change with
    each chunk) are never packed.

    Examples
    --------
    >>> import torch
    >>> task = LoopTask(torch.nn.Linear(1, 1), [], None, {"x": torch.tensor([1.0, 2.0])}, torch.tensor([0.0, 1.0]),
    ...                 None, iter([]), 0, None, torch.device("cpu"))
    >>> features, labels, weights = batch_rows(task)(torch.tensor([1]))
    >>> features["x"].tolist(), labels.tolist(), weights
    ([2.0], [1.0], None)
    """
    features, labels, weights = task.features, task.labels, task.weights
    tensors = [*features.values(), labels, *([] if weights is None else [weights])] if type(features) is dict else []
    n = labels.shape[0] if isinstance(labels, torch.Tensor) and labels.dim() else 0
    batch_size = getattr(task.batches, "batch_size", None)
    steps = None if task.target_step is None else task.target_step - task.start_step
    reads = float("inf") if steps is None or not isinstance(batch_size, int) else steps * batch_size
    if (len(tensors) > 2 and all(isinstance(t, torch.Tensor) for t in tensors) and n
            and reads >= n / PACK_AFTER_EPOCH_FRACTION and _room_to_pack(tensors)):
        gather, keys = RowGather(tensors), list(features)
        if gather.index_ops < len(tensors):
            # the copy (torch.cat, without the GIL) runs on another core while the first steps gather one by one
            threading.Thread(target=_pack_quietly, args=(gather,), name="estlab-pack", daemon=True).start()

            def packed(rows: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None]:
                taken = gather(rows)
                return dict(zip(keys, taken, strict=False)), taken[len(keys)], (
                    None if weights is None else taken[len(keys) + 1])

            return packed

    def one_by_one(rows: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None]:
        return ({k: v[rows] for k, v in features.items()}, labels[rows], None if weights is None else weights[rows])

    return one_by_one


def run_loop(task: LoopTask, control: Control) -> LoopResult:
    """Train until ``task.target_step``, the input's end or a stop request; always ends with a checkpoint.

    A NaN/inf loss raises ``NanLossError`` (no checkpoint is written after it), and so does a model whose
    weights or outputs (on the first ``PROBE_ROWS`` rows of the latest batch) are non-finite when a
    checkpoint is due: it is never written. When a listener has ``stop_on_nan_loss`` set (TF's
    ``NanTensorHook(fail_on_nan_loss=False)``) the run stops instead: no checkpoint, ``train_end`` status
    ``"stopped"`` with reason ``"diverged: ..."``, and the result's ``diverged`` is True. ``KeyboardInterrupt``
    writes a final checkpoint, emits ``train_end`` (``"stopped"``) and is re-raised.
    """
    step = control.global_step = task.start_step
    window = torch.zeros(SYNC_WINDOW, device=task.device)  # losses since the last sync, on the device
    pending, final_loss, status, reason, interrupted = 0, None, "finished", "reached the target step", None
    diverged = False
    autocast = (torch.autocast(task.device.type, dtype=task.autocast_dtype) if task.autocast_dtype
                else contextlib.nullcontext())
    control.emit("train_begin", start_step=step, target_step=task.target_step, device=str(task.device),
                 **task.begin_info)
    window_start, window_rows, seen = time.perf_counter(), 0, 0
    forward = task.forward or task.module
    world_size = distributed.get_world_size()
    pin = task.device.type == "cuda"

    probe: dict[str, torch.Tensor] | None = None  # the latest batch (its first rows are probed)
    take_rows = batch_rows(task)

    def guard() -> None:
        # a step's loss is computed before its update: probe the updated model before any checkpoint of it
        # (under torchrun only the weights: a forward through the DDP wrapper on one rank could deadlock)
        rows = None if probe is None or world_size > 1 else {k: v[:PROBE_ROWS] for k, v in probe.items()}
        broken = probe_model(task.module, forward, rows, autocast)
        if broken is not None:
            raise NanLossError(f"the model became unusable after step {step}: {broken}; no checkpoint of it is "
                               f"written and the last good checkpoint is kept. Lower the learning rate (it "
                               f"was {_learning_rate(task)}), check the inputs for extreme values, or clip "
                               "gradients")

    control.before_save = guard  # every checkpoint written while this loop runs (listeners' too) is probed

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
            if rows.device.type == "cpu" and task.device.type != "cpu":  # (in-memory inputs: made there)
                if pin:  # from pinned memory the copy is truly asynchronous: the host does not wait for the GPU
                    rows = rows.pin_memory()
                rows = rows.to(task.device, non_blocking=True)
            batch, labels, weights = take_rows(rows)
            probe = batch  # sliced only when a checkpoint is due
            with autocast:
                logits = forward(batch)
                loss = task.loss_fn(logits, labels, weights)
            clear_grads(task.optimizers)
            (loss if task.scaler is None else task.scaler.scale(loss)).backward()
            if task.clip_gradients is not None:
                if task.scaler is not None:  # clip the true gradients, not the scaled ones
                    for optimizer in task.optimizers:
                        task.scaler.unscale_(optimizer)
                clip_by_global_norm(task.optimizers, task.clip_gradients)
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
        status, reason, diverged = "stopped", _diverged_or_raise(control, error, final_loss), True
    try:
        if not diverged:  # a diverged model is never saved
            final_loss = sync() if pending else final_loss
            control.save_checkpoint()  # always: listener state and history may have changed since the last one
        control.before_save = None  # the loop's model is released with it
    except BaseException as error:
        control.before_save = None
        status, reason, diverged = "stopped", _diverged_or_raise(control, error, final_loss), True
    control.emit("train_end", status=status, reason=reason, error=None, final_loss=final_loss)
    if interrupted is not None:
        raise interrupted
    return LoopResult(status, reason, step, final_loss, diverged=diverged)


def _diverged_or_raise(control: Control, error: BaseException, final_loss: float | None) -> str:
    """The ``train_end`` reason when ``error`` is a NaN loss a listener asked to stop on (TF's
    ``NanTensorHook(fail_on_nan_loss=False)``: its ``stop_on_nan_loss``); any other error ends the run as
    ``"failed"`` and is raised again."""
    if isinstance(error, NanLossError) and any(getattr(x, "stop_on_nan_loss", False) for x in control.listeners):
        return f"{DIVERGED}{error}"
    control.emit("train_end", status="failed", reason=type(error).__name__, error=str(error), final_loss=final_loss)
    raise error
