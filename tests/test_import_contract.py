"""The layering rule, checked on the source: no module under ``estlab/`` imports across a forbidden arrow,
and the UI side imports without torch.

Every ``import`` and ``from ... import`` counts, at module level or inside a function (a lazy import is still an
arrow), and so does a string naming an estlab module (``importlib.import_module("estlab.x")``, a lazy-name
table's ``"estlab.x.y:Name"``). ``docs/internals.md`` draws the same rule.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

#: importer package → what nothing in it may import (the prefix of a module name).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # the data layers know no models, no training, no export and no UI
    "estlab.features": ("estlab.estimators", "estlab.training", "estlab.export", "estlab.widgets", "estlab.viz"),
    "estlab.inputs": ("estlab.estimators", "estlab.training", "estlab.export", "estlab.widgets", "estlab.viz"),
    # training runs any model over any data; it knows no estimators, no export, and draws nothing
    "estlab.training": ("estlab.estimators", "estlab.export", "estlab.widgets", "estlab.viz", "matplotlib"),
    # the core knows no UI
    "estlab.estimators": ("estlab.widgets",),
    "estlab.export": ("estlab.widgets",),
    # widgets → viz, never back
    "estlab.viz": ("estlab.widgets",),
    # widgets → runner → estimators: the runner executes runs and knows no UI
    "estlab.runner": ("estlab.widgets", "estlab.viz"),
}

#: modules the notebook UI loads; each must import in a fresh interpreter with torch blocked.
TORCH_FREE = (
    "estlab.widgets",
    "estlab.viz",
    "estlab.runner",
    "estlab.runner.pool",
    "estlab.runner.experiment",
    "estlab.training.events",
    "estlab.training.history",
    "estlab.estimators.registry",
    "estlab.training.metric_info",
    "estlab.feature_column",
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "estlab"
_MODULE_STRING = re.compile(r"^estlab(\.[A-Za-z_]\w*)+(:[\w.]+)?$")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, name: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import in module ``name``'s source, wherever it sits."""
    package = name.split(".") if is_package else name.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]  # from pkg import module
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.match(node.value):
            found.append((node.lineno, node.value.partition(":")[0]))
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            prefix = str(node.values[0].value).rstrip(".")
            if _MODULE_STRING.match(prefix):  # f"estlab.training.{module}"
                found.append((node.lineno, prefix))
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def forbidden_arrows() -> list[str]:
    """One line per offending import statement: ``file:line: importer imports target (the rule)``."""
    arrows: dict[tuple[str, int], str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        rules = [(p, banned) for p, banned in FORBIDDEN.items() if _within(importer, p)]
        source = path.read_text(encoding="utf-8")
        for line, target in sorted(imported_names(source, importer, path.name == "__init__.py")):
            for package, banned in rules:
                hit = next((b for b in banned if _within(target, b)), None)
                if hit:
                    where = f"{path.relative_to(ROOT)}:{line}"
                    message = f"{where}: {importer} imports {target} ({package} must not import {hit})"
                    arrows.setdefault((str(path), line), message)
    return [arrows[key] for key in sorted(arrows)]


def test_the_scan_sees_top_level_lazy_relative_and_by_name_imports():
    source = (
        "import estlab.viz\n"
        "from . import loop\n"
        "def f():\n"
        "    from ..export import layout\n"
        "    importlib.import_module(f'estlab.widgets.{name}')\n"
        "TABLE = {'x': 'estlab.estimators.dnn:DNNClassifier'}\n"
    )
    assert sorted(target for _, target in imported_names(source, "estlab.training.probe")) == [
        "estlab.estimators.dnn", "estlab.export", "estlab.export.layout", "estlab.training",
        "estlab.training.loop", "estlab.viz", "estlab.widgets",
    ]


def test_no_module_imports_across_a_forbidden_arrow():
    arrows = forbidden_arrows()
    assert not arrows, "forbidden imports:\n" + "\n".join(arrows)


@pytest.mark.parametrize("module", TORCH_FREE)
def test_ui_side_imports_without_torch(module):
    code = f"import sys; sys.modules['torch'] = None; import {module}"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, f"{module} needs torch:\n{proc.stderr[-3000:]}"
