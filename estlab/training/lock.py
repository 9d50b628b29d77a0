"""``ModelDirLock``: one training per ``model_dir`` at a time (a lock file holding the owner's pid)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

LOCK_NAME = ".estlab.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ModelDirLock:
    """Exclusive lock on a model_dir; a lock left by a dead process is taken over.

    Examples
    --------
    >>> import tempfile
    >>> with ModelDirLock(tempfile.mkdtemp()) as lock:
    ...     lock.held
    True
    """

    def __init__(self, model_dir: str | os.PathLike) -> None:
        self.path = Path(model_dir) / LOCK_NAME
        self.held = False

    def acquire(self) -> None:
        """Take the lock or raise ``RuntimeError`` naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        owner = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read()
                same_host = holder.get("host") in (None, owner["host"])
                pid = holder.get("pid")
                if isinstance(pid, int) and same_host and not _alive(pid):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                if not holder:  # being written right now, or empty: treat as held
                    holder = {"pid": "unknown"}
                raise RuntimeError(
                    f"model_dir {str(self.path.parent)!r} is being trained by another process or thread "
                    f"(pid {holder.get('pid')} on {holder.get('host', 'this host')}, lock file {self.path}); "
                    "wait for it to finish, call request_stop() on it, or use another model_dir"
                ) from None
            with os.fdopen(fd, "w") as handle:
                json.dump(owner, handle)
            self.held = True
            return
        raise RuntimeError(f"could not take the lock {self.path}; remove it if no training is running")

    def _read(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        """Remove the lock file if this object holds it."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> ModelDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
