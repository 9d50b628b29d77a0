"""The on-disk layout of an export: file names, timestamped version directories, atomic writes.

An export directory (``<export_dir_base>/<timestamp>/``) holds only JSON and tensors::

    export.json              format version, signatures, outputs post-processing, metadata
    feature_transformer.json the fitted feature transformation (estlab.features' to_dict())
    model.pt2                the model as a torch.export program (or model.ts, TorchScript)
    model.onnx               the same program in ONNX (optional)

See ``docs/export-format.md``.

Examples
--------
>>> is_version_dir_name("1700000000"), is_version_dir_name(".tmp-1700000000")
(True, False)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from estlab._util import pid_alive

FORMAT_NAME = "estlab.export"
FORMAT_VERSION = 1
EXPORT_FILE = "export.json"
TRANSFORMER_FILE = "feature_transformer.json"
PROGRAM_FILE = "model.pt2"
TORCHSCRIPT_FILE = "model.ts"
ONNX_FILE = "model.onnx"
TEMP_PREFIX = ".tmp-export-"


def is_version_dir_name(name: str) -> bool:
    """Whether ``name`` is a version directory name (all digits, as TF's timestamps).

    Examples
    --------
    >>> is_version_dir_name("12")
    True
    """
    return name.isdigit()


def list_versions(export_dir_base: str | os.PathLike) -> list[Path]:
    """Complete version directories under ``export_dir_base``, oldest first.

    A directory counts only once its ``export.json`` exists (writes are atomic, so a
    half-written export is never listed).

    Examples
    --------
    >>> list_versions("/nonexistent")
    []
    """
    base = Path(export_dir_base)
    if not base.is_dir():
        return []
    found = [p for p in base.iterdir() if is_version_dir_name(p.name) and (p / EXPORT_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name))


def resolve_export_dir(path: str | os.PathLike) -> Path:
    """The export directory itself, or the newest version if ``path`` is a base directory.

    Examples
    --------
    >>> resolve_export_dir("/nonexistent")  # doctest: +SKIP
    FileNotFoundError: ...
    """
    path = Path(path)
    if (path / EXPORT_FILE).is_file():
        return path
    versions = list_versions(path)
    if versions:
        return versions[-1]
    raise FileNotFoundError(
        f"export path {str(path)!r}: neither an export directory (no {EXPORT_FILE}) nor a base directory "
        f"with timestamped versions; pass the path returned by export_saved_model() or its parent"
    )


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON."""
    path.write_text(json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def file_digests(directory: Path) -> dict[str, dict[str, Any]]:
    """``{relative/name: {"sha256", "bytes"}}`` of every file under ``directory`` but ``export.json``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "a.json").write_text("{}")
    >>> file_digests(d)["a.json"]["bytes"]
    2
    """
    out: dict[str, dict[str, Any]] = {}
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = file.relative_to(directory).as_posix()
        if name != EXPORT_FILE:
            out[name] = {"sha256": _sha256(file), "bytes": file.stat().st_size}
    return out


def verify_digests(directory: Path, files: Any) -> None:
    """Check each file listed in ``export.json``'s ``files`` against its size and SHA-256.

    Raises ``ValueError`` naming the damaged or missing file (``files`` absent: an export of estlab 0.1,
    nothing to check).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "a.json").write_text("{}")
    >>> verify_digests(d, file_digests(d))
    """
    if files is None:
        return
    if not isinstance(files, dict):
        raise ValueError(f"export {str(directory)!r}: export.json 'files' is not a mapping")
    for name, expected in files.items():
        if not isinstance(expected, dict) or not isinstance(name, str) or name.startswith("/") or any(
            part in ("", ".", "..") for part in name.split("/")
        ):
            raise ValueError(f"export {str(directory)!r}: export.json files[{name!r}] is not a file of the export")
        path = directory / name
        if not path.is_file():
            raise ValueError(f"export {str(directory)!r}: {name} is missing (listed in export.json 'files')")
        size = path.stat().st_size
        if size != expected.get("bytes") or _sha256(path) != expected.get("sha256"):
            raise ValueError(
                f"export {str(directory)!r}: {name} is damaged ({size} bytes, checksum differs from the one "
                "recorded in export.json 'files'); re-export or restore it from a copy"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def clean_stale_temp_dirs(base: Path) -> list[Path]:
    """Remove ``.tmp-export-<pid>-*`` folders of processes that are gone (left by a kill mid-export).

    Folders of the older ``.tmp-export-*`` form (no pid) are removed after an hour.

    Examples
    --------
    >>> clean_stale_temp_dirs(Path("/nonexistent"))
    []
    """
    removed: list[Path] = []
    if not base.is_dir():
        return removed
    for path in base.iterdir():
        if not (path.name.startswith(TEMP_PREFIX) and path.is_dir()):
            continue
        match = re.match(rf"^{re.escape(TEMP_PREFIX)}(\d+)-", path.name)
        if match:
            stale = int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1)))
        else:
            try:
                stale = time.time() - path.stat().st_mtime > 3600
            except OSError:
                continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed




def write_version_atomically(export_dir_base: str | os.PathLike, fill: Callable[[Path], None]) -> Path:
    """Create ``<export_dir_base>/<timestamp>``: ``fill`` writes into a temp dir which is then renamed.

    The timestamp is ``int(time.time())``, bumped by one while taken, so two exports in the same
    second get distinct, increasing versions.

    Examples
    --------
    >>> import tempfile
    >>> base = tempfile.mkdtemp()
    >>> path = write_version_atomically(base, lambda d: (d / "export.json").write_text("{}"))
    >>> path.name.isdigit()
    True
    """
    base = Path(export_dir_base)
    base.mkdir(parents=True, exist_ok=True)
    clean_stale_temp_dirs(base)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=base))
    try:
        fill(tmp)
        _fsync_tree(tmp)
        version = int(time.time())
        existing = list_versions(base)
        if existing:
            version = max(version, int(existing[-1].name) + 1)
        while True:
            target = base / str(version)
            if target.exists():
                version += 1
                continue
            try:
                os.rename(tmp, target)  # fails if target exists and is not empty
                break
            except OSError:
                if not target.exists():
                    raise
                version += 1
        _fsync_dir(base)
        return target
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fsync_tree(directory: Path) -> None:
    for file in directory.iterdir():
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
