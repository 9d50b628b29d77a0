"""Functions in columns run on tensors inside the model (as in TF); saved state loads into the columns of code."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from estlab import feature_column as fc
from estlab.features import FeatureColumnError, FeatureTransformer, LinearFeatures
from estlab.features.serialize import StoredFunction, column_from_dict


def _scaler(center: float, scale: float):
    return lambda t: (t - center) / scale


def test_a_closure_normalizer_runs_in_the_layer_on_tensors():
    column = fc.numeric_column("x", shape=2, normalizer_fn=_scaler(10.0, 4.0))
    data = {"x": [[10.0, 14.0], [2.0, 18.0]]}
    assert FeatureTransformer([column]).transform(data)["x"].tolist() == [[10.0, 14.0], [2.0, 18.0]]
    assert fc.input_layer(data, [column]).tolist() == [[0.0, 1.0], [-2.0, 2.0]]
    seen = []
    column = fc.numeric_column("x", shape=2, normalizer_fn=lambda t: seen.append(tuple(t.shape)) or t)
    fc.input_layer(data, [column])
    assert seen == [(2, 2)]  # TF's contract: the (N, *shape) tensor


def test_a_normalizer_must_keep_the_shape():
    column = fc.numeric_column("x", normalizer_fn=lambda t: t.sum())
    with pytest.raises(FeatureColumnError, match=r"normalizer_fn returned shape \(\) for 2 rows of shape \(1,\)"):
        fc.input_layer({"x": [1.0, 2.0]}, [column])


def test_a_bucketized_column_over_a_normalizer_is_bucketized_in_the_model():
    source = fc.numeric_column("x", normalizer_fn=lambda t: t * 10.0)
    bucketized = fc.bucketized_column(source, [5.0, 15.0])
    data = {"x": [0.1, 0.5, 1.0, 2.0]}
    ft = FeatureTransformer([bucketized])
    assert ft.transform(data)["x_bucketized"].dtype == torch.float32  # the source values, for the model
    linear = LinearFeatures([bucketized], ft, use_bias=False)
    with torch.no_grad():
        linear.weights["x_bucketized"].copy_(torch.tensor([[1.0], [2.0], [3.0]]))
    assert linear(data).ravel().tolist() == [1.0, 2.0, 2.0, 3.0]  # ids 0, 1, 1, 2 (5.0 is in [5, 15))
    assert fc.input_layer(data, [bucketized]).argmax(dim=1).tolist() == [0, 1, 1, 2]
    cross = fc.crossed_column([bucketized, "c"], 1000)  # a cross reads the ids in numpy, through the function
    same = fc.crossed_column([fc.bucketized_column(fc.numeric_column("y"), [5.0, 15.0]), "c"], 1000)
    crossed = FeatureTransformer([cross]).transform({**data, "c": ["a"] * 4})[cross.name]
    expected = FeatureTransformer([same]).transform({"y": [1.0, 5.0, 10.0, 20.0], "c": ["a"] * 4})[same.name]
    assert crossed.tolist() == expected.tolist()


def test_learned_boundaries_are_quantiles_of_the_normalized_values():
    column = fc.bucketized_column(fc.numeric_column("x", normalizer_fn=lambda t: t * 10.0), "quantiles:2")
    assert FeatureTransformer([column]).fit({"x": [1.0, 2.0, 3.0, 4.0]}).boundaries(column) == [25.0]


def test_saved_state_loads_into_the_columns_of_code_and_nothing_else():
    frame = {"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}
    columns = [fc.numeric_column("x", normalizer="zscore", normalizer_fn=lambda t: t + 1.0),
               fc.categorical_column_with_learned_vocabulary("c")]
    saved = json.loads(json.dumps(FeatureTransformer(columns).fit(frame).to_dict()))
    # another process's lambda: functions are compared by presence, not identity
    mine = [fc.numeric_column("x", normalizer="zscore", normalizer_fn=lambda t: t + 1.0),
            fc.categorical_column_with_learned_vocabulary("c")]
    loaded = FeatureTransformer.from_dict(saved, mine)
    assert loaded.feature_columns == tuple(mine) and loaded.state_["vocabulary"] == {"c": ["a", "b"]}
    assert fc.input_layer(frame, [mine[0]], loaded).ravel().tolist() == pytest.approx(
        [-1.224744871391589 + 1.0, 1.0, 1.224744871391589 + 1.0])
    no_fn = [fc.numeric_column("x", normalizer="zscore"), mine[1]]
    with pytest.raises(FeatureColumnError, match=r"doesn't fit the feature columns: .*only saved: .*\"normalizer_fn\": "
                                                 r"\"<function>\".*only in the code: .*\"normalizer_fn\": null"):
        FeatureTransformer.from_dict(saved, no_fn)
    with pytest.raises(FeatureColumnError, match=r"fitted for 2 column\(s\), the code builds 1"):
        FeatureTransformer.from_dict(saved, mine[:1])


def test_old_callable_entries_are_descriptions_never_imports():
    old = {"class": "NumericColumn", "key": "x", "shape": [1], "default_value": None, "dtype": "float32",
           "normalizer_fn": {"callable": "os:system"}, "normalizer": None}
    column = column_from_dict(old)
    assert column.normalizer_fn == StoredFunction("os:system", legacy=True)
    with pytest.raises(FeatureColumnError, match=r"'os:system' was read from a file, which holds no code"):
        column.normalizer_fn("echo hi")
    assert np.array_equal(FeatureTransformer([column]).transform({"x": [2.0]})["x"].numpy(), [[2.0]])
