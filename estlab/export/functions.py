"""Feature-column functions in an export: checked at export time, captured in the program, never stored as code.

A ``normalizer_fn`` (any callable: a lambda, a closure) runs on tensors inside the model, so ``torch.export``
captures it in ``model.pt2`` and serving needs neither the function nor an import by name.
:func:`check_column_functions` runs before an export is written and names the column whose function can't be
captured; :func:`check_loadable` refuses an export whose feature transformation would need code at serving
time (estlab 0.1 exports named ``normalizer_fn`` by import path and applied it outside the program).

Examples
--------
>>> from estlab.features import FeatureTransformer, numeric_column
>>> check_column_functions(FeatureTransformer([numeric_column("x", normalizer_fn=lambda t: (t - 3.0) / 2.0)]))
['x']
"""

from __future__ import annotations

from typing import Any

import torch

from estlab.features import BucketizedColumn, FeatureColumnError, NumericColumn
from estlab.features.serialize import StoredFunction, describe_function
from estlab.features.transformer import walk

_EXAMPLE_ROWS = 3


class _Apply(torch.nn.Module):
    """One column's ``tensor_stage`` as a module, to try ``torch.export`` on it alone."""

    def __init__(self, column: NumericColumn) -> None:
        super().__init__()
        self.column = column

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        return self.column.tensor_stage(value, None)  # type: ignore[arg-type]  # a numeric column reads no state


def check_column_functions(transformer: Any) -> list[str]:
    """Check that every function the columns run at serving time is captured by the exported program.

    Each ``normalizer_fn`` is exported alone with ``torch.export`` on a small float32 batch (dynamic batch
    size); a failure raises :class:`FeatureColumnError` naming the column and the function. A column whose
    numpy encoding would call a ``normalizer_fn`` at serving time (a cross or weight over a bucketized
    column whose source has one) raises too. Returns the names of the numeric columns checked.

    Examples
    --------
    >>> import numpy as np
    >>> from estlab.features import FeatureTransformer, numeric_column
    >>> bad = numeric_column("x", normalizer_fn=lambda t: torch.from_numpy(np.log1p(t.numpy())))
    >>> check_column_functions(FeatureTransformer([bad]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    estlab.features.errors.FeatureColumnError: export: column 'x': normalizer_fn ... can't be captured ...
    """
    checked: list[str] = []
    for column in walk(transformer.feature_columns):
        for parent in column.parents:
            if isinstance(parent, BucketizedColumn) and parent.in_model and column.leaf is column:
                raise FeatureColumnError(
                    f"export: column {column.name!r} reads {parent.name!r}, whose source has a normalizer_fn "
                    f"({describe_function(parent.source_column.normalizer_fn)}); its ids are computed outside "
                    "the model, so serving would need that function's code. Bucketize the normalized value "
                    "with a learned normalizer= or explicit boundaries on the raw value instead."
                )
        if isinstance(column, NumericColumn) and column.normalizer_fn is not None:
            _check_traceable(column)
            checked.append(column.name)
    return checked


def _check_traceable(column: NumericColumn) -> None:
    fn = column.normalizer_fn
    name = describe_function(fn)
    if isinstance(fn, StoredFunction):
        raise FeatureColumnError(
            f"export: column {column.name!r}: normalizer_fn {name!r} was read from a file and holds no code; "
            "export from an estimator built with its feature columns in code."
        )
    example = torch.linspace(0.5, 2.0, _EXAMPLE_ROWS * column.num_elements, dtype=torch.float32)
    example = example.reshape(_EXAMPLE_ROWS, *column.shape)
    try:
        with torch.no_grad():
            expected = _Apply(column)(example)
            exported = torch.export.export(
                _Apply(column), (example,), dynamic_shapes=({0: torch.export.Dim("batch")},), strict=False
            )
            captured = exported.module()(example)
        if not torch.allclose(captured.float(), expected.float(), rtol=1e-5, atol=1e-6, equal_nan=True):
            raise ValueError("the captured program computes other values than the function")
    except Exception as error:  # noqa: BLE001 - any capture failure is reported with the column named
        reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        raise FeatureColumnError(
            f"export: column {column.name!r}: normalizer_fn {name} can't be captured by torch.export, so the "
            f"export could not run it ({reason}). Write it with torch operations on the tensor (no numpy, "
            "no Python on its values, no data-dependent branches)."
        ) from None


def check_loadable(transformer: Any) -> None:
    """Refuse a loaded feature transformation that would need code at serving time.

    estlab 0.1 exports stored a ``normalizer_fn`` as ``{"callable": "module:qualname"}`` and applied it
    outside their program; it is never imported, so such an export can't be served: re-export it.

    Examples
    --------
    >>> from estlab.features import FeatureTransformer, numeric_column
    >>> check_loadable(FeatureTransformer([numeric_column("x")]))
    """
    for column in walk(transformer.feature_columns):
        fn = getattr(column, "normalizer_fn", None)
        if isinstance(fn, StoredFunction) and fn.legacy:
            raise ValueError(
                f"this export's column {column.name!r} names its normalizer_fn by import path ({fn.description!r}), "
                "which estlab never imports: an export of estlab 0.1 ran that function outside its program. "
                "Re-export the model with this estlab version (the function is then captured in the program)."
            )
