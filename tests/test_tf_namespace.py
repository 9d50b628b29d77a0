"""TF's module paths (issue 10, item 2): ``import estlab`` then ``estlab.estimator.X`` / ``estlab.feature_column.X``,
with ``estimator.experimental``, ``estimator.export`` and ``estimator.inputs``; nothing loads before it is used."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_import_estlab_loads_no_subpackage_and_tf_paths_work_after_it():
    out = run_python(
        "import sys, estlab\n"
        "print(sorted(m for m in sys.modules if m.startswith('estlab.') or m == 'torch'))\n"
        "print(estlab.feature_column.numeric_column('age').name, 'torch' in sys.modules)\n"
        "print(estlab.estimator.DNNClassifier.__name__, estlab.estimator.experimental.stop_if_no_decrease_hook.__name__)"
    )
    assert out.splitlines() == ["[]", "age False", "DNNClassifier stop_if_no_decrease_hook"]


def test_estimator_namespace_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import estlab.estimator as e\n"
            "print(e.experimental.stop_if_higher_hook.__name__, sorted(e.TF_NAMES)[0])")
    assert run_python(code) == "stop_if_higher_hook BaselineClassifier"


def test_subpackages_are_the_modules():
    import estlab
    import estlab.estimator.experimental
    import estlab.estimator.export
    import estlab.estimator.inputs
    import estlab.estimators
    import estlab.inputs

    assert estlab.estimators is sys.modules["estlab.estimators"] and estlab.inputs is sys.modules["estlab.inputs"]
    assert estlab.estimator.experimental is sys.modules["estlab.estimator.experimental"]
    assert {"estimator", "feature_column", "estimators", "export", "features", "inputs", "training"} <= set(dir(estlab))
    with pytest.raises(AttributeError, match="module 'estlab' has no attribute 'estimatr'"):
        estlab.estimatr  # noqa: B018


def test_estimator_serves_tf_names_from_their_modules():
    import estlab.estimator as tfe
    from estlab.estimators.dnn import DNNClassifier
    from estlab.export.exporters import BestExporter
    from estlab.training import early_stopping
    from estlab.training.config import RunConfig
    from estlab.training.loop import NanLossError
    from estlab.training.train_and_evaluate import EvalSpec, TrainSpec, train_and_evaluate

    assert (tfe.DNNClassifier, tfe.RunConfig, tfe.TrainSpec, tfe.EvalSpec) == (DNNClassifier, RunConfig, TrainSpec,
                                                                             EvalSpec)
    assert tfe.train_and_evaluate is train_and_evaluate and tfe.BestExporter is BestExporter
    assert tfe.NanLossDuringTrainingError is NanLossError
    assert tfe.stop_if_no_decrease_hook is early_stopping.stop_if_no_decrease_hook  # kept where estlab had it
    for name in ("stop_if_higher_hook", "stop_if_lower_hook", "stop_if_no_decrease_hook", "stop_if_no_increase_hook",
                 "make_early_stopping_hook"):
        assert getattr(tfe.experimental, name) is getattr(early_stopping, name)
    assert set(tfe.experimental.__all__) >= {"InMemoryEvaluatorHook", "make_early_stopping_hook"}
    assert tfe.make_head.__name__ == "make_head"  # every other estlab.estimators name is served too
    with pytest.raises(AttributeError, match="module 'estlab.estimator' has no attribute 'LinearSDCA'"):
        tfe.LinearSDCA  # noqa: B018
    with pytest.raises(AttributeError, match="module 'estlab.estimator.experimental' has no attribute 'RNNClassifier'"):
        tfe.experimental.RNNClassifier  # noqa: B018
    missing = [name for name in tfe.__all__ if not hasattr(tfe, name)]
    assert not missing


def test_parse_example_specs():
    from estlab import feature_column as fc
    from estlab.estimator import classifier_parse_example_spec, regressor_parse_example_spec
    from estlab.estimator.export import TensorSpec, make_parse_example_spec

    job = fc.categorical_column_with_hash_bucket("job", 10)
    columns = [fc.numeric_column("age"), fc.numeric_column("xy", shape=2), fc.embedding_column(job, 4),
               fc.indicator_column(fc.categorical_column_with_identity("id", 5))]
    assert make_parse_example_spec(columns) == {
        "age": TensorSpec("age", "float32"), "xy": TensorSpec("xy", "float32", (-1, 2)),
        "job": TensorSpec("job", "string"), "id": TensorSpec("id", "int64")}
    spec = classifier_parse_example_spec(columns[:1], "label", weight_column=fc.numeric_column("w"))
    assert spec == {"age": TensorSpec("age", "float32"), "label": TensorSpec("label", "int64"),
                    "w": TensorSpec("w", "float32")}
    assert regressor_parse_example_spec(columns[:1], "price", "float64", None, 3) == {
        "age": TensorSpec("age", "float32"), "price": TensorSpec("price", "float64", (-1, 3))}
    with pytest.raises(ValueError, match="label_key 'age' is also a feature key"):
        classifier_parse_example_spec(columns[:1], "age")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        classifier_parse_example_spec(columns[:1], "y", label_default=0)
    assert [str(w.message) for w in caught] == [
        "classifier_parse_example_spec: ignoring label_default (it has no meaning in PyTorch); remove it to "
        "silence this warning"]


def test_parsing_receiver_export_serves_json_rows(tmp_path, binary_frame):
    import numpy as np
    import pandas as pd

    import estlab
    from estlab import feature_column as fc

    columns = [fc.numeric_column("a"), fc.numeric_column("b")]
    est = estlab.estimator.LinearClassifier(columns, str(tmp_path / "m"), config=estlab.estimator.RunConfig(
        random_seed=0))
    est.train(binary_frame, label="y", steps=5)
    receiver_fn = estlab.estimator.export.build_parsing_serving_input_receiver_fn(
        estlab.estimator.export.make_parse_example_spec(columns))
    path = est.export_saved_model(str(tmp_path / "export"), receiver_fn)
    rows = [{"a": 1.0, "b": 2.0}, {"a": -3.0, "b": 0.5}]
    served = estlab.export.load(path).predict(rows)
    expected = est.predict_frame(pd.DataFrame(rows))["logistic"].to_numpy()
    np.testing.assert_allclose([float(np.ravel(r["logistic"])[0]) for r in served], expected, rtol=1e-5)
