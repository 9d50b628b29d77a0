"""notebooks/quickstart.ipynb runs from top to bottom with a small step cap and shows the comparison."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(str(output.get("text", "")))
        parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.slow
def test_quickstart_notebook_executes(monkeypatch):
    monkeypatch.setenv("ESTLAB_MAX_STEPS", "40")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [o for cell in code_cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    everything = "\n".join(_text(cell) for cell in code_cells)
    assert "'global_step': 40}" in everything  # max_steps honoured by the first linear run
    final = _text(code_cells[-2])  # the custom-estimator leaderboard
    for run in ("baseline", "linear", "dnn", "wide_and_deep", "boosted_trees", "custom"):
        assert run in final
    assert "model.ckpt" in _text(code_cells[-1]) or "checkpoint" in _text(code_cells[-1])
