"""TF programs' exporters, export outputs and serving receivers work by rename (``import estlab as tf``)."""

from __future__ import annotations

import functools
import inspect
import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import estlab as tf
from estlab.export import list_versions, load
from estlab.export.eval_events import read_eval_results
from estlab.export.exporters import BestExporter, Exporter, FinalExporter, LatestExporter, loss_smaller
from estlab.export.outputs import ClassificationOutput, PredictOutput, RegressionOutput
from estlab.export.spec import TensorSpec
from estlab.training.summaries import summary_writer, write_scalars


def _accuracy_bigger(best_eval_result, current_eval_result):
    return best_eval_result["accuracy"] < current_eval_result["accuracy"]


RAW_FN = tf.estimator.export.build_raw_serving_input_receiver_fn({"x": "float32"})


# --------------------------------------------------------------------------- signatures as TF's


def _parameters(cls):
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(cls).parameters.values()]


def test_best_exporter_has_tfs_parameters_in_tfs_order_then_estlabs_keyword_only():
    positional, keyword = "POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY"
    assert _parameters(BestExporter) == [
        ("name", positional, "best_exporter"),
        ("serving_input_receiver_fn", positional, None),
        ("event_file_pattern", positional, "eval/*.tfevents.*"),
        ("compare_fn", positional, loss_smaller),
        ("assets_extra", positional, None),
        ("as_text", positional, False),
        ("exports_to_keep", positional, 5),
        ("metric_key", keyword, None),
        ("higher_is_better", keyword, None),
        ("onnx", keyword, None),
    ]
    assert [n for n, kind, _ in _parameters(LatestExporter) if kind == positional] == [
        "name",
        "serving_input_receiver_fn",
        "assets_extra",
        "as_text",
        "exports_to_keep",
    ]
    assert [n for n, kind, _ in _parameters(FinalExporter) if kind == positional] == [
        "name",
        "serving_input_receiver_fn",
        "assets_extra",
        "as_text",
    ]
    assert tf.estimator.Exporter is Exporter and tf.estimator.BestExporter is BestExporter


def test_tf_positional_and_keyword_calls_build_the_same_exporter():
    positional = tf.estimator.BestExporter(
        "best", RAW_FN, "eval/*.tfevents.*", _accuracy_bigger, None, False, 2
    )
    keyword = tf.estimator.BestExporter(
        name="best",
        serving_input_receiver_fn=RAW_FN,
        event_file_pattern="eval/*.tfevents.*",
        compare_fn=_accuracy_bigger,
        exports_to_keep=2,
    )
    for exporter in (positional, keyword):
        assert (
            exporter.name,
            exporter.event_file_pattern,
            exporter.compare_fn,
            exporter.exports_to_keep,
        ) == ("best", "eval/*.tfevents.*", _accuracy_bigger, 2)
        assert exporter.metric_key is None and exporter.serving_input_receiver_fn is RAW_FN
        assert exporter.is_better({"accuracy": 0.5}, {"accuracy": 0.75})
        assert not exporter.is_better({"accuracy": 0.75}, {"accuracy": 0.5})
    latest = tf.estimator.LatestExporter("latest", RAW_FN, None, False, 3)
    final = tf.estimator.FinalExporter("final", RAW_FN, None, False)
    assert (latest.exports_to_keep, final.serving_input_receiver_fn) == (3, RAW_FN)


def test_default_compare_fn_is_tfs_loss_smaller():
    exporter = BestExporter()
    assert (exporter.metric_key, exporter.higher_is_better, exporter.compare_fn) == ("loss", False, None)
    assert exporter.is_better({"loss": 0.5}, {"loss": 0.25}) and not exporter.is_better(
        {"loss": 0.5}, {"loss": 0.5}
    )
    assert loss_smaller(best_eval_result={"loss": 0.5}, current_eval_result={"loss": 0.25}) is True
    assert loss_smaller({"loss": 0.25}, {"loss": 0.5}) is False
    with pytest.raises(
        ValueError, match=r"loss_smaller: current_eval_result must hold a 'loss', got \{'auc': 0.5\}"
    ):
        loss_smaller({"loss": 0.5}, {"auc": 0.5})
    # estlab's metric_key/higher_is_better still work, as keywords
    by_auc = BestExporter(metric_key="auc")
    assert (by_auc.metric_key, by_auc.higher_is_better, by_auc.compare_fn) == ("auc", True, None)
    assert BestExporter(metric_key="rmse", higher_is_better=True).higher_is_better is True


def test_compare_fn_arguments_are_checked_as_tf_does():
    with pytest.raises(
        ValueError,
        match=r"must take the arguments best_eval_result and current_eval_result.*"
        r"it takes \['a', 'b'\]",
    ):
        BestExporter(compare_fn=lambda a, b: True)
    with pytest.raises(ValueError, match=r"it takes \['best_eval_result', 'current_eval_result', 'margin'\]"):
        BestExporter(compare_fn=lambda best_eval_result, current_eval_result, margin: True)
    with pytest.raises(ValueError, match="compare_fn must not be None"):
        BestExporter(compare_fn=None)
    with pytest.raises(ValueError, match="give compare_fn or metric_key, not both"):
        BestExporter(compare_fn=_accuracy_bigger, metric_key="auc")
    with pytest.raises(TypeError, match="compare_fn must be a function, got int"):
        BestExporter(compare_fn=3)

    def margin_better(best_eval_result, current_eval_result, margin):
        return current_eval_result["auc"] > best_eval_result["auc"] + margin

    class Judge:
        def better(self, best_eval_result, current_eval_result):
            return True

    bound = BestExporter(compare_fn=functools.partial(margin_better, margin=0.125))
    assert bound.is_better({"auc": 0.5}, {"auc": 0.75}) and not bound.is_better({"auc": 0.5}, {"auc": 0.5625})
    assert BestExporter(compare_fn=Judge().better).is_better({}, {})
    assert BestExporter(metric_key="auc", compare_fn=None).metric_key == "auc"  # estlab: metric instead


def test_other_arguments_are_checked():
    with pytest.raises(ValueError, match=r"event_file_pattern must be a glob relative to model_dir.*got ''"):
        BestExporter(event_file_pattern="")
    with pytest.raises(ValueError, match="exports_to_keep must be a positive int or None"):
        BestExporter(exports_to_keep=0)
    with pytest.raises(
        TypeError, match="serving_input_receiver_fn must be a function returning a ServingInputRec"
    ):
        LatestExporter("latest", {"x": "float32"})


# --------------------------------------------------------------------------- the best so far, from event files


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    frame = pd.DataFrame({"x": np.linspace(0, 1, 16), "y": np.linspace(1, 3, 16)})
    est = tf.estimator.LinearRegressor(
        [tf.feature_column.numeric_column("x")],
        model_dir=str(tmp_path_factory.mktemp("lin")),
        optimizer="SGD",
    )
    est.train(frame, label="y", steps=2, batch_size=4)
    return est, frame


def _write_eval_events(model_dir, evaluations):
    writer = summary_writer(f"{model_dir}/eval")
    for step, metrics in evaluations:
        write_scalars(writer, metrics, step)
    writer.close()


def test_the_first_export_reads_the_best_so_far_from_the_eval_event_files(tmp_path):
    frame = pd.DataFrame({"x": np.linspace(0, 1, 16), "y": np.linspace(1, 3, 16)})
    est = tf.estimator.LinearRegressor([tf.feature_column.numeric_column("x")], model_dir=str(tmp_path / "m"))
    est.train(frame, label="y", steps=2, batch_size=4)
    _write_eval_events(
        est.model_dir,
        [
            (10, {"accuracy": 0.75, "loss": 0.5}),
            (20, {"accuracy": 0.875, "loss": 0.25}),
            (30, {"accuracy": 0.5, "loss": 0.125}),
        ],
    )
    base = str(tmp_path / "export")
    exporter = BestExporter("best", None, "eval/*.tfevents.*", _accuracy_bigger, onnx=False)
    assert (
        exporter.export(est, base, None, {"accuracy": 0.8125, "loss": 0.0625, "global_step": 40}, False)
        is None
    )
    # the evaluation being exported is not its own rival: the events at its step are left out
    best = exporter.export(est, base, None, {"accuracy": 0.9375, "loss": 0.5, "global_step": 50}, False)
    assert best is not None and load(best).metadata["metrics"] == {"accuracy": 0.9375, "loss": 0.5}
    assert (
        exporter.export(est, base, None, {"accuracy": 0.90625, "loss": 0.5, "global_step": 60}, False) is None
    )
    # the default (TF's loss_smaller) over the same files: the best loss so far is 0.125
    by_loss = BestExporter(onnx=False)
    assert by_loss.export(est, str(tmp_path / "l"), None, {"loss": 0.1875, "global_step": 40}, False) is None
    assert (
        by_loss.export(est, str(tmp_path / "l"), None, {"loss": 0.09375, "global_step": 40}, False)
        is not None
    )
    # without event files (event_file_pattern=None), only best_eval.json of the export folder counts
    fresh = BestExporter(event_file_pattern=None, onnx=False)
    assert fresh.export(est, str(tmp_path / "n"), None, {"loss": 0.75, "global_step": 40}, False) is not None
    assert [e.get("accuracy") for e in [fresh.best_so_far(est.model_dir, str(tmp_path / "n"), 41)]] == [None]


def test_an_evaluation_at_the_same_step_is_left_out_but_earlier_and_later_ones_count(trained, tmp_path):
    est, _ = trained
    model_dir = tmp_path / "events"
    _write_eval_events(model_dir, [(5, {"loss": 0.5}), (7, {"loss": 0.25}), (9, {"loss": 0.375})])
    exporter = BestExporter()
    assert exporter.best_so_far(str(model_dir), str(tmp_path / "e"), 7) == {"loss": 0.375, "global_step": 9}
    assert exporter.best_so_far(str(model_dir), str(tmp_path / "e"), 3) == {"loss": 0.25, "global_step": 7}
    assert BestExporter(metric_key="auc").best_so_far(str(model_dir), str(tmp_path / "e"), 3) is None


@pytest.mark.slow
def test_a_restarted_training_never_exports_a_model_worse_than_one_evaluated_before(tmp_path):
    frame = pd.DataFrame({"x": np.linspace(0, 1, 32), "y": np.linspace(1, 3, 32)})
    model_dir = str(tmp_path / "m")

    def run(max_steps):
        est = tf.estimator.LinearRegressor([tf.feature_column.numeric_column("x")], model_dir=model_dir)
        exporter = tf.estimator.BestExporter(
            name="best_exporter",
            serving_input_receiver_fn=RAW_FN,
            event_file_pattern="eval/*.tfevents.*",
            exports_to_keep=None,
        )
        return tf.estimator.train_and_evaluate(
            est,
            tf.estimator.TrainSpec(frame, label="y", max_steps=max_steps),
            tf.estimator.EvalSpec(frame, label="y", every_n_steps=2, exporters=[exporter]),
        )

    run(6)
    base = tmp_path / "m" / "export" / "best_exporter"
    first = [str(p) for p in list_versions(base)]
    assert len(first) >= 1  # the first evaluation always exports
    losses = [load(p).metadata["metrics"]["loss"] for p in first]
    assert losses == sorted(losses, reverse=True) and len(set(losses)) == len(losses)  # each one better
    # an evaluation of the earlier run better than anything the restart can reach, recorded only in the events
    (base / "best_eval.json").unlink()
    _write_eval_events(model_dir, [(1, {"loss": 0.0})])
    run(12)
    assert [str(p) for p in list_versions(base)] == first
    # not for want of progress: the restart evaluated models better than every export of the first run
    restarted = [
        e["loss"] for e in read_eval_results(f"{model_dir}/eval/*.tfevents.*") if e["global_step"] > 6
    ]
    assert len(restarted) == 3 and max(restarted) < min(losses)


# --------------------------------------------------------------------------- exporters through train_and_evaluate


def test_a_tf_style_exporter_subclass_runs_in_train_and_evaluate(tmp_path):
    calls = []

    class Recording(tf.estimator.Exporter):
        @property
        def name(self):
            return "recording"

        def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
            calls.append((export_path.split("/")[-2:], eval_result["global_step"], is_the_final_export))
            return None

    frame = pd.DataFrame({"x": np.linspace(0, 1, 16), "y": np.linspace(1, 3, 16)})
    est = tf.estimator.LinearRegressor([tf.feature_column.numeric_column("x")], model_dir=str(tmp_path / "m"))
    tf.estimator.train_and_evaluate(
        est,
        tf.estimator.TrainSpec(frame, label="y", max_steps=4),
        tf.estimator.EvalSpec(frame, label="y", every_n_steps=3, exporters=Recording()),
    )
    assert calls == [(["export", "recording"], 3, False), (["export", "recording"], 4, True)]


# --------------------------------------------------------------------------- export outputs of a custom model_fn


def _model_fn(export_outputs):
    from estlab.estimators import layers

    def model_fn(features, labels, mode, params):
        logits = layers.dense(layers.input_layer(features, params["feature_columns"]), 2)
        probabilities = torch.softmax(logits, 1)
        predictions = {"class_ids": torch.argmax(logits, 1), "probabilities": probabilities}
        if mode == tf.estimator.ModeKeys.PREDICT:
            return tf.estimator.EstimatorSpec(
                mode, predictions=predictions, export_outputs=export_outputs(predictions, logits)
            )
        loss = torch.nn.functional.cross_entropy(logits, labels)
        return tf.estimator.EstimatorSpec(
            mode, loss=loss, train_op=torch.optim.Adam(layers.trainable_variables(), 0.05)
        )

    return model_fn


ROWS = [{"a": 0.875, "b": 0.125}, {"a": 0.25, "b": 0.5}, {"a": 0.5, "b": 0.5}]


def _export(tmp_path, export_outputs):
    rng = np.random.default_rng(0)
    x = {"a": rng.random(64).astype("float32"), "b": rng.random(64).astype("float32")}
    y = (x["a"] > x["b"]).astype(int)
    columns = [tf.feature_column.numeric_column("a"), tf.feature_column.numeric_column("b")]
    est = tf.estimator.Estimator(
        model_fn=_model_fn(export_outputs),
        params={"feature_columns": columns},
        config=tf.estimator.RunConfig(model_dir=str(tmp_path / "m")),
    )
    est.train(tf.estimator.inputs.numpy_input_fn(x, y, batch_size=16, num_epochs=2, shuffle=True))
    path = est.export_saved_model(str(tmp_path / "export"), onnx=False)
    expected = list(est.predict(pd.DataFrame(ROWS)))
    return path, {key: np.stack([row[key] for row in expected]) for key in expected[0]}


def _served(path, signature_name):
    from starlette.testclient import TestClient

    from estlab.export.server import create_app

    with TestClient(create_app(path, "m")) as client:
        columnar = client.post(
            "/v1/models/m:predict",
            json={
                "signature_name": signature_name,
                "inputs": {"a": [r["a"] for r in ROWS], "b": [r["b"] for r in ROWS]},
            },
        )
        metadata = client.get("/v1/models/m/metadata").json()
    assert columnar.status_code == 200, columnar.text
    return columnar.json()["outputs"], metadata["metadata"]["signature_def"]["signature_def"]


def test_tf_export_outputs_become_signatures_with_tfs_output_names(tmp_path):
    path, expected = _export(
        tmp_path,
        lambda p, logits: {
            "serving_default": ClassificationOutput(
                scores=p["probabilities"], classes=p["class_ids"][:, None]
            ),
            "regress": RegressionOutput(p["probabilities"][:, 1]),
            "predict": PredictOutput(p),
            "logits": PredictOutput(logits),
        },
    )
    served, signature_defs = _served(path, "serving_default")
    assert sorted(served) == ["classes", "scores"]
    np.testing.assert_allclose(served["scores"], expected["probabilities"], atol=1e-6)
    assert served["classes"] == expected["class_ids"][:, None].tolist()
    methods = {name: d["method_name"] for name, d in signature_defs.items()}
    assert methods == {
        "serving_default": "tensorflow/serving/classify",
        "regress": "tensorflow/serving/regress",
        "predict": "tensorflow/serving/predict",
        "logits": "tensorflow/serving/predict",
    }
    assert {name: sorted(d["outputs"]) for name, d in signature_defs.items()} == {
        "serving_default": ["classes", "scores"],
        "regress": ["outputs"],
        "predict": ["class_ids", "probabilities"],
        "logits": ["output"],
    }
    regress, _ = _served(path, "regress")
    np.testing.assert_allclose(regress, expected["probabilities"][:, 1], atol=1e-6)  # one output: unnamed
    model = load(path)
    predict = model.predict_columns(pd.DataFrame(ROWS))  # the "predict" signature, as the estimator predicts
    np.testing.assert_allclose(predict["probabilities"], expected["probabilities"], atol=1e-6)
    assert predict["class_ids"].tolist() == expected["class_ids"].tolist()
    logits = model.predict_columns(pd.DataFrame(ROWS), "logits")["output"]
    np.testing.assert_allclose(
        torch.softmax(torch.as_tensor(logits), 1).numpy(), expected["probabilities"], atol=1e-6
    )


def test_a_single_export_output_is_also_the_serving_default(tmp_path):
    path, expected = _export(tmp_path, lambda p, logits: {"probs": PredictOutput(p["probabilities"])})
    model = load(path)
    assert (
        sorted(model.signatures) == ["probs", "serving_default"]
        and model.default_signature == "serving_default"
    )
    rows = model.predict(ROWS)  # without "predict", the serving_default signature
    np.testing.assert_allclose(np.stack([r["output"] for r in rows]), expected["probabilities"], atol=1e-6)
    served, _ = _served(path, "probs")
    np.testing.assert_allclose(served, expected["probabilities"], atol=1e-6)


def test_export_outputs_are_checked_as_tf_checks_them(tmp_path):
    with pytest.raises(
        ValueError, match="several signatures \\['a', 'b'\\] were given but none is named 'serving_default'"
    ):
        _export(tmp_path / "1", lambda p, logits: {"a": PredictOutput(logits), "b": PredictOutput(logits)})
    with pytest.raises(TypeError, match=r"values must be ExportOutput objects .* got \{'b': 'str'\}"):
        _export(
            tmp_path / "2", lambda p, logits: {"serving_default": PredictOutput(logits), "b": "class_ids"}
        )
    with pytest.raises(
        ValueError, match="ClassificationOutput: scores must be a float tensor, got dtype torch.int64"
    ):
        ClassificationOutput(scores=torch.zeros(2, dtype=torch.int64))
    with pytest.raises(
        ValueError, match="ClassificationOutput: classes must be an integer tensor of class ids"
    ):
        ClassificationOutput(classes=torch.zeros(2))
    with pytest.raises(ValueError, match="at least one of scores and classes must be set"):
        ClassificationOutput()
    with pytest.raises(
        ValueError, match="RegressionOutput: value must be a torch.Tensor computed by the model_fn, got list"
    ):
        RegressionOutput([1.0])
    assert list(PredictOutput({("head", "p"): torch.zeros(1)}).outputs) == ["head/p"]


def test_the_export_names_tf_programs_use_are_there():
    names = [
        "PredictOutput",
        "ClassificationOutput",
        "RegressionOutput",
        "ExportOutput",
        "ServingInputReceiver",
        "TensorServingInputReceiver",
        "build_raw_supervised_input_receiver_fn",
        "build_raw_serving_input_receiver_fn",
        "build_parsing_serving_input_receiver_fn",
    ]
    assert [name for name in names if not hasattr(tf.estimator.export, name)] == []
    assert tf.estimator.export.PredictOutput is PredictOutput


# --------------------------------------------------------------------------- serving input receivers


def test_raw_receivers_take_numpy_and_torch_dtypes_and_example_tensors():
    build = tf.estimator.export.build_raw_serving_input_receiver_fn
    receiver = build(
        {
            "f": torch.float32,
            "i": np.int64,
            "l": torch.long,
            "d": np.dtype("float64"),
            "t": torch.zeros(5, 3),
            "n": np.zeros(4, dtype=np.int32),
            "s": str,
        }
    )()
    assert receiver.inputs == (
        TensorSpec("f", "float32"),
        TensorSpec("i", "int64"),
        TensorSpec("l", "int64"),
        TensorSpec("d", "float64"),
        TensorSpec("t", "float32", (-1, 3)),
        TensorSpec("n", "int32"),
        TensorSpec("s", "string"),
    )
    assert tf.export.build_raw_serving_input_receiver_fn({"x": torch.float32})().inputs == (
        TensorSpec("x", "float32"),
    )
    with pytest.raises(
        ValueError,
        match=r"build_raw_serving_input_receiver_fn: feature 'c': dtype torch.complex64 "
        r"is not supported; give one of \['bool', 'float32'",
    ):
        build({"c": torch.complex64})


def test_supervised_and_tensor_receivers(tmp_path):
    fn = tf.estimator.export.build_raw_supervised_input_receiver_fn({"x": torch.zeros(2, 4)}, torch.int64)
    receiver = fn()
    assert receiver.inputs == (TensorSpec("x", "float32", (-1, 4)),)
    assert receiver.labels == (TensorSpec("label", "int64"),)
    single = tf.estimator.export.build_raw_supervised_input_receiver_fn(np.float32, {"y": "float32"})()
    assert (single.inputs, single.labels) == (
        (TensorSpec("input", "float32"),),
        (TensorSpec("y", "float32"),),
    )
    with pytest.raises(ValueError, match=r"features and labels must have distinct keys; both have \['y'\]"):
        tf.estimator.export.build_raw_supervised_input_receiver_fn({"y": "float32"}, {"y": "int64"})
    tensor = tf.estimator.export.TensorServingInputReceiver(np.zeros((1, 4), np.float32), {"x": None})
    assert tensor.inputs == (TensorSpec("x", "float32", (-1, 4)),)
    assert tf.estimator.export.TensorServingInputReceiver(torch.int64).inputs == (
        TensorSpec("input", "int64"),
    )
    with pytest.raises(ValueError, match=r"features must be one tensor spec, got a mapping \['a'\]"):
        tf.estimator.export.TensorServingInputReceiver({"a": "float32"})

    # a model reading raw tensors by name exports with either receiver and predicts as the estimator
    from estlab.estimators import layers

    def model_fn(features, labels, mode):
        out = layers.dense(features["x"], 1)
        if mode == tf.estimator.ModeKeys.PREDICT:
            return tf.estimator.EstimatorSpec(mode, predictions={"y": out})
        return tf.estimator.EstimatorSpec(
            mode,
            loss=torch.nn.functional.mse_loss(out[:, 0], labels),
            train_op=torch.optim.SGD(layers.trainable_variables(), 0.1),
        )

    rng = np.random.default_rng(1)
    x = rng.random((32, 4)).astype("float32")
    est = tf.estimator.Estimator(
        model_fn=model_fn, config=tf.estimator.RunConfig(model_dir=str(tmp_path / "m"))
    )
    est.train(
        tf.estimator.inputs.numpy_input_fn({"x": x}, x.sum(1), batch_size=8, num_epochs=1, shuffle=False)
    )
    expected = np.stack(
        [r["y"] for r in est.predict(tf.estimator.inputs.numpy_input_fn({"x": x[:3]}, shuffle=False))]
    )
    for receiver_fn in (fn, lambda: tf.estimator.export.TensorServingInputReceiver(x, {"x": None})):
        model = load(est.export_saved_model(str(tmp_path / "e"), receiver_fn, onnx=False))
        assert model.inputs == (TensorSpec("x", "float32", (-1, 4)),)
        got = model.predict_columns({"x": x[:3].tolist()})["y"]
        np.testing.assert_allclose(got, expected, atol=1e-6)


# --------------------------------------------------------------------------- quiet exports


def test_an_export_with_onnx_emits_no_warning(trained, tmp_path):
    pytest.importorskip("onnxscript")
    est, _ = trained
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = est.export_saved_model(str(tmp_path), onnx=True)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert json.loads((load(path).path / "export.json").read_text())["onnx"]["file"] == "model.onnx"


def test_best_eval_json_records_the_best_export_atomically(trained, tmp_path):
    est, _ = trained
    exporter = BestExporter(onnx=False)
    path = exporter.export(est, str(tmp_path), None, {"loss": 0.5, "global_step": 2}, False)
    record = json.loads((tmp_path / "best_eval.json").read_text())
    assert record == {
        "metric_key": "loss",
        "higher_is_better": False,
        "eval_result": {"loss": 0.5, "global_step": 2},
        "export": path,
    }
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.isdigit()) == ["best_eval.json"]
    shutil.rmtree(path)
