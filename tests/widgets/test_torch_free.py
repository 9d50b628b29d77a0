"""The lab's UI objects build with torch blocked: widgets and viz see plain values, never tensors.

A subprocess installs an import hook that refuses (and records) any import of ``torch``, then imports
``estlab.widgets`` and ``estlab.viz`` and constructs ``Lab(train_df, eval_df, label=...)`` with every panel
(column builder, picker, training panel, runs view, TensorBoard panel). Any torch import fails the test,
even one that the importing code would have caught.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

CODE = textwrap.dedent("""
    import importlib.abc, sys, traceback

    attempts = []

    class BlockTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                attempts.append("".join(traceback.format_stack(limit=25)))
                raise ImportError("torch is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockTorch())
    try:
        import pandas as pd

        import estlab.viz
        import estlab.widgets
        from estlab.widgets import Lab

        train = pd.DataFrame({"age": [25.0, 38.0, 51.0, 29.0, 44.0, 60.0],
                              "job": ["a", "b", "a", "c", "b", "a"],
                              "income": ["<=50K", ">50K", ">50K", "<=50K", ">50K", "<=50K"]})
        lab = Lab(train, train.iloc[:3], label="income", model_dir_root=sys.argv[1])
        panels = (lab.columns, lab.picker, lab.training, lab.runs_view, lab.tensorboard)
        assert [type(p).__name__ for p in panels] == ["ColumnBuilder", "EstimatorPicker", "TrainingPanel",
                                                      "RunsView", "TensorBoardPanel"]
        assert lab.plan() == [] and lab.device == "auto"
        lab._repr_mimebundle_()
        estlab.viz.figure_to_png(estlab.viz.plot_curves({"step": [1, 2], "loss": [1.0, 0.5]}))
        lab.close()
    except BaseException:
        traceback.print_exc()
    if attempts:
        print(f"{len(attempts)} torch import(s); the first came from:\\n{attempts[0]}", file=sys.stderr)
        sys.exit(1)
    assert "torch" not in sys.modules
    print("ok")
""")


def test_lab_ui_objects_construct_with_torch_blocked(tmp_path):
    result = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-4000:]
