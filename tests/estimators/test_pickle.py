"""Estimators pickle by their constructor arguments and model_dir; an unpickled one reloads the newest checkpoint."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from estlab.estimators import DNNClassifier, LinearRegressor
from estlab.features import numeric_column


def _columns():
    return [numeric_column("a"), numeric_column("b")]


@pytest.mark.parametrize("make", [
    lambda d: DNNClassifier(hidden_units=[4], feature_columns=_columns(), model_dir=d),
    lambda d: LinearRegressor(feature_columns=_columns(), model_dir=d),
], ids=["dnn_classifier", "linear_regressor"])
def test_round_trip_gives_equal_predictions(make, binary_frame, tmp_path):
    est = make(str(tmp_path / "m")).train(binary_frame, label="y", steps=6)
    clone = pickle.loads(pickle.dumps(est))
    assert type(clone) is type(est) and clone.model_dir == est.model_dir and clone.global_step == 6
    assert clone.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    before, after = est.predict_frame(binary_frame), clone.predict_frame(binary_frame)
    assert before.equals(after)
    assert clone.evaluate(binary_frame)["loss"] == est.evaluate(binary_frame)["loss"]
    # the clone trains on from the checkpoint, with a lock and stop flag of its own
    assert clone.train(binary_frame, label="y", steps=2).global_step == 8
    assert clone._stop_event is not est._stop_event and clone._models is not est._models


def test_custom_estimator_and_temporary_model_dir_round_trip(make_estimator, binary_frame):
    from estimator_testing import linear_model_fn

    from estlab.estimators.estimator import Estimator

    est = make_estimator().train(binary_frame, label="y", steps=3)
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.predict_frame(binary_frame).to_numpy(),
                                  est.predict_frame(binary_frame).to_numpy())
    untrained = Estimator(linear_model_fn)  # no model_dir: a temporary one is made when pickled, and shared
    copy = pickle.loads(pickle.dumps(untrained))
    assert copy.model_dir == untrained._model_dir is not None and copy.global_step == 0
    with pytest.raises(ValueError, match="call train\\(\\) first"):
        copy.evaluate(binary_frame, label="y")
