"""MLflowListener logs parameters, evaluations and exports to a run (a file store in tmp_path); without mlflow it
fails with an error naming the extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from estlab.training.mlflow_listener import flatten_params

ROOT = Path(__file__).resolve().parents[2]


def test_module_imports_without_mlflow_and_names_the_extra():
    code = ("import sys; sys.modules['mlflow'] = None; sys.modules['mlflow.tracking'] = None\n"
            "from estlab.training.mlflow_listener import MLflowListener\n"
            "try:\n    MLflowListener()\nexcept ImportError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MLflowListener needs mlflow, which is not installed: pip install 'estlab[mlflow]'" in proc.stdout


def test_flatten_params_joins_nested_keys_and_cuts_long_values():
    flat = flatten_params({"a": {"b": 1, "c": {"d": "x"}}, "e": "y" * 600, "f": {}})
    assert flat == {"a.b": "1", "a.c.d": "x", "e": "y" * 500, "f": "{}"}


@pytest.mark.slow
def test_logs_params_every_evaluation_and_the_export(tmp_path, monkeypatch, binary_frame):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    from estlab.estimators import LinearClassifier
    from estlab.export.exporters import LatestExporter
    from estlab.features import numeric_column
    from estlab.training.config import RunConfig
    from estlab.training.mlflow_listener import MLflowListener
    from estlab.training.train_and_evaluate import EvalSpec, TrainSpec, train_and_evaluate

    est = LinearClassifier([numeric_column("a"), numeric_column("b")], model_dir=str(tmp_path / "m"),
                           config=RunConfig(random_seed=0, save_checkpoints_steps=1000))
    tracker = MLflowListener(experiment="estlab-test", tracking_uri=(tmp_path / "mlruns").as_uri(), run_name="lin",
                             log_every_n_steps=2)
    result, _ = train_and_evaluate(est, TrainSpec(binary_frame, 6, [tracker], label="y"),
                                   EvalSpec(binary_frame, every_n_steps=3, exporters=[LatestExporter("latest")]))
    client = tracker.client
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "lin"
    assert run.data.params["estimator"] == "LinearClassifier" and run.data.params["n_classes"] == "2"
    assert run.data.params["feature_columns"] == "['a', 'b']"
    assert run.data.tags["estlab.model_dir"] == est.model_dir
    # every evaluation, at its step, with the value History recorded (the final one arrives after train_end)
    for metric in ("loss", "accuracy", "auc"):
        logged = [(m.step, m.value) for m in client.get_metric_history(tracker.run_id, f"eval/{metric}")]
        assert logged == est.history.metric_history(metric) and [s for s, _ in logged] == [3, 6]
    assert result["loss"] == run.data.metrics["eval/loss"]
    assert [m.step for m in client.get_metric_history(tracker.run_id, "loss")] == [2, 4, 6]
    exports = client.list_artifacts(tracker.run_id, "export/latest")
    on_disk = sorted(p.name for p in (Path(est.model_dir) / "export" / "latest").iterdir())
    assert [e.path.rsplit("/", 1)[-1] for e in exports] == on_disk and len(on_disk) == 2  # step 3, and 6 (max_steps: the final one, once)
    files = {f.path.rsplit("/", 1)[-1] for f in client.list_artifacts(tracker.run_id, exports[-1].path)}
    assert files == {p.name for p in (Path(est.model_dir) / "export" / "latest" / on_disk[-1]).iterdir()}
    # a second train call goes on in the same run; an explicit export is logged on demand
    est.train(binary_frame, label="y", steps=2, hooks=[tracker])
    path = est.export_saved_model(str(tmp_path / "exports"))
    tracker.log_export(path, artifact_path="manual")
    assert client.list_artifacts(tracker.run_id, "manual")
    assert client.get_run(tracker.run_id).info.status == "FINISHED"
    with pytest.raises(ValueError, match=r"log_every_n_steps must be a positive int or None, got 0"):
        MLflowListener(tracking_uri=(tmp_path / "mlruns").as_uri(), log_every_n_steps=0)
