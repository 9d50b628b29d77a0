"""LatestExporter, BestExporter, FinalExporter: when they export, what they keep, restarts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from estlab import feature_column as fc
from estlab.estimators import LinearRegressor
from estlab.export import list_versions, load
from estlab.export.exporters import BestExporter, FinalExporter, LatestExporter


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import pandas as pd

    frame = pd.DataFrame({"x": np.linspace(0, 1, 16), "c": ["a", "b"] * 8, "y": np.linspace(1, 3, 16)})
    columns = [fc.numeric_column("x"), fc.categorical_column_with_vocabulary_list("c", ["a", "b"])]
    est = LinearRegressor(columns, model_dir=str(tmp_path_factory.mktemp("lin")), optimizer="SGD")
    est.train(frame, label="y", steps=2, batch_size=4)
    return est, frame


def test_latest_exporter_exports_every_time_and_keeps_the_newest(trained, tmp_path):
    est, _ = trained
    exporter = LatestExporter("latest", exports_to_keep=2, onnx=False)
    paths = [
        exporter.export(est, str(tmp_path), None, {"loss": 1.0, "global_step": 2}, False) for _ in range(3)
    ]
    assert [str(p) for p in list_versions(tmp_path)] == paths[1:]
    assert load(paths[-1]).metadata["metrics"] == {"loss": 1.0}


def test_final_exporter_waits_for_the_final_export(trained, tmp_path):
    est, _ = trained
    exporter = FinalExporter("final", onnx=False)
    assert exporter.export(est, str(tmp_path), None, {"loss": 1.0}, False) is None
    assert list_versions(tmp_path) == []
    assert exporter.export(est, str(tmp_path), None, {"loss": 1.0}, True) is not None
    assert len(list_versions(tmp_path)) == 1


def test_best_exporter_exports_only_improvements_and_survives_a_restart(trained, tmp_path):
    est, _ = trained
    exporter = BestExporter(metric_key="loss", exports_to_keep=None, onnx=False)
    assert exporter.export(est, str(tmp_path), None, {"loss": 0.5, "global_step": 2}, False) is not None
    assert exporter.export(est, str(tmp_path), None, {"loss": 0.7, "global_step": 3}, False) is None
    better = exporter.export(est, str(tmp_path), None, {"loss": 0.4, "global_step": 4}, False)
    assert better is not None
    record = json.loads((tmp_path / "best_eval.json").read_text())
    assert record["eval_result"] == {"loss": 0.4, "global_step": 4} and record["export"] == better
    restarted = BestExporter(metric_key="loss", onnx=False)  # a new process: the best comes from disk
    assert restarted.export(est, str(tmp_path), None, {"loss": 0.45, "global_step": 5}, True) is None
    assert len(list_versions(tmp_path)) == 2


def test_best_exporter_higher_is_better_and_a_missing_metric(trained, tmp_path):
    est, _ = trained
    exporter = BestExporter(metric_key="accuracy", higher_is_better=True)
    assert exporter.is_better({"accuracy": 0.8}, {"accuracy": 0.9})
    assert not exporter.is_better({"accuracy": 0.8}, {"accuracy": 0.7})
    assert not exporter.is_better({"accuracy": 0.8}, {"accuracy": float("nan")})
    with pytest.raises(
        ValueError, match=r"metric_key='accuracy' is not in the evaluation result, which has \['loss'\]"
    ):
        exporter.export(est, str(tmp_path), None, {"loss": 0.3}, False)


def test_best_exporter_reads_the_declared_direction_unless_told():
    assert BestExporter(metric_key="accuracy").higher_is_better is True
    assert BestExporter(metric_key="recall/class_1").higher_is_better is True
    assert BestExporter(metric_key="rmse").higher_is_better is False
    assert BestExporter(metric_key="loss").higher_is_better is False
    assert BestExporter(metric_key="accuracy", higher_is_better=False).higher_is_better is False
    assert BestExporter(metric_key="auc").is_better({"auc": 0.8}, {"auc": 0.81})


def test_exporter_arguments_are_checked():
    with pytest.raises(ValueError, match="exports_to_keep must be a positive int or None"):
        LatestExporter("latest", exports_to_keep=0)
    with pytest.raises(ValueError, match="name must be a non-empty folder name"):
        FinalExporter("")


def test_exporting_an_older_checkpoint_predicts_like_that_checkpoint(trained, tmp_path):
    est, frame = trained
    old_checkpoint = est.latest_checkpoint()
    est.train(frame, label="y", steps=2, batch_size=4)
    path = est.export_saved_model(str(tmp_path), checkpoint_path=old_checkpoint, onnx=False)
    expected = np.stack([r["predictions"] for r in est.predict(frame, checkpoint_path=old_checkpoint)])
    newest = np.stack([r["predictions"] for r in est.predict(frame)])
    got = np.stack([r["predictions"] for r in load(path).predict(frame)])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not np.allclose(got, newest)
    assert load(path).metadata["global_step"] == 2


@pytest.mark.slow
def test_train_and_evaluate_runs_the_exporters(tmp_path):
    import pandas as pd

    from estlab.training import EvalSpec, TrainSpec, train_and_evaluate

    frame = pd.DataFrame({"x": np.linspace(0, 1, 32), "y": np.linspace(1, 3, 32)})
    est = LinearRegressor([fc.numeric_column("x")], model_dir=str(tmp_path / "m"))
    exporters = [LatestExporter("latest", exports_to_keep=1, onnx=False), FinalExporter("final", onnx=False)]
    _, exports = train_and_evaluate(
        est,
        TrainSpec(frame, label="y", max_steps=6),
        EvalSpec(frame, label="y", every_n_steps=3, exporters=exporters),
    )
    assert len(list_versions(tmp_path / "m" / "export" / "latest")) == 1
    assert len(list_versions(tmp_path / "m" / "export" / "final")) == 1
    assert exports[1] == str(list_versions(tmp_path / "m" / "export" / "final")[0])
