"""Every warning estlab issues is a class of ``estlab.warnings`` (filterable by category)."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

import estlab.warnings as ew

ROOT = Path(__file__).resolve().parents[1]


def test_every_warning_in_estlab_uses_an_estlab_warning_class():
    """Each ``warnings.warn(...)`` call under estlab/ passes a category whose name is one of estlab.warnings'."""
    classes = set(ew.__all__)
    bad = []
    for path in sorted((ROOT / "estlab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "warn"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "warnings"):
                category = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "category"), None)
                name = getattr(category, "id", getattr(category, "attr", None))
                if name not in classes:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} ({name})")
    assert not bad, "warnings without an estlab.warnings class: " + ", ".join(bad)
    assert all(issubclass(getattr(ew, name), ew.EstlabWarning) for name in classes if name != "EstlabWarning")


def test_classes_filter_by_category_and_keep_their_old_bases():
    assert issubclass(ew.CheckpointWarning, RuntimeWarning) and issubclass(ew.EstlabWarning, UserWarning)
    from estlab._util import IgnoredArgumentWarning, warn_ignored_arguments

    assert IgnoredArgumentWarning is ew.IgnoredArgumentWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ew.EstlabWarning)
        warn_ignored_arguments("RunConfig", {"session_config": object()})  # silenced by its base class
    with pytest.warns(ew.IgnoredArgumentWarning, match="RunConfig: ignoring session_config"):
        warn_ignored_arguments("RunConfig", {"session_config": object()})
