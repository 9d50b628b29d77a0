"""``padding_mask`` (vectorised) agrees with TF's padding rule applied value by value."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from estlab.features.raw import padding_mask


def _reference(value: Any) -> bool:
    """The rule, one value at a time: ``''`` for strings, ``-1`` for numbers (not booleans)."""
    if isinstance(value, str):
        return value == ""
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (int, float, np.integer, np.floating)) and value == -1


class Text(str):
    """A str subclass (still a string)."""


SCALARS = st.one_of(
    st.sampled_from(["", "a", "-1", " ", Text(""), Text("x")]),
    st.text(max_size=2),
    st.sampled_from(
        [-1, 0, 1, -2, 2**70, -1.0, 0.5, float("nan"), np.int32(-1), np.float32(-1.0), np.int64(3)]
    ),
    st.sampled_from([True, False, np.bool_(True), None, Decimal(-1), b"", b"-1", pd.Timestamp(0), pd.NaT]),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(SCALARS, max_size=12))
def test_object_values(values: list) -> None:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    index = pd.Index(array, dtype=object)
    want = [_reference(v) for v in index]
    assert padding_mask(index).tolist() == want
    assert padding_mask(array).tolist() == [_reference(v) for v in pd.Index(array)]


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(st.text(max_size=2), st.sampled_from(["", "a"]), st.none()), max_size=12))
def test_string_dtypes(values: list) -> None:
    want = [isinstance(v, str) and v == "" for v in values]
    for dtype in ("str", "string", pd.StringDtype("python"), pd.ArrowDtype(__import__("pyarrow").string())):
        assert padding_mask(pd.Index(pd.array(values, dtype=dtype))).tolist() == want, dtype
    assert padding_mask(pd.Index(pd.Categorical(values))).tolist() == want


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(-3, 3), max_size=12))
def test_numbers(values: list) -> None:
    want = [v == -1 for v in values]
    assert padding_mask(pd.Index(np.array(values, dtype=np.int64))).tolist() == want
    assert padding_mask(pd.Index(np.array(values, dtype=np.float64))).tolist() == want
    assert padding_mask(pd.Index(pd.array(values, dtype="Int64"))).tolist() == want
    assert padding_mask(pd.Index(np.array(values, dtype=bool))).tolist() == [False] * len(values)


def test_examples() -> None:
    assert padding_mask(pd.Index(["a", "", None])).tolist() == [False, True, False]
    assert padding_mask(pd.Index([3, -1, True, "", "x"], dtype=object)).tolist() == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert padding_mask([]).tolist() == []
