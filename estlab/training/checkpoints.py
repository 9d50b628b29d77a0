"""Atomic checkpoints in ``model_dir``: ``model.ckpt-<step>.pt`` files, newest readable wins.

A checkpoint is a ``torch.save`` dict of tensors and plain values, loaded with ``weights_only=True``;
everything that is not a tensor (feature spec, parameters, head, history, iterator state) travels as
one JSON string under ``"meta"``.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import pickle
import re
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from estlab._util import pid_alive
from estlab.training.events import ORDER, Event, Listener
from estlab.warnings import CheckpointWarning

logger = logging.getLogger(__name__)

PREFIX = "model.ckpt-"
_PATTERN = re.compile(r"^model\.ckpt-(\d+)\.pt$")
_TEMP_PATTERN = re.compile(r"^\.model\.ckpt-\d+\.pt\.tmp-(\d+)$")


def checkpoint_path(model_dir: str | os.PathLike, global_step: int) -> Path:
    """Path of the checkpoint for ``global_step``.

    Examples
    --------
    >>> checkpoint_path("/tmp/run", 100).name
    'model.ckpt-100.pt'
    """
    return Path(model_dir) / f"{PREFIX}{int(global_step)}.pt"


def resolve_path(path: str | os.PathLike) -> Path:
    """A checkpoint path as given, or TF's prefix form ``.../model.ckpt-<step>`` (TF names a checkpoint by the
    prefix of its files) when only ``.../model.ckpt-<step>.pt`` exists.

    Examples
    --------
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = checkpoint_path(run, 40).write_bytes(b"")
    >>> resolve_path(run / "model.ckpt-40").name, resolve_path(run / "missing").name
    ('model.ckpt-40.pt', 'missing')
    """
    given = Path(path)
    with_suffix = given.with_name(given.name + ".pt")
    if not given.exists() and _PATTERN.match(with_suffix.name) and with_suffix.is_file():
        return with_suffix
    return given


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


class CheckpointDamagedError(RuntimeError):
    """A checkpoint file is damaged (truncated, bit flips: a zip CRC mismatch): its content can't be trusted."""


class CheckpointRefusedError(RuntimeError):
    """A checkpoint holds something a safe (``weights_only``) load refuses; the file is intact, so it is kept."""


def plain_payload(value: Any, field: str = "checkpoint") -> Any:
    """``value`` with numpy scalars as Python numbers and numpy arrays as tensors, so a ``weights_only`` load
    reads it back; anything else that is not a tensor or plain value raises ``TypeError`` naming ``field``.

    Examples
    --------
    >>> import numpy as np
    >>> plain_payload({"param_groups": [{"lr": np.float64(0.05), "betas": (np.float32(0.9), 0.99)}]})
    {'param_groups': [{'lr': 0.05, 'betas': (0.8999999761581421, 0.99)}]}
    """
    if isinstance(value, np.generic):  # before float: np.float64 is a float subclass
        return value.item()
    if isinstance(value, torch.Tensor) or value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, torch.dtype | torch.device | torch.Size):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, dict):
        return {key: plain_payload(item, f"{field}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain_payload(item, f"{field}[{i}]") for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise TypeError(
        f"checkpoint: {field} is a {type(value).__module__}.{type(value).__qualname__}, which a safe load "
        "(weights_only) can't read back; keep tensors and plain numbers/strings in optimizer and listener state"
    )


def _verify_archive(data: bytes | Path, where: str) -> None:
    """Check every record's CRC-32 (torch.load does not): a flipped bit is damage, not a different model."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with zipfile.ZipFile(source) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise CheckpointDamagedError(f"checkpoint {where} is damaged (not a readable archive: {error})") from None
    if bad is not None:
        raise CheckpointDamagedError(f"checkpoint {where} is damaged: record {bad!r} fails its CRC check")


def _is_disk_full(error: BaseException) -> bool:
    return getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT)


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write ``payload`` (+ ``meta`` as JSON) atomically, only once it reads back safely.

    The payload is made plain (:func:`plain_payload`), serialised in memory and read back with
    ``weights_only=True`` (and its CRCs checked) *before* anything is written; then temp file, fsync,
    rename, fsync the directory. A full disk raises ``OSError(ENOSPC)`` naming the path and leaves no temp
    file behind.

    Examples
    --------
    >>> import tempfile
    >>> p = save_checkpoint(checkpoint_path(tempfile.mkdtemp(), 1), {"global_step": 1}, {"a": 1})
    >>> load_checkpoint(p)["meta"]
    {'a': 1}
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({**plain_payload(payload), "meta": json.dumps(meta, allow_nan=True)}, buffer)
    data = buffer.getvalue()
    _verify_archive(data, str(path))
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - whatever does not read back must not replace a good checkpoint
        raise CheckpointRefusedError(
            f"checkpoint {path} was not written: it would not load back safely ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:300]})"
        ) from None
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if _is_disk_full(error):
            raise OSError(error.errno, f"disk full: could not write checkpoint {path} ({len(data)} bytes); "
                          "free space in the model_dir's file system and train again (the previous checkpoint "
                          "is intact)", str(path)) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
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
    """Load a checkpoint safely: its CRCs checked, then ``weights_only=True``, then its JSON ``meta`` decoded.

    Raises :class:`CheckpointDamagedError` for a damaged file and :class:`CheckpointRefusedError` for an
    intact one holding objects a safe load refuses (e.g. numpy values written by estlab 0.1).
    """
    path = Path(path)
    _verify_archive(path, str(path))
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointRefusedError(
            f"checkpoint {path} holds objects a safe load refuses ({str(error).splitlines()[0][:300]}); it is "
            "kept as it is. If you trust it, rewrite it without them (e.g. optimizer hyperparameters as "
            "Python floats)"
        ) from None
    except (RuntimeError, EOFError, ValueError, KeyError) as error:
        raise CheckpointDamagedError(f"checkpoint {path} is damaged ({type(error).__name__}: {error})") from None
    if not isinstance(data, dict):
        raise CheckpointDamagedError(f"checkpoint {path} is damaged: its content is not a dict")
    try:
        data["meta"] = json.loads(data.get("meta", "{}"))
    except (TypeError, ValueError) as error:
        raise CheckpointDamagedError(f"checkpoint {path} is damaged: its 'meta' is not JSON ({error})") from None
    return data


def clean_temp_files(model_dir: str | os.PathLike) -> list[Path]:
    """Remove ``.model.ckpt-<step>.pt.tmp-<pid>`` files left by killed processes (or by this one).

    Examples
    --------
    >>> clean_temp_files("/nonexistent/dir")
    []
    """
    directory = Path(model_dir)
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        match = _TEMP_PATTERN.match(path.name)
        if match and (int(match.group(1)) == os.getpid() or not pid_alive(int(match.group(1)))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed




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
        except CheckpointRefusedError:
            raise  # intact but refused: never moved aside, never silently skipped
        except Exception as error:  # noqa: BLE001 - any damage means "try the previous one"
            reason = str(error) if isinstance(error, CheckpointDamagedError) else (
                f"checkpoint {path} is damaged ({type(error).__name__}: {error})")
            message = f"{reason}; moved aside to {path.name}.damaged, falling back to the previous checkpoint"
            logger.warning("%s", message)
            warnings.warn(message, CheckpointWarning, stacklevel=2)
            try:
                os.replace(path, path.with_name(path.name + ".damaged"))
            except OSError:
                pass
    return None


def prune_checkpoints(model_dir: str | os.PathLike, keep: int | None) -> list[Path]:
    """Delete all but the newest ``keep`` checkpoints (``None``/0 keeps all); returns the deleted paths."""
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
        raise ValueError(f"keep_checkpoint_max must be None, 0 (keep all) or a positive int, got {keep!r}")
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
