"""``to_ragged``'s per-type checks (bytes decoded, unhashables refused) agree with the rule applied row by row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from estlab.features.errors import FeatureColumnError
from estlab.features.raw import _PLAIN_KINDS, _decode, _scalars, _unhashable, to_ragged


class Unhashable:
    """An object with no hash."""

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Unhashable()"


def _reference(series: pd.Series, key: str, rows: np.ndarray | None = None) -> pd.Series:
    """The rule, one row at a time (``_scalars`` before it checked types once): the first bad row raises."""
    if pd.api.types.infer_dtype(series, skipna=True) in _PLAIN_KINDS:
        return series
    values = series.to_numpy()
    out = values.copy()
    for i, v in enumerate(values):
        if isinstance(v, bytes):
            out[i] = _decode(v, key, i if rows is None else int(rows[i]))
        elif isinstance(v, (list, tuple, np.ndarray, set, dict)) or (
            not isinstance(v, (str, int, float, np.generic, type(None)))
            and getattr(type(v), "__hash__", None) is None
        ):
            raise _unhashable(v, key, i if rows is None else int(rows[i]), rows is not None)
    return pd.Series(out, index=series.index, dtype=object).infer_objects()


def _outcome(function: Any, *args: Any) -> Any:
    try:
        result = function(*args)
    except FeatureColumnError as error:
        return ("error", str(error))
    return ("ok", str(result.dtype), [repr(v) for v in result.tolist()])


SCALARS = st.one_of(
    st.sampled_from([b"a", b"caf\xc3\xa9", b"\xff", b"", np.bytes_(b"x"), "a", "", 1, -1, 2.5, None, True]),
    st.just(float("nan")),
    st.sampled_from([{"a": 1}, Unhashable()]),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(SCALARS, min_size=1, max_size=10), multi=st.booleans())
def test_scalar_rows_match_the_row_by_row_rule(values: list, multi: bool) -> None:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    series = pd.Series(array, dtype=object)
    rows = np.arange(len(values)) * 3 if multi else None  # rows of a flattened multi-valued column
    assert _outcome(_scalars, series, "c", rows) == _outcome(_reference, series, "c", rows)


def test_bytes_array_decodes() -> None:
    assert to_ragged(np.array([b"red", b"caf\xc3\xa9"]), "c").values.tolist() == ["red", "café"]
