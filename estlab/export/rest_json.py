"""JSON in and out of the predict server: strict, bounded parsing and fast rendering.

``orjson`` is used when installed (it ships with ``estlab[serve]``), the standard library otherwise;
answers are the same either way. Parsing never raises anything but :class:`JSONError` (a 400): bad
syntax, deep nesting, numbers Python cannot hold. ``NaN``/``Infinity`` literals and numbers beyond a
double (``1e400``, a 400-digit integer) parse — into ``float("nan")``, ``inf`` or a Python ``int`` — so
that the input check can refuse them naming the feature (:func:`estlab.export.inputs.to_columns`
with ``finite=True``).

Examples
--------
>>> loads(b'{"instances": [{"x": 1.5}]}')
({'instances': [{'x': 1.5}]}, True)
>>> loads(b'{"instances": [{"x": NaN}]}')[1]
False
>>> dumps({"a": [1.0, float("nan")]})
b'{"a":[1.0,NaN]}'
"""

from __future__ import annotations

import json
import math
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - exercised only without the serve extra's orjson
    orjson = None  # type: ignore[assignment]

#: whether the fast JSON library is in use
FAST = orjson is not None


class JSONError(ValueError):
    """A request body that is not acceptable JSON (answered with 400).

    Examples
    --------
    >>> str(JSONError("JSON Parse error: unexpected end"))
    'JSON Parse error: unexpected end'
    """


def loads(body: bytes) -> tuple[Any, bool]:
    """Parse a request body; returns ``(value, strict)``.

    ``strict`` is True when the body is plain JSON (no ``NaN``/``Infinity`` literal, every number
    a finite double), so its numbers need no further finiteness check.

    Raises
    ------
    JSONError
        On anything but JSON: bad syntax, invalid UTF-8, nesting deeper than the parser's limit, or
        an integer longer than Python converts (4,300 digits).

    Examples
    --------
    >>> loads(b"[1, 2]")
    ([1, 2], True)
    """
    if orjson is not None:
        try:
            return orjson.loads(body), True
        except orjson.JSONDecodeError as error:
            first_error = str(error)
        except RecursionError:
            raise JSONError("JSON Parse error: nesting too deep") from None
    else:
        first_error = ""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JSONError(
            f"JSON Parse error: the body is not UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    try:
        value = json.loads(text, parse_constant=float)
    except RecursionError:
        raise JSONError("JSON Parse error: nesting too deep") from None
    except ValueError as error:  # JSONDecodeError, and int() refusing more than 4,300 digits
        raise JSONError(f"JSON Parse error: {first_error or error}") from None
    return value, orjson is None and _all_finite(value)


def _all_finite(value: Any, depth: int = 0) -> bool:
    """Whether every number in ``value`` is a finite double (only needed without orjson)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) < 2**1023
    if depth > 64:
        return False
    if isinstance(value, dict):
        return all(_all_finite(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v, depth + 1) for v in value)
    return True


def dumps(payload: Any) -> bytes:
    """Compact JSON bytes; ``NaN``/``Infinity`` written as such (as TF Serving does), not as null.

    Examples
    --------
    >>> dumps({"x": [float("inf")]})
    b'{"x":[Infinity]}'
    """
    if orjson is not None and not _has_non_finite(payload):
        return orjson.dumps(payload)
    return json.dumps(payload, allow_nan=True, separators=(",", ":")).encode()


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def dumps_finite(payload: Any, finite: bool) -> bytes:
    """:func:`dumps` when the caller already knows whether every float in ``payload`` is finite.

    Examples
    --------
    >>> dumps_finite({"x": [1.0]}, True)
    b'{"x":[1.0]}'
    """
    if orjson is not None and finite:
        return orjson.dumps(payload)
    return json.dumps(payload, allow_nan=True, separators=(",", ":")).encode()
