"""Example weights: TF's ``weight_column``, a column name or a ``numeric_column``.

As TF's heads (``head_utils``' weight fetching), a string ``"w"`` stands for ``numeric_column("w")``; a
``numeric_column`` is read through its key, with its ``default_value`` for missing values, then its
``normalizer_fn`` (applied to the float32 tensor ``(N, 1)``, as estlab's numeric columns do), and the
result is used as float32 weights, one per example. Any other column kind is refused (TF's ``TypeError``;
here :class:`WeightColumnError`, also a ``ValueError`` as estlab's argument errors are). Weights must come
out finite and ``>= 0``.

Examples
--------
>>> import numpy as np
>>> from estlab.features import numeric_column
>>> read_weights(numeric_column("w", normalizer_fn=lambda t: t * 2), {"w": np.array([1.0, 0.5])}).tolist()
[2.0, 1.0]
>>> weight_key(numeric_column("w")), weight_key("w"), weight_key(None)
('w', 'w', None)
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import torch

from estlab.features import NumericColumn

#: what ``weight_column`` may be: a column name or a ``numeric_column`` (or None: unweighted)
WeightColumn: TypeAlias = str | NumericColumn

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class WeightColumnError(TypeError, ValueError):
    """``weight_column`` is neither a column name nor a ``numeric_column`` (TF raises ``TypeError``).

    Examples
    --------
    >>> issubclass(WeightColumnError, TypeError) and issubclass(WeightColumnError, ValueError)
    True
    """


def check_weight_column(weight_column: Any, parameter: str = "weight_column") -> WeightColumn | None:
    """``weight_column`` as given when it is None, a column name or a usable ``numeric_column``; else an error.

    A ``numeric_column`` must have ``shape=1`` (one weight per example) and no learned ``normalizer``
    (a weight column's values are used as given, through its ``normalizer_fn``).

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity
    >>> check_weight_column("w")
    'w'
    >>> check_weight_column(categorical_column_with_identity("w", 3))
    Traceback (most recent call last):
    ...
    estlab.estimators.weights.WeightColumnError: weight_column must be a column name (str) or a numeric_column, as in TF; received IdentityColumn 'w'. Pass the key ('w') or fc.numeric_column('w').
    """
    if weight_column is None or isinstance(weight_column, str):
        if isinstance(weight_column, str) and not weight_column:
            raise WeightColumnError(f"{parameter} must be a non-empty column name; received ''.")
        return weight_column
    if isinstance(weight_column, NumericColumn):
        key = weight_column.key
        if weight_column.shape != (1,):
            raise WeightColumnError(
                f"{parameter}=numeric_column({key!r}, shape={weight_column.shape}) gives "
                f"{weight_column.num_elements} values per example; a weight column gives one weight per example: "
                f"use numeric_column({key!r}) (shape=1)."
            )
        if weight_column.normalizer is not None:
            raise WeightColumnError(
                f"{parameter}=numeric_column({key!r}, normalizer={weight_column.normalizer!r}): a weight column's "
                "values are used as given and learn no statistics; drop normalizer= (a normalizer_fn is applied)."
            )
        return weight_column
    name = getattr(weight_column, "name", None)
    what = (
        f"{type(weight_column).__name__} {name!r}"
        if isinstance(name, str)
        else (f"{weight_column!r} ({type(weight_column).__name__})")
    )
    hint = f" Pass the key ({name!r}) or fc.numeric_column({name!r})." if isinstance(name, str) else ""
    raise WeightColumnError(
        f"{parameter} must be a column name (str) or a numeric_column, as in TF; received {what}.{hint}"
    )


def weight_key(weight_column: WeightColumn | None) -> str | None:
    """The input key a weight column reads (None when unweighted).

    Examples
    --------
    >>> weight_key("w")
    'w'
    """
    if weight_column is None or isinstance(weight_column, str):
        return weight_column
    return weight_column.key


def read_weights(
    weight_column: WeightColumn, features: Any, feature_names: Any = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """float32 weights ``(N,)`` of ``features`` (a DataFrame or a dict of arrays), checked finite and ``>= 0``.

    Parameters
    ----------
    weight_column : str or NumericColumn
        The weight column (see the module docstring).
    features : DataFrame or dict
        One input part's features.
    feature_names : list of str, optional
        The input's keys, named in the error when the weight key is missing (default: ``features``' keys).
    device : torch.device or str
        Where the weights go.

    Examples
    --------
    >>> read_weights("w", {"w": [1, 2]}).tolist()
    [1.0, 2.0]
    """
    key = weight_key(check_weight_column(weight_column))  # a head given another column kind is refused here
    names = (
        list(feature_names)
        if feature_names is not None
        else list(features.columns if hasattr(features, "columns") else features.keys())
    )
    if key not in names:
        raise ValueError(
            f"weight_column {key!r} is not in the input, which has columns {names}; add it or set "
            "weight_column=None"
        )
    if isinstance(weight_column, str):
        try:
            values = np.array(features[key], dtype=np.float64)  # a writable copy
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"weight_column {key!r} must hold numbers, one per row ({error}); convert it with "
                "pd.to_numeric or fix those rows"
            ) from None
    else:
        values = _column_weights(weight_column, features)
    values = values.reshape(-1) if values.ndim == 2 and values.shape[1:] == (1,) else values
    if values.ndim != 1:
        raise ValueError(
            f"weight_column {key!r} has shape {values.shape}; give one weight per example (shape "
            "(N,) or (N, 1))"
        )
    bad = np.flatnonzero(~(np.abs(values) <= _FLOAT32_MAX) | (values < 0))  # inf in float32 too
    if bad.size:
        has_fn = not isinstance(weight_column, str) and weight_column.normalizer_fn is not None
        raise ValueError(
            f"weight_column {key!r} has {bad.size} negative or non-finite "
            f"weight(s), e.g. {float(values[bad[0]])} at row {int(bad[0])}; weights must be "
            f"finite and >= 0 (fix or drop those rows{', or the normalizer_fn' if has_fn else ''})"
        )
    return torch.as_tensor(values, dtype=torch.float32, device=device)


def _column_weights(column: NumericColumn, features: Any) -> np.ndarray:
    """A numeric column's weights: default_value filled, then ``normalizer_fn`` on the float32 tensor ``(N, 1)``."""
    # float64 (N, 1); a missing value takes default_value, else raises naming the column
    filled = column.filled(features)
    if column.normalizer_fn is None:
        return filled
    tensor = torch.from_numpy(np.ascontiguousarray(filled, dtype=np.float32))
    out = column.normalizer_fn(tensor)
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    out = np.asarray(out, dtype=np.float64)
    if out.size != filled.shape[0]:
        raise ValueError(
            f"weight_column {column.key!r}: normalizer_fn returned shape {out.shape} for "
            f"{filled.shape[0]} rows; it must keep the shape (an elementwise function of the tensor)"
        )
    return out.reshape(-1)


__all__ = ["WeightColumn", "WeightColumnError", "check_weight_column", "read_weights", "weight_key"]
