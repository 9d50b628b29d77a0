"""Crafting hostile exports: copy a good export, rewrite one member of ``model.pt2`` or one JSON field."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from estlab.export.layout import file_digests


class Payload:
    """Pickles to ``exec(code)``: what a hostile pickle does when unpickled."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        import builtins

        return (builtins.exec, (self.code,))


def writes(marker: Path) -> str:
    """Python that writes ``marker`` (proof that code ran)."""
    return f"open({str(marker)!r}, 'w').write('ran')"


def reseal(export_dir: Path) -> None:
    """Recompute ``export.json``'s checksums (a forger would): the refusal must come from the content check."""
    document = json.loads((export_dir / "export.json").read_text())
    document["files"] = file_digests(export_dir)
    (export_dir / "export.json").write_text(json.dumps(document))


def copy_export(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def rewrite_pt2(export_dir: Path, change: Callable[[dict[str, bytes], str], None]) -> None:
    """Rewrite ``model.pt2``: ``change(members, root)`` edits the member dict in place; then reseal."""
    path = export_dir / "model.pt2"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    root = next(iter(members)).split("/", 1)[0] + "/"
    change(members, root)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    reseal(export_dir)


def edit_program_json(export_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    def apply(members: dict[str, bytes], root: str) -> None:
        name = f"{root}models/model.json"
        document = json.loads(members[name])
        change(document)
        members[name] = json.dumps(document).encode()

    rewrite_pt2(export_dir, apply)


def edit_json(path: Path, change: Callable[[dict[str, Any]], None], export_dir: Path | None = None) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    if export_dir is not None:
        reseal(export_dir)


def add_pickled_constant(export_dir: Path, file_name: str, payload: bytes) -> None:
    """A constant whose payload is ``payload`` under ``data/constants/<file_name>``."""

    def apply(members: dict[str, bytes], root: str) -> None:
        members[f"{root}data/constants/{file_name}"] = payload
        config_name = f"{root}data/constants/model_constants_config.json"
        config = json.loads(members[config_name])
        config["config"]["evil"] = {"path_name": file_name, "is_param": False, "use_pickle": True,
                                    "tensor_meta": None}
        members[config_name] = json.dumps(config).encode()

    rewrite_pt2(export_dir, apply)


def hostile_pickle(marker: Path) -> bytes:
    return pickle.dumps(Payload(writes(marker)))
