"""Prediction arrays → TF Serving's ``:predict`` answer, rendered as JSON bytes straight from arrays.

Row format (``instances``) gives ``{"predictions": [row, ...]}``, each row an object of outputs (the
bare value when the signature has one output); columnar (``inputs``) gives ``{"outputs": {name: [...]}}``
(the bare list for one output). Numbers keep their exact value (a float32 output is written as the
double it equals); ``NaN``/``Infinity`` are written as such, as TF Serving does.

Examples
--------
>>> render({"scores": np.array([[0.25, 0.75]], dtype=np.float32)}, row_format=True)
b'{"predictions":[[0.25,0.75]]}'
>>> render({"a": np.array([1]), "b": np.array(["x"], dtype=object)}, row_format=False)
b'{"outputs":{"a":[1],"b":["x"]}}'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from estlab.export.rest_json import dumps_finite


def prediction_payload(
    outputs: Mapping[str, np.ndarray], row_format: bool, *, share_rows: bool = False
) -> dict[str, Any]:
    """The answer as plain Python values (what :func:`render` serialises).

    ``share_rows`` lets rows that are all equal (``all_classes``...) share one list: faster to build,
    the same once serialised, but not for a caller who edits the lists.

    Examples
    --------
    >>> prediction_payload({"x": np.array([[1.0], [2.0]])}, row_format=True)
    {'predictions': [[1.0], [2.0]]}
    """
    keys = list(outputs)
    lists = [_listed(outputs[key]) if share_rows else outputs[key].tolist() for key in keys]
    if row_format:
        if len(keys) == 1:
            return {"predictions": lists[0]}
        return {"predictions": [dict(zip(keys, row)) for row in zip(*lists)]}
    if len(keys) == 1:
        return {"outputs": lists[0]}
    return {"outputs": dict(zip(keys, lists))}


def _listed(values: np.ndarray) -> list[Any]:
    """``values.tolist()``, sharing one list for rows that are all the same (``all_classes``...)."""
    if values.ndim == 2 and len(values) > 1 and values.dtype.kind in "iuOUb" and (values == values[0]).all():
        return [values[0].tolist()] * len(values)  # serialised the same; built once
    return values.tolist()


def render(outputs: Mapping[str, np.ndarray], row_format: bool) -> bytes:
    """JSON bytes of the ``:predict`` answer for ``outputs`` (one array per output, N rows each).

    Examples
    --------
    >>> render({"x": np.array([np.nan])}, row_format=False)
    b'{"outputs":[NaN]}'
    """
    finite = all(_finite(values) for values in outputs.values())
    return dumps_finite(prediction_payload(outputs, row_format, share_rows=True), finite)


def _finite(values: np.ndarray) -> bool:
    return values.dtype.kind != "f" or bool(np.isfinite(values).all())
