"""notebooks/lab.ipynb runs top to bottom (nbclient) with a small ESTLAB_MAX_STEPS."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "lab.ipynb"


@pytest.mark.slow
def test_lab_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("ESTLAB_MAX_STEPS", "30")
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    text = "\n".join(o.get("text", "") for c in code_cells for o in c.outputs if o.output_type == "stream")
    assert "rejected: dnn_classifier: dropout must be" in text
    assert "fc.bucketized_column(fc.numeric_column('age'" in text
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    board = code_cells[4].outputs[-1]["data"]["text/plain"]
    for name in ("linear_classifier-1", "dnn_classifier-2", "dnn_linear_combined_classifier-3",
                 "boosted_trees_classifier-4"):
        assert name in board
    assert board.count("finished") == 4
    lab_output = code_cells[0].outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in lab_output
    assert "text/html" in lab_output  # static fallback where widgets cannot render
    tensorboard = code_cells[-1].outputs[-1]["data"]["text/html"]
    assert "<iframe src=\"http://127.0.0.1:" in tensorboard
