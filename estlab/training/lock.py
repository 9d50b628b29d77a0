"""``ModelDirLock``: one training per ``model_dir`` at a time.

The exclusion is an ``flock`` on the model_dir itself (the kernel releases it when its holder dies, so
there is no stale lock to take over and no unlink-then-create race); ``.estlab.lock`` (created with
``O_EXCL`` when absent) only tells people who holds it (``{"pid", "host"}``). An empty file (a disk-full
crash) or one naming a dead or reused pid is simply rewritten by the next holder; deleting the file while a
training runs does not let a second one in. On a file system without ``flock`` the lock file alone decides
(``O_EXCL``, taken over when its pid is gone).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path

from estlab._util import pid_alive

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".estlab.lock"




class ModelDirLock:
    """Exclusive lock on a model_dir for a training (other calls only read and take no lock).

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
        self._dir_fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``RuntimeError`` naming the process that holds it; clean temp files left
        by killed writers once taken."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        if self.held:
            raise RuntimeError(f"model_dir {str(directory)!r}: this lock object already holds it")
        if not self._flock(directory):
            raise self._busy()
        try:
            self._write_owner()
        except OSError:  # disk full: the flock excludes all the same; the file only names the holder
            if self._dir_fd is None:
                raise
        self.held = True
        from estlab.training.checkpoints import clean_temp_files

        clean_temp_files(directory)

    def _flock(self, directory: Path) -> bool:
        if fcntl is None:
            return self._exclusive_create()
        fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:  # a file system without flock: the lock file alone decides
            os.close(fd)
            return self._exclusive_create()
        self._dir_fd = fd
        return True

    def _exclusive_create(self) -> bool:
        for _ in range(3):
            try:
                os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
                return True
            except FileExistsError:
                holder = self._read()
                pid = holder.get("pid")
                if not holder or (isinstance(pid, int) and holder.get("host") in (None, socket.gethostname())
                                  and (pid == os.getpid() or not pid_alive(pid))):
                    with contextlib.suppress(OSError):
                        self.path.unlink()
                    continue
                return False
        return False

    def _write_owner(self) -> None:
        owner = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        tmp = self.path.with_name(f"{LOCK_NAME}.tmp-{os.getpid()}")
        try:
            with open(tmp, "w") as handle:
                handle.write(owner)
            os.replace(tmp, self.path)  # never an empty lock file, even when the disk fills mid-write
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _busy(self) -> RuntimeError:
        holder = self._read() or {"pid": "unknown"}
        return RuntimeError(
            f"model_dir {str(self.path.parent)!r} is being trained by another process or thread "
            f"(pid {holder.get('pid')} on {holder.get('host', 'this host')}, lock file {self.path}); "
            "wait for it to finish, call request_stop() on it, or use another model_dir"
        )

    def _unflock(self) -> None:
        if self._dir_fd is not None:
            os.close(self._dir_fd)  # closing the descriptor releases the flock
            self._dir_fd = None

    def _read(self) -> dict:
        try:
            value = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def release(self) -> None:
        """Remove the lock file and release the lock if this object holds it."""
        if self.held:
            with contextlib.suppress(OSError):
                if self._read().get("pid") == os.getpid():
                    self.path.unlink()
            self._unflock()
            self.held = False

    def __enter__(self) -> ModelDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
