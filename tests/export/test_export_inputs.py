from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estlab.export.inputs import InvalidInputError, to_columns
from estlab.export.spec import TensorSpec

SPECS = (TensorSpec("age", "float32"), TensorSpec("color", "string"), TensorSpec("n", "int64"))


def test_frames_dicts_and_records_give_the_same_columns():
    frame = pd.DataFrame({"age": [25.0, np.nan], "color": ["red", None], "n": [1, 2], "label": [0, 1]})
    records = [{"age": 25, "color": "red", "n": 1}, {"age": None, "color": None, "n": 2}]
    columnar = {"age": [25, None], "color": ["red", None], "n": [1, 2]}
    for data in (frame, records, columnar):
        columns = to_columns(data, SPECS)
        np.testing.assert_array_equal(columns["age"], [25.0, np.nan])
        assert columns["color"].tolist() == ["red", None]
        assert columns["n"].dtype == np.int64 and columns["n"].tolist() == [1, 2]


def test_defaults_fill_omitted_features():
    columns = to_columns([{"age": 1.0, "n": 3}], SPECS, defaults={"color": "blue"})
    assert columns["color"].tolist() == ["blue"]


@pytest.mark.parametrize(
    "data, message",
    [
        (
            [{"age": "old", "color": "red", "n": 1}],
            r"'age' expects numbers \(float32\); row 0 has 'old' \(str\)",
        ),
        ([{"age": 1.0, "color": 3, "n": 1}], r"'color' expects a string; row 0 has 3 \(int\)"),
        ([{"age": 1.0, "color": "red", "n": 1.5}], r"'n' expects integers \(int64\); received 1.5"),
        ([{"age": True, "color": "red", "n": 1}], r"'age' expects numbers"),
        (
            [{"color": "red", "n": 1}],
            r"missing input feature 'age': the signature expects \['age', 'color', 'n'\]",
        ),
        ({"age": [1.0, 2.0], "color": ["a"], "n": [1, 2]}, r"'color' has 1 values but other features have 2"),
        (
            [{"age": 1.0, "color": "a", "n": 1}, {"color": "a", "n": 1}],
            r"instance 1 lacks input feature 'age'",
        ),
        ([3.0], r"instance 0 must be an object of named features"),
        ("age", r"must be a DataFrame, a dict of columns or a list of records; received str"),
    ],
)
def test_bad_inputs_name_the_feature_and_the_fix(data, message):
    with pytest.raises(InvalidInputError, match=message):
        to_columns(data, SPECS)


def test_single_input_signature_accepts_bare_values():
    assert to_columns([1, 2], (TensorSpec("x", "float32"),))["x"].tolist() == [1.0, 2.0]


def test_multi_valued_numeric_input():
    spec = (TensorSpec("v", "float32", (-1, 2)),)
    assert to_columns([{"v": [1, 2]}, {"v": [3, None]}], spec)["v"].tolist()[0] == [1.0, 2.0]
    with pytest.raises(InvalidInputError, match=r"'v' expects shape \(2,\) per row"):
        to_columns([{"v": [1, 2, 3]}], spec)
