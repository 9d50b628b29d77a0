"""notebooks/export_and_serve.ipynb runs from top to bottom (few training steps)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "export_and_serve.ipynb"


@pytest.mark.slow
def test_export_and_serve_notebook_executes(monkeypatch):
    monkeypatch.setenv("ESTLAB_MAX_STEPS", "5")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    outputs = {
        i: cell.get("outputs", []) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
    }
    text = " ".join(
        " ".join((str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))).split())
        for cell in outputs.values()
        for o in cell
    )
    assert "'state': 'AVAILABLE'" in text
    assert "(200, {'outputs': {'classes': [['<=50K', '>50K'], ['<=50K', '>50K']]" in text
    assert "(400, {'error': \"input feature 'age' expects numbers" in text
    assert "server stopped" in text and "Traceback" not in text
