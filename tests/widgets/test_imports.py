"""estlab.widgets and estlab.viz import with torch blocked (they see plain floats and DataFrames)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_widgets_and_viz_import_without_torch():
    code = textwrap.dedent("""
        import importlib.abc, sys

        class BlockTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
                return None

        sys.meta_path.insert(0, BlockTorch())
        import estlab.viz
        import estlab.widgets
        from estlab.widgets import RunManager, RunSpec, TrainingPanel
        fig = estlab.viz.plot_curves({"step": [1, 2], "loss": [1.0, 0.5]})
        manager = RunManager(job_factory=lambda spec, name: None)
        TrainingPanel(manager, plan=lambda: [RunSpec.create("x")])
        manager.close()
        assert "torch" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"
