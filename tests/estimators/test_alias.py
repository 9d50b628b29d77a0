from __future__ import annotations

import numpy as np

import estlab.estimator as tfe
import estlab.estimators as estimators
import estlab.inputs as inputs


def test_estimator_namespace_reexports_core_premade_and_inputs():
    assert tfe.Estimator is estimators.Estimator
    assert tfe.DNNClassifier is estimators.DNNClassifier  # premade names come from estlab.estimators
    assert tfe.inputs.numpy_input_fn is inputs.numpy_input_fn and tfe.inputs.IndexBatcher is inputs.IndexBatcher
    assert {"RunConfig", "TrainSpec", "EvalSpec", "train_and_evaluate", "model_to_estimator", "ModeKeys",
            "stop_if_no_decrease_hook", "EarlyStopping"} <= set(dir(tfe))


def test_tf_style_input_fn_callable(make_estimator, binary_frame):
    def input_fn():
        return {"a": binary_frame["a"].to_numpy(), "b": binary_frame["b"].to_numpy()}, binary_frame["y"].to_numpy()

    est = make_estimator()
    est.train(input_fn, steps=2)
    assert est.evaluate(input_fn)["global_step"] == 2
    assert np.isfinite(est.predict_frame(input_fn)["logistic"]).all()
