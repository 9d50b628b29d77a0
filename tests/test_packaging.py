"""Packaging: licence, typing marker, extras that match the layers, version, CLI, the demo on a core install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import estlab
from estlab import cli

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CORE = {"torch", "numpy", "pandas", "pyarrow", "tensorboard"}


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_license_and_typing_marker_ship():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "estlab" / "py.typed").exists()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["estlab"]
    assert any(c == "Typing :: Typed" for c in project["classifiers"])


def test_core_dependencies_are_the_core_layers_only():
    project = PYPROJECT["project"]
    assert _names(project["dependencies"]) == CORE
    extras = project["optional-dependencies"]
    assert {"ipywidgets", "matplotlib"} <= _names(extras["lab"])
    assert "jupyterlab" not in _names(project["dependencies"]) | _names(extras["lab"]) | _names(extras["all"])
    assert extras["all"] == ["estlab[lab,boosted,serve,onnx,sdca,ray,tune,mlflow]"]
    assert "estlab[all]" in extras["dev"]


def test_version_is_one_source():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "estlab.__version__"}
    out = subprocess.run([sys.executable, "-m", "estlab", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == f"estlab {estlab.__version__}"


def test_help_is_plain_text_with_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and "serve" in text and "examples:" in text and "--version" in text


def test_demo_skips_boosted_trees_without_lightgbm(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "lightgbm" else real(name, *a))
    assert cli._available(["baseline", "boosted_trees"]) == ["baseline"]
    assert "skipping boosted_trees: needs lightgbm (pip install 'estlab[boosted]')" in capsys.readouterr().out


def test_deprecation_warnings_from_estlab_are_errors():
    filters = PYPROJECT["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert "error::DeprecationWarning:estlab" in filters
    assert "ignore::DeprecationWarning" not in filters


@pytest.mark.slow
def test_sdist_carries_docs_notebooks_and_tests(tmp_path):
    import tarfile

    pytest.importorskip("setuptools")
    code = f"from setuptools import build_meta as b; print(b.build_sdist({str(tmp_path)!r}))"
    out = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", code], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    names = tarfile.open(tmp_path / out.stdout.strip().splitlines()[-1]).getnames()
    top = names[0].split("/")[0]
    for path in ("LICENSE", "docs/internals.md", "notebooks/quickstart.ipynb", "tests/conftest.py",
                 "estlab/py.typed", "estlab/datasets/data/adult_train.csv.gz"):
        assert f"{top}/{path}" in names, path
