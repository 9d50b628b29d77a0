"""FeatureTransformer: TF semantics pinned to exact values, fitting, errors, persistence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from estlab import feature_column as fc
from estlab.features import (
    DenseFeatures,
    FeatureColumnError,
    FeatureTransformer,
    MissingColumnError,
    NotFittedError,
)
from estlab.features.serialize import StoredFunction


def ids(col, data):
    ft = FeatureTransformer([col])
    return ft.transform(data)[ft.encoded_key(col)].tolist()


def test_vocabulary_list_ids_default_and_oov():
    vocab = ["red", "blue", "green"]
    assert ids(fc.categorical_column_with_vocabulary_list("c", vocab), {"c": ["blue", "pink", None]}) == [[1], [-1], [-1]]
    assert ids(fc.categorical_column_with_vocabulary_list("c", vocab, default_value=2),
               {"c": ["pink"]}) == [[2]]
    col = fc.categorical_column_with_vocabulary_list("c", vocab, num_oov_buckets=4)
    out = np.array(ids(col, {"c": ["red", "pink", "pink", "teal", "x1", "x2", None]})).ravel()
    assert out[0] == 0
    assert out[1] == out[2]  # same unknown value -> same bucket
    assert ((out[1:] >= 3) & (out[1:] < 7)).all()
    assert out[-1] == 3  # missing -> first OOV id
    assert ids(fc.categorical_column_with_vocabulary_list("n", [10, 20]), {"n": [20, 10, 30]}) == [[1], [0], [-1]]


def test_vocabulary_type_mismatch_is_an_error():
    col = fc.categorical_column_with_vocabulary_list("c", ["1", "2"])
    with pytest.raises(FeatureColumnError, match=r"'c': the vocabulary holds strings but the input holds numbers"):
        ids(col, {"c": np.array([1, 2])})


def test_identity_out_of_range():
    col = fc.categorical_column_with_identity("h", 3)
    assert ids(col, {"h": [0, 2, None]}) == [[0], [2], [-1]]
    with pytest.raises(FeatureColumnError, match=r"'h': value 5 is outside \[0, 3\).*default_value"):
        ids(col, {"h": [0, 5]})
    with_default = fc.categorical_column_with_identity("h", 3, default_value=1)
    assert ids(with_default, {"h": [5, -3, 2, None]}) == [[1], [1], [2], [1]]


def test_bucket_edges_match_tf():
    col = fc.bucketized_column(fc.numeric_column("x"), [0.0, 10.0, 20.0])
    assert ids(col, {"x": [-1.0, 0.0, 9.99, 10.0, 20.0, 1e9]}) == [[0], [1], [1], [2], [3], [3]]
    two = fc.bucketized_column(fc.numeric_column("x", shape=2), [0.0])
    assert ids(two, {"x": np.array([[-1.0, 1.0], [1.0, -1.0]])}) == [[0, 3], [1, 2]]
    assert FeatureTransformer([two]).num_buckets(two) == 4


def test_learned_quantile_boundaries_exact():
    col = fc.bucketized_column(fc.numeric_column("x"), "quantiles:4")
    ft = FeatureTransformer([col]).fit(pd.DataFrame({"x": np.arange(1.0, 9.0)}))
    assert ft.state_["boundaries"]["x_bucketized"] == pytest.approx(np.quantile(np.arange(1.0, 9.0), [0.25, 0.5, 0.75]))
    assert ft.state_["boundaries"]["x_bucketized"] == [2.75, 4.5, 6.25]
    assert ft.transform({"x": [1.0, 3.0, 5.0, 7.0]})["x_bucketized"].ravel().tolist() == [0, 1, 2, 3]


def test_hash_and_crossed_in_range_and_deterministic():
    hashed = fc.categorical_column_with_hash_bucket("c", 7)
    values = {"c": [f"v{i}" for i in range(200)] + [None]}
    out = np.array(ids(hashed, values)).ravel()
    assert ((out[:-1] >= 0) & (out[:-1] < 7)).all() and out[-1] == -1
    assert len(set(out[:-1])) == 7
    assert ids(hashed, {"c": ["7"]}) == ids(fc.categorical_column_with_hash_bucket("c", 7, dtype=int), {"c": [7]})
    crossed = fc.crossed_column(["a", "b"], 5)
    data = {"a": ["x", "x", "y", None], "b": [1, 2, 1, 1]}
    out = np.array(ids(crossed, data)).ravel()
    assert ((out[:3] >= 0) & (out[:3] < 5)).all() and out[3] == -1
    assert ids(crossed, data) == ids(crossed, data)
    # crossing is order dependent like TF's fingerprint, and crosses multi-valued rows as a product
    multi = ids(crossed, {"a": [["x", "y"]], "b": [[1, 2, 3]]})
    assert len(multi[0]) == 6 and min(multi[0]) >= 0


def test_crossed_with_bucketized():
    age = fc.bucketized_column(fc.numeric_column("age"), [30.0])
    crossed = fc.crossed_column([age, "g"], 1000)
    a = ids(crossed, {"age": [20.0, 25.0, 40.0], "g": ["m", "m", "m"]})
    assert a[0] == a[1] and a[0] != a[2]


def test_multivalued_lists_pad_with_minus_one():
    col = fc.categorical_column_with_vocabulary_list("t", ["a", "b", "c"])
    assert ids(col, {"t": [["a", "c"], [], ["b", "b", "z"]]}) == [[0, 2, -1], [-1, -1, -1], [1, 1, -1]]


def test_numeric_missing_default_and_error():
    col = fc.numeric_column("x", default_value=-5.0)
    ft = FeatureTransformer([col])
    assert ft.transform({"x": [1.0, np.nan, None]})["x"].ravel().tolist() == [1.0, -5.0, -5.0]
    with pytest.raises(FeatureColumnError, match=r"numeric column 'y' has 1 missing value\(s\) \(first at row 1\)"):
        FeatureTransformer([fc.numeric_column("y")]).transform({"y": [1.0, None]})


def test_zscore_and_minmax_match_sklearn(tiny_frame):
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    z = fc.numeric_column("hours", normalizer="zscore")
    m = fc.numeric_column("age", normalizer="minmax", default_value=30.0)
    ft = FeatureTransformer([z, m]).fit(tiny_frame)
    out = ft.transform(tiny_frame)
    hours = tiny_frame[["hours"]].to_numpy(float)
    np.testing.assert_allclose(out["hours"].numpy(), StandardScaler().fit_transform(hours), rtol=1e-6)
    age = tiny_frame[["age"]].fillna(30.0).to_numpy(float)
    np.testing.assert_allclose(out["age"].numpy(), MinMaxScaler().fit_transform(age), rtol=1e-6)
    assert out["hours"].dtype == torch.float32


def test_normalizer_fn_applies_after_default_inside_the_layer():
    col = fc.numeric_column("x", default_value=1.0, normalizer_fn=lambda t: t * 10)
    # the transformer fills the default; normalizer_fn runs on tensors inside the model, as in TF
    assert FeatureTransformer([col]).transform({"x": [2.0, None]})["x"].ravel().tolist() == [2.0, 1.0]
    assert fc.input_layer({"x": [2.0, None]}, [col]).ravel().tolist() == [20.0, 10.0]


def test_learned_vocabulary_order_cutoffs_and_unknown_slot():
    df = pd.DataFrame({"c": ["b", "a", "b", "c", "a", "b", "d", None]})
    col = fc.categorical_column_with_learned_vocabulary("c", min_frequency=2)
    ft = FeatureTransformer([col]).fit(df)
    assert ft.state_["vocabulary"]["c"] == ["b", "a"]  # most frequent first; c, d seen once
    assert ft.num_buckets(col) == 3
    assert ft.transform({"c": ["a", "b", "zzz", None, "c"]})["c"].ravel().tolist() == [1, 0, 2, 2, 2]
    top1 = fc.categorical_column_with_learned_vocabulary("c", max_tokens=1, num_oov_buckets=0)
    ft1 = FeatureTransformer([top1]).fit(df)
    assert ft1.state_["vocabulary"]["c"] == ["b"]
    assert ft1.transform({"c": ["b", "a"]})["c"].ravel().tolist() == [0, -1]
    ties = FeatureTransformer([fc.categorical_column_with_learned_vocabulary("c")]).fit({"c": ["z", "y", "x"]})
    assert ties.state_["vocabulary"]["c"] == ["x", "y", "z"]


def test_weighted_column_carries_weights():
    col = fc.weighted_categorical_column(fc.categorical_column_with_vocabulary_list("t", ["a", "b"]), "w")
    ft = FeatureTransformer([col])
    out = ft.transform({"t": [["a", "b"], ["b", "zz"]], "w": [[0.5, 2.0], [3.0, 4.0]]})
    assert out["t_weighted_by_w"].tolist() == [[0, 1], [1, -1]]
    assert out["t_weighted_by_w/weights"].tolist() == [[0.5, 2.0], [3.0, 0.0]]


def test_missing_column_lists_close_names(tiny_frame):
    ft = FeatureTransformer([fc.numeric_column("agee")])
    with pytest.raises(MissingColumnError, match=r"column 'agee' is not in the input\. Did you mean 'age'\?"):
        ft.transform(tiny_frame)


def test_string_in_numeric_column_shows_first_bad_value():
    df = pd.DataFrame({"x": ["1", "2", "oops", "bad"]})
    with pytest.raises(FeatureColumnError, match=r"numeric column 'x' holds a non-numeric value 'oops' \(row 2\)"):
        FeatureTransformer([fc.numeric_column("x", normalizer="zscore")]).fit(df)


def test_empty_frame_and_not_fitted(tiny_frame):
    ft = FeatureTransformer([fc.numeric_column("age", normalizer="zscore", default_value=0.0)])
    with pytest.raises(NotFittedError, match=r"not fitted: columns \['age'\].*Call \.fit\(train_df\)"):
        ft.transform(tiny_frame)
    with pytest.raises(FeatureColumnError, match=r"training frame is empty \(0 rows\)"):
        ft.fit(tiny_frame.iloc[:0])
    assert not ft.is_fitted
    assert ft.fit(tiny_frame).is_fitted


def test_empty_learned_vocabulary_is_an_error():
    col = fc.categorical_column_with_learned_vocabulary("c", min_frequency=5)
    with pytest.raises(FeatureColumnError, match=r"'c': the learned vocabulary is empty.*lower min_frequency"):
        FeatureTransformer([col]).fit({"c": ["a", "b"]})


def test_metadata(tiny_frame):
    color = fc.categorical_column_with_learned_vocabulary("color")
    cols = [fc.numeric_column("age", default_value=0.0), fc.indicator_column(color), fc.embedding_column(color, 3),
            fc.bucketized_column(fc.numeric_column("hours"), [30.0, 45.0]), fc.crossed_column(["city", "color"], 9)]
    ft = FeatureTransformer(cols).fit(tiny_frame)
    assert ft.required_keys == ["age", "city", "color", "hours"]
    assert ft.num_buckets(color) == 4  # red, blue, green + unknown
    assert ft.dense_width() == 1 + 4 + 3 + 3
    assert sorted(ft.transform(tiny_frame)) == ["age", "city_X_color", "color", "hours_bucketized"]


def test_name_collisions_get_distinct_keys_and_state(tiny_frame):
    num = fc.numeric_column("hours")
    ident = fc.categorical_column_with_identity("hours", 100)
    vocab = fc.categorical_column_with_vocabulary_list("color", ["red"])
    hashed = fc.categorical_column_with_hash_bucket("color", 5)
    rare = fc.categorical_column_with_learned_vocabulary("color", min_frequency=3)
    every = fc.categorical_column_with_learned_vocabulary("color")
    cols = [num, fc.indicator_column(ident), fc.indicator_column(vocab), fc.embedding_column(hashed, 2),
            fc.indicator_column(rare), fc.embedding_column(every, 2)]
    with pytest.raises(FeatureColumnError, match=r"Duplicate feature column name found .* name 'color_indicator'"):
        DenseFeatures(cols)
    ft = FeatureTransformer(cols).fit(tiny_frame)
    assert [ft.encoded_key(c) for c in (num, ident, vocab, hashed, rare, every)] == [
        "hours", "hours_identity", "color", "color_hash", "color_learned", "color_learned_2"]
    assert ft.state_["vocabulary"] == {"color_learned": ["blue", "red"], "color_learned_2": ["blue", "red", "green"]}
    out = ft.transform(tiny_frame)
    assert out["hours_identity"].ravel().tolist() == tiny_frame["hours"].tolist()
    assert out["hours"].ravel().tolist() == tiny_frame["hours"].astype(float).tolist()
    again = FeatureTransformer.from_dict(json.loads(json.dumps(ft.to_dict())))
    assert all(torch.equal(out[k], again.transform(tiny_frame)[k]) for k in out)


def test_json_round_trip(tiny_frame):
    color = fc.categorical_column_with_learned_vocabulary("color")
    cols = [fc.numeric_column("age", default_value=1.0, normalizer="zscore"), fc.indicator_column(color),
            fc.bucketized_column(fc.numeric_column("hours"), "quantiles:3"),
            fc.embedding_column(fc.categorical_column_with_vocabulary_list("city", ["a", "b"], num_oov_buckets=2), 2,
                                initializer=torch.nn.init.zeros_)]
    ft = FeatureTransformer(cols).fit(tiny_frame)
    saved = json.loads(json.dumps(ft.to_dict()))
    again = FeatureTransformer.from_dict(saved, cols)  # the columns come from code, the state from the file
    assert again.feature_columns == ft.feature_columns
    assert again.state_ == ft.state_
    # without the code's columns the file's columns load, the initializer only as a description (no import)
    alone = FeatureTransformer.from_dict(saved)
    assert alone.feature_columns[3].initializer == StoredFunction("torch.nn.init:zeros_")
    a, b = ft.transform(tiny_frame), alone.transform(tiny_frame)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_lambda_is_saved_as_a_description_and_never_loaded_as_code():
    ft = FeatureTransformer([fc.numeric_column("x", normalizer_fn=lambda t: t)])
    saved = json.loads(json.dumps(ft.to_dict()))
    assert saved["columns"][0]["normalizer_fn"] == {"function": f"{__name__}:test_a_lambda_is_saved_as_a_"
                                                                "description_and_never_loaded_as_code.<locals>.<lambda>"}
    loaded = FeatureTransformer.from_dict(saved).feature_columns[0]
    with pytest.raises(FeatureColumnError, match=r"read from a file, which holds no code"):
        loaded.normalizer_fn(torch.ones(1))


def test_fit_stream_matches_fit():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(3.0, 2.0, 3000), "c": rng.choice(["a", "b", "c", "d"], 3000)})
    cols = [fc.numeric_column("x", normalizer="zscore"),
            fc.bucketized_column(fc.numeric_column("x", normalizer="zscore"), "quantiles:5"),
            fc.indicator_column(fc.categorical_column_with_learned_vocabulary("c"))]
    whole = FeatureTransformer(cols).fit(df)
    streamed = FeatureTransformer(cols).fit_stream(df.iloc[i : i + 700] for i in range(0, 3000, 700))
    assert streamed.state_["vocabulary"] == whole.state_["vocabulary"]
    np.testing.assert_allclose(streamed.state_["numeric"]["x"]["shift"], whole.state_["numeric"]["x"]["shift"])
    np.testing.assert_allclose(streamed.state_["numeric"]["x"]["scale"], whole.state_["numeric"]["x"]["scale"])
    # under the sample size the quantiles are exact
    np.testing.assert_allclose(streamed.state_["boundaries"]["x_bucketized"], whole.state_["boundaries"]["x_bucketized"])


def test_fit_stream_quantiles_within_bound():
    x = np.random.default_rng(1).exponential(size=200_000)
    col = fc.bucketized_column(fc.numeric_column("x"), "quantiles:4")
    ft = FeatureTransformer([col]).fit_stream([{"x": x[i : i + 50_000]} for i in range(0, 200_000, 50_000)],
                                               sample_size=20_000)
    ranks = np.searchsorted(np.sort(x), ft.state_["boundaries"]["x_bucketized"]) / len(x)
    eps = np.sqrt(np.log(2 / 1e-6) / (2 * 20_000))
    assert np.all(np.abs(ranks - [0.25, 0.5, 0.75]) < eps)


def test_dataframe_and_dict_inputs_agree(tiny_frame):
    col = fc.categorical_column_with_vocabulary_list("color", ["red", "blue"])
    as_dict = {"color": tiny_frame["color"].tolist()}
    assert ids(col, tiny_frame) == ids(col, as_dict) == ids(col, {"color": np.array(as_dict["color"], dtype=object)})


def test_sliced_frame_with_non_default_index(tiny_frame):
    cols = [fc.numeric_column("age", default_value=0.0), fc.categorical_column_with_vocabulary_list("color", ["red"]),
            fc.weighted_categorical_column(fc.categorical_column_with_identity("user_id", 200), "hours")]
    ft = FeatureTransformer(cols)
    part = tiny_frame.iloc[4:].sample(frac=1.0, random_state=0)
    out = ft.transform(part)
    assert out["age"].ravel().tolist() == part["age"].fillna(0.0).tolist()
    assert out["color"].ravel().tolist() == [0 if c == "red" else -1 for c in part["color"]]
    assert out["user_id_weighted_by_hours"].ravel().tolist() == part["user_id"].tolist()
    assert out["user_id_weighted_by_hours/weights"].ravel().tolist() == part["hours"].tolist()


def test_vocabulary_boundaries_and_describe(tiny_frame):
    color = fc.categorical_column_with_learned_vocabulary("color")
    hours = fc.bucketized_column(fc.numeric_column("hours"), "quantiles:2")
    ft = FeatureTransformer([fc.embedding_column(color, 2), hours])
    assert ft.describe()["state"].tolist()[0] == "not fitted"
    ft.fit(tiny_frame)
    assert ft.vocabulary(color) == ["blue", "red", "green"]
    assert ft.boundaries(hours) == [40.0]
    described = ft.describe().set_index("id")["state"].to_dict()
    assert described["color"] == "4 ids; vocabulary ['blue', 'red', 'green']"
    assert described["color_embedding"] == "table 'color_embedding': 4 x 2, combiner mean"
    assert described["hours_bucketized"] == "2 buckets, edges [40.0]"
    assert "<table" in ft._repr_html_()
    with pytest.raises(FeatureColumnError, match=r"vocabulary: column 'hours_bucketized' has no vocabulary"):
        ft.vocabulary(hours)
