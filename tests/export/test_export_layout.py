from __future__ import annotations

from pathlib import Path

import pytest

from estlab.export.layout import EXPORT_FILE, list_versions, resolve_export_dir, write_version_atomically


def _write(directory: Path) -> None:
    (directory / EXPORT_FILE).write_text("{}")


def test_versions_are_distinct_increasing_and_the_newest_resolves(tmp_path):
    first = write_version_atomically(tmp_path, _write)
    second = write_version_atomically(tmp_path, _write)
    assert int(second.name) == int(first.name) + 1 or int(second.name) > int(first.name)
    assert list_versions(tmp_path) == [first, second]
    assert resolve_export_dir(tmp_path) == second
    assert resolve_export_dir(first) == first


def test_a_failed_write_leaves_no_directory_behind(tmp_path):
    def fail(directory: Path) -> None:
        (directory / "partial.bin").write_bytes(b"x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_version_atomically(tmp_path, fail)
    assert list(tmp_path.iterdir()) == []


def test_incomplete_and_foreign_directories_are_not_versions(tmp_path):
    (tmp_path / "123").mkdir()  # no export.json: a half-written or foreign directory
    (tmp_path / ".tmp-export-x").mkdir()
    assert list_versions(tmp_path) == []
    with pytest.raises(FileNotFoundError, match="neither an export directory"):
        resolve_export_dir(tmp_path)
