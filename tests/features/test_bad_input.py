"""Bad input gets a clear error naming the column or parameter, what was received and the fix (issue 13).

Non-finite numbers, lists and dicts in categorical columns, bytes against str, empty frames, extreme labels,
non-finite hyper-parameters and networks too big for memory; valid input keeps its behaviour.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

import estlab.feature_column as fc
from estlab.features import FeatureTransformer
from estlab.features.errors import FeatureColumnError
from estlab.features.serialize import column_from_dict, column_to_dict


def _encode(column, data, fit_on=None):
    return FeatureTransformer([column]).fit(fit_on if fit_on is not None else data).transform(data)


# --- non-finite numbers ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e308, -1e39])
def test_non_finite_numbers_are_refused_naming_the_column_value_and_row(bad):
    with pytest.raises(FeatureColumnError, match=rf"numeric column 'age' holds 1 non-finite value\(s\) \(first: "
                                                 rf"{re.escape(repr(bad))} at row 2\).*non_finite='default'"):
        _encode(fc.numeric_column("age"), {"age": [1.0, 2.0, bad]}, fit_on={"age": [1.0]})


def test_non_finite_default_maps_them_to_default_value_and_leaves_missing_values_alone():
    col = fc.numeric_column("x", default_value=-1.0, non_finite="default")
    out = _encode(col, {"x": [1.0, np.inf, np.nan, -1e308, 3.4e38]})["x"].ravel().tolist()
    assert out == [1.0, -1.0, -1.0, -1.0, pytest.approx(3.4e38)]
    shaped = fc.numeric_column("v", shape=2, default_value=(7.0, 8.0), non_finite="default")
    assert _encode(shaped, {"v": [[np.inf, 1.0], [2.0, -np.inf]]})["v"].tolist() == [[7.0, 1.0], [2.0, 8.0]]


def test_missing_values_keep_their_behaviour():
    assert _encode(fc.numeric_column("x", default_value=5.0), {"x": [1.0, None]})["x"].ravel().tolist() == [1.0, 5.0]
    with pytest.raises(FeatureColumnError, match="numeric column 'x' has 1 missing value"):
        _encode(fc.numeric_column("x"), {"x": [1.0, np.nan]})


def test_a_normalizer_never_learns_from_non_finite_values():
    with pytest.raises(FeatureColumnError, match="numeric column 'x' holds 1 non-finite"):
        FeatureTransformer([fc.numeric_column("x", normalizer="zscore")]).fit({"x": [1.0, np.inf]})
    col = fc.numeric_column("x", normalizer="zscore", default_value=0.0, non_finite="default")
    state = FeatureTransformer([col]).fit({"x": [2.0, np.inf, 4.0]}).state_["numeric"]["x"]
    assert state["mean"] == [2.0] and state["max"] == [4.0]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"non_finite": "clip"}, r"non_finite must be one of \['error', 'default'\], got 'clip'"),
    ({"non_finite": "default"}, r"non_finite='default' replaces inf/-inf with default_value, but default_value is None"),
    ({"default_value": float("inf")}, r"default_value must be finite \(within float32's range\), got inf"),
    ({"default_value": float("nan")}, r"default_value must be finite"),
])
def test_non_finite_options_are_checked(kwargs, message):
    with pytest.raises(FeatureColumnError, match=rf"numeric_column 'x': {message}"):
        fc.numeric_column("x", **kwargs)


def test_the_option_is_stored_only_when_set_so_older_specs_are_unchanged():
    assert "non_finite" not in column_to_dict(fc.numeric_column("x"))
    col = fc.numeric_column("x", default_value=0.0, non_finite="default")
    assert column_to_dict(col)["non_finite"] == "default" and column_from_dict(column_to_dict(col)) == col
    assert col.to_source() == "fc.numeric_column('x', default_value=0.0, non_finite='default')"
    old = {"class": "NumericColumn", "key": "x", "shape": [1], "default_value": None, "dtype": "float32",
           "normalizer_fn": None, "normalizer": None}
    assert column_from_dict(old) == fc.numeric_column("x")


def test_weights_of_a_weighted_categorical_column_must_be_finite():
    col = fc.weighted_categorical_column(fc.categorical_column_with_identity("t", 3), "w")
    with pytest.raises(FeatureColumnError, match=r"weight column 'w' holds 1 non-finite weight\(s\) \(first: inf\)"):
        _encode(fc.indicator_column(col), {"t": [0, 1], "w": [1.0, np.inf]})


# --- categorical values: lists, dicts, bytes -------------------------------------------------------------------

def test_rows_mixing_scalars_and_lists_are_multi_valued_rows():
    col = fc.categorical_column_with_vocabulary_list("c", ["a", "b"])
    out = _encode(col, pd.DataFrame({"c": ["a", ["a", "b"], "b"]}))["c"].tolist()
    assert out == [[0, -1], [0, 1], [1, -1]]


@pytest.mark.parametrize("bad", [{"a": 1}, [["a"], "b"]])
def test_a_dict_or_a_nested_list_is_refused_naming_the_row(bad):
    col = fc.categorical_column_with_hash_bucket("c", 10)
    where = "row 1" if isinstance(bad, dict) else "the list in row 1"
    with pytest.raises(FeatureColumnError, match=rf"categorical column 'c': {where} holds a (dict|list).*flat list"):
        _encode(col, pd.DataFrame({"c": ["a", bad, "b"]}))


def test_bytes_are_utf8_text_in_every_kind():
    text, raw = ["red", "blé", "x"], [b"red", "blé".encode(), b"x"]
    for col in (fc.categorical_column_with_vocabulary_list("c", ["red", "blé"], num_oov_buckets=2),
                fc.categorical_column_with_hash_bucket("c", 97),
                fc.categorical_column_with_learned_vocabulary("c")):
        assert _encode(col, {"c": raw}, fit_on={"c": text})["c"].tolist() == _encode(col, {"c": text})["c"].tolist()
    cross = fc.crossed_column(["c", "d"], 1000)
    assert (_encode(cross, {"c": raw, "d": ["1", "2", "3"]})["c_X_d"].tolist()
            == _encode(cross, {"c": text, "d": ["1", "2", "3"]})["c_X_d"].tolist())


def test_a_bytes_vocabulary_is_decoded_and_a_learned_one_saves_as_text():
    assert fc.categorical_column_with_vocabulary_list("c", [b"a", "blé".encode()]).vocabulary_list == ("a", "blé")
    ft = FeatureTransformer([fc.categorical_column_with_learned_vocabulary("c")]).fit({"c": [b"b", b"a", b"b"]})
    assert json.loads(json.dumps(ft.to_dict()))["state"]["vocabulary"]["c"] == ["b", "a"]


def test_bytes_that_are_not_utf8_are_refused_naming_the_column():
    with pytest.raises(FeatureColumnError, match=r"categorical column 'c' holds bytes that are not valid UTF-8 "
                                                 r"\(b'\\xff' at row 1\)"):
        _encode(fc.categorical_column_with_hash_bucket("c", 10), {"c": [b"a", b"\xff"]})
    with pytest.raises(FeatureColumnError, match=r"vocabulary entry b'\\xff' is not valid UTF-8"):
        fc.categorical_column_with_vocabulary_list("c", [b"\xff"])


def test_an_empty_frame_with_a_crossed_column_encodes_to_zero_rows():
    cross = fc.crossed_column(["a", "b"], 10)
    assert tuple(_encode(cross, {"a": [], "b": []}, fit_on={"a": ["x"], "b": ["y"]})["a_X_b"].shape) == (0, 1)


# --- estimators -----------------------------------------------------------------------------------------------

@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=32)
    return pd.DataFrame({"x": x, "c": np.where(x > 0, "p", "n"), "y": (x > 0).astype(int)})


def _classifier(tmp_path, **kwargs):
    from estlab.estimators.dnn import DNNClassifier

    cols = [fc.numeric_column("x"), fc.indicator_column(fc.categorical_column_with_learned_vocabulary("c")),
            fc.indicator_column(fc.crossed_column(["c", "x"], 10))]
    return DNNClassifier(hidden_units=[4], feature_columns=cols, model_dir=str(tmp_path), **kwargs)


def test_training_and_prediction_refuse_non_finite_features(tmp_path, frame):
    est = _classifier(tmp_path)
    with pytest.raises(FeatureColumnError, match="numeric column 'x' holds 1 non-finite"):
        est.train(frame.assign(x=[np.inf, *frame["x"][1:]]), label="y", steps=1)
    est.train(frame, label="y", steps=2)
    with pytest.raises(FeatureColumnError, match=r"numeric column 'x' holds 1 non-finite value\(s\) \(first: 1e\+308"):
        est.predict_frame(frame.drop(columns="y").assign(x=[1e308, *frame["x"][1:]]))
    with pytest.raises(FeatureColumnError, match="numeric column 'x' holds 1 non-finite"):
        est.evaluate(frame.assign(x=[-np.inf, *frame["x"][1:]]), label="y")


def test_empty_frames_predict_nothing_and_evaluate_refuses(tmp_path, frame):
    est = _classifier(tmp_path)
    est.train(frame, label="y", steps=2)
    assert len(est.predict_frame(frame.drop(columns="y").iloc[:0])) == 0
    with pytest.raises(ValueError, match="evaluate: the input has 0 rows, and metrics need at least one example"):
        est.evaluate(frame.iloc[:0], label="y")


def test_bytes_training_data_checkpoints_and_predicts_like_text(tmp_path, frame):
    est = _classifier(tmp_path)
    est.train(frame.assign(c=frame["c"].str.encode("utf-8")), label="y", steps=3)  # the final checkpoint is written
    as_bytes = est.predict_frame(frame.drop(columns="y").assign(c=frame["c"].str.encode("utf-8")))
    as_text = est.predict_frame(frame.drop(columns="y"))
    assert as_bytes["logits"].tolist() == as_text["logits"].tolist()


@pytest.mark.parametrize("weight", [np.inf, 1e308, -1.0])
def test_the_weight_column_must_be_finite_and_non_negative(tmp_path, frame, weight):
    est = _classifier(tmp_path, weight_column="w")
    with pytest.raises(ValueError, match=rf"weight_column 'w' has 1 negative or non-finite weight\(s\), e.g. "
                                         rf"{re.escape(str(weight))}"):
        est.train(frame.assign(w=[weight, *np.ones(len(frame) - 1)]), label="y", steps=1)


@pytest.mark.parametrize(("label", "what"), [(np.inf, "not finite"), (-np.inf, "not finite"),
                                             (1e30, r"beyond \+-1e\+17")])
def test_regression_labels_that_overflow_the_loss_are_refused(tmp_path, frame, label, what):
    from estlab.estimators.linear import LinearRegressor

    est = LinearRegressor(feature_columns=[fc.numeric_column("x")], model_dir=str(tmp_path))
    y = frame["x"].to_numpy().copy()
    y[3] = label
    with pytest.raises(ValueError, match=rf"1 regression label\(s\) are {what} \(first: {re.escape(repr(label))} at row 3\); "
                                         r"RegressionHead needs finite labels with \|label\| <= 1e\+17"):
        est.train(frame.assign(y=y), label="y", steps=1)
    from estlab.estimators.heads import PoissonRegressionHead, RegressionHead

    edge = float(np.float32(1e17))
    assert RegressionHead().encode_labels([-1e17, 1e17]).tolist() == [[-edge], [edge]]  # the bounds are accepted
    assert PoissonRegressionHead().encode_labels([1e30]).tolist() == [[float(np.float32(1e30))]]  # a wider bound


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), 0.0, -0.1])
@pytest.mark.parametrize("name", ["dnn", "linear", "baseline", "combined"])
def test_non_finite_or_non_positive_learning_rates_are_refused(rate, name):
    from estlab.estimators import (
        BaselineClassifier,
        DNNClassifier,
        DNNLinearCombinedClassifier,
        LinearClassifier,
    )

    cols = [fc.numeric_column("x")]
    est, param = {
        "dnn": (lambda: DNNClassifier([4], cols, learning_rate=rate), "learning_rate"),
        "linear": (lambda: LinearClassifier(cols, learning_rate=rate), "learning_rate"),
        "baseline": (lambda: BaselineClassifier(learning_rate=rate), "learning_rate"),
        "combined": (lambda: DNNLinearCombinedClassifier(linear_feature_columns=cols, linear_learning_rate=rate),
                     "learning_rate"),
    }[name]
    with pytest.raises(ValueError, match=rf"{param} must be a positive number; received {rate!r}"):
        est()._check()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_numeric_hyper_parameters_are_refused(value):
    from estlab.estimators._premade import check_number

    with pytest.raises(ValueError, match=rf"l2_regularization must be a finite number >= 0.0; received {value!r}"):
        check_number(value, "l2_regularization", 0.0)


@pytest.mark.parametrize("units", [[10**9], [64, 10**8]])
def test_a_network_too_big_for_memory_is_refused_before_allocation(tmp_path, frame, units):
    before = torch.cuda.memory_allocated() if torch.cuda.is_available() else 0
    est = _classifier(tmp_path).set_params(hidden_units=units)
    with pytest.raises(MemoryError, match=rf"hidden_units={re.escape(repr(units))} makes a model of [\d,]+ parameters, which needs "
                                          r"about [\d.]+ GB to train .* but only [\d.]+ GB of memory is available; "
                                          "use smaller hidden_units"):
        est.train(frame, label="y", steps=1)
    assert (torch.cuda.memory_allocated() if torch.cuda.is_available() else 0) == before


def test_the_combined_estimator_names_dnn_hidden_units(tmp_path, frame):
    from estlab.estimators import DNNLinearCombinedClassifier

    est = DNNLinearCombinedClassifier(dnn_feature_columns=[fc.numeric_column("x")], dnn_hidden_units=[10**9],
                                      model_dir=str(tmp_path))
    with pytest.raises(MemoryError, match=r"dnn_hidden_units=\[1000000000\] makes a model"):
        est.train(frame, label="y", steps=1)


def test_the_size_estimate_counts_every_layer():
    from estlab.estimators._premade import TRAINING_BYTES_PER_PARAMETER, check_model_size

    check_model_size(100, "hidden_units", [4], available=100 * TRAINING_BYTES_PER_PARAMETER)  # fits exactly
    with pytest.raises(MemoryError, match="makes a model of 101 parameters"):
        check_model_size(101, "hidden_units", [4], available=100 * TRAINING_BYTES_PER_PARAMETER)


def test_infer_columns_maps_non_finite_values_to_the_finite_median():
    from estlab.features import infer_columns

    frame = pd.DataFrame({"x": [1.0, np.inf, 2.0, -1e308, 3.0, 4.0], "z": [np.inf] * 3 + [-np.inf] * 3,
                          "y": [0, 1] * 3})
    inferred = infer_columns(frame, label="y")
    assert inferred.feature_columns == [
        fc.numeric_column("x", default_value=2.5, normalizer="zscore", non_finite="default")]
    reasons = {c.key: c.reason for c in inferred.choices}
    assert reasons["x"].endswith("2 non-finite (inf or beyond float32) -> the median too")
    assert reasons["z"] == "no finite values (inf or beyond float32's range)"
    encoded = FeatureTransformer(inferred.feature_columns).fit(frame).transform(frame)["x"]
    assert bool(encoded.isfinite().all())


@pytest.mark.slow
def test_a_loaded_export_refuses_non_finite_features_too(tmp_path, frame):
    from estlab.export import load

    est = _classifier(tmp_path / "model")
    est.train(frame, label="y", steps=2)
    model = load(est.export_saved_model(str(tmp_path / "export")))
    rows = {"x": [0.5, np.inf], "c": ["p", "n"]}
    with pytest.raises(ValueError, match=r"numeric column 'x' holds 1 non-finite value\(s\) \(first: inf"):
        model.predict_columns(rows)  # the export's InvalidInputError (HTTP 400 when served)
    assert np.isfinite(model.predict_columns({"x": [0.5, 1.0], "c": ["p", "n"]})["logits"]).all()


def test_a_learned_vocabulary_of_values_json_cannot_hold_is_refused_at_fit():
    col = fc.categorical_column_with_learned_vocabulary("when")
    with pytest.raises(FeatureColumnError, match=r"column 'when': a learned vocabulary holds strings or integers, "
                                                 r"but the column holds Timestamp values"):
        FeatureTransformer([col]).fit({"when": [pd.Timestamp("2020-01-01")]})
