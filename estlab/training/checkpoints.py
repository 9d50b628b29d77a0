"""Atomic checkpoints in ``model_dir``: ``model.ckpt-<step>.pt`` files, newest readable wins.

A checkpoint is a ``torch.save`` dict of tensors and plain values, loaded with ``weights_only=True``;
everything that is not a tensor (feature spec, parameters, head, history, iterator state) travels as
one JSON string under ``"meta"``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import torch

from estlab.training.events import ORDER, Event, Listener

logger = logging.getLogger(__name__)

PREFIX = "model.ckpt-"
_PATTERN = re.compile(r"^model\.ckpt-(\d+)\.pt$")


def checkpoint_path(model_dir: str | os.PathLike, global_step: int) -> Path:
    """Path of the checkpoint for ``global_step``.

    Examples
    --------
    >>> checkpoint_path("/tmp/run", 100).name
    'model.ckpt-100.pt'
    """
    return Path(model_dir) / f"{PREFIX}{int(global_step)}.pt"


def list_checkpoints(model_dir: str | os.PathLike) -> list[Path]:
    """Checkpoint files in ``model_dir``, oldest step first.

    Examples
    --------
    >>> list_checkpoints("/nonexistent/dir")
    []
    """
    directory = Path(model_dir)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def step_of(path: str | os.PathLike) -> int:
    """Global step encoded in a checkpoint file name.

    Examples
    --------
    >>> step_of("/tmp/run/model.ckpt-42.pt")
    42
    """
    match = _PATTERN.match(Path(path).name)
    if match is None:
        raise ValueError(f"checkpoint_path: {str(path)!r} is not a checkpoint file (expected {PREFIX}<step>.pt)")
    return int(match.group(1))


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``payload`` (+ ``meta`` as JSON) atomically: temp file, fsync, rename, fsync the directory.

    Examples
    --------
    >>> import tempfile
    >>> p = save_checkpoint(checkpoint_path(tempfile.mkdtemp(), 1), {"global_step": 1}, {"a": 1})
    >>> load_checkpoint(p)["meta"]
    {'a': 1}
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as handle:
        torch.save({**payload, "meta": json.dumps(meta)}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return path
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and decode its JSON ``meta``."""
    data = torch.load(Path(path), map_location=map_location, weights_only=True)
    data["meta"] = json.loads(data.get("meta", "{}"))
    return data


def latest_checkpoint(model_dir: str | os.PathLike) -> Path | None:
    """Newest checkpoint path by step (not checked for readability); ``None`` when there is none.

    Examples
    --------
    >>> latest_checkpoint("/nonexistent/dir") is None
    True
    """
    found = list_checkpoints(model_dir)
    return found[-1] if found else None


def load_latest(model_dir: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[Path, dict] | None:
    """Load the newest *readable* checkpoint.

    Writes are atomic, so an unreadable file is damaged for good (disk error, truncated copy): it is
    renamed to ``<name>.damaged`` (kept for inspection, out of the way of resume and pruning) with a warning.
    """
    for path in reversed(list_checkpoints(model_dir)):
        try:
            return path, load_checkpoint(path, map_location)
        except Exception as error:  # noqa: BLE001 - any damage means "try the previous one"
            logger.warning("checkpoint %s is unreadable (%s: %s); moved aside to %s.damaged, trying the "
                           "previous one", path, type(error).__name__, error, path.name)
            try:
                os.replace(path, path.with_name(path.name + ".damaged"))
            except OSError:
                pass
    return None


def prune_checkpoints(model_dir: str | os.PathLike, keep: int | None) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints (``None``/0 keeps all); returns the deleted paths."""
    if not keep:
        return []
    old = list_checkpoints(model_dir)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


class CheckpointSaver(Listener):
    """Ask for a checkpoint every ``save_steps`` steps or ``save_secs`` seconds (TF's CheckpointSaverHook).

    The write itself goes through ``control.save_checkpoint()`` so every listener sees the
    ``checkpoint`` event. The loop writes the final checkpoint itself.

    Examples
    --------
    >>> saver = CheckpointSaver(save_steps=10)
    >>> saver.wants_loss(10), saver.wants_loss(11)
    (True, False)
    """

    order = ORDER["monitors"]

    def __init__(self, save_steps: int | None = None, save_secs: float | None = None) -> None:
        if save_steps is None and save_secs is None:
            raise ValueError("CheckpointSaver: give save_steps or save_secs, got neither")
        self.save_steps = save_steps
        self.save_secs = save_secs
        self._last_time = time.monotonic()
        self._due_step = -1

    def on_train_begin(self, event: Event) -> None:
        self._last_time = time.monotonic()

    def wants_loss(self, global_step: int) -> bool:
        """A checkpoint step synchronises the loss so a NaN is caught before it is saved.

        The loop asks every listener once per step, before ``on_step_end``; the answer is kept so
        a time-based save happens exactly at the step whose loss was checked.
        """
        if self._due(global_step):
            self._due_step = global_step
        return self._due_step == global_step

    def _due(self, global_step: int) -> bool:
        if self.save_steps is not None:
            return global_step % self.save_steps == 0
        assert self.save_secs is not None  # __init__ requires save_steps or save_secs
        return time.monotonic() - self._last_time >= self.save_secs

    def on_step_end(self, event: Event) -> None:
        if self._due_step == event["global_step"]:
            self._last_time = time.monotonic()
            if self.control.last_checkpoint_step != event["global_step"]:
                self.control.save_checkpoint()
