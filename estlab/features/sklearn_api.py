"""scikit-learn's transformer API of ``FeatureTransformer`` (a mixin): ``set_output``, ``get_feature_names_out``,
``get_params``/``set_params``, and the 2-D table ``transform`` returns after ``set_output``.

Examples
--------
>>> from estlab.features import FeatureTransformer, numeric_column
>>> FeatureTransformer([numeric_column("x")]).get_params()["feature_columns"][0].name
'x'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from estlab.features._base import RawInputSpec
from estlab.features.errors import NotFittedError

if TYPE_CHECKING:  # tensors are made in FeatureTransformer.transform; this module imports no torch
    import torch


def _names_of(widths: dict[str, int]) -> list[str]:
    """Column names of a 2-D table of encoded keys: ``key`` for a width of one, else ``key_0..key_<w-1>``."""
    return [name for key, width in widths.items()
            for name in ([key] if width == 1 else [f"{key}_{i}" for i in range(width)])]


def _probe_value(spec: RawInputSpec) -> list:
    """One row of a raw input of ``spec``'s dtype and shape (for measuring encoded widths)."""
    value: Any = "x" if spec.dtype == "string" else 0
    for size in reversed(spec.shape[1:]):
        value = [value] * max(size, 1)
    return [value]


class SklearnTransformerAPI:
    """The scikit-learn side of ``FeatureTransformer`` (it provides ``transform``, ``raw_input_specs``, ...)."""

    _output: str
    _all: Any
    feature_columns: Any

    @property
    def is_fitted(self) -> bool:  # provided by FeatureTransformer
        raise NotImplementedError

    def transform(self, data: Any) -> Any:  # provided by FeatureTransformer
        raise NotImplementedError

    def raw_input_specs(self) -> dict[str, RawInputSpec]:  # provided by FeatureTransformer
        raise NotImplementedError

    def set_output(self, *, transform: str | None = None) -> Any:
        """Choose what :meth:`transform` returns: ``"tensors"`` (the default: a dict of tensors, what models
        read), or a 2-D table for scikit-learn: ``"default"`` (a float64 numpy array) or ``"pandas"`` (a
        DataFrame with the input's index); columns are :meth:`get_feature_names_out`. ``None`` keeps it.

        The table holds the encoded values as they are: numeric columns' (normalised) values and categorical
        columns' integer ids (``-1`` = no id; an indicator or embedding column reads its categorical's ids),
        ready for tree models or a one-hot step.

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> from estlab.features import FeatureTransformer
        >>> ft = FeatureTransformer([numeric_column("x", shape=2)]).set_output(transform="pandas")
        >>> ft.fit_transform({"x": [[1.0, 2.0]]}).columns.tolist()
        ['x_0', 'x_1']
        """
        if transform is not None:
            if transform not in ("tensors", "default", "pandas"):
                raise ValueError(f"set_output: transform must be 'tensors', 'default' or 'pandas'; got {transform!r}")
            self._output = transform
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the 2-D output's columns (scikit-learn's API): an encoded key, or ``<key>_<i>`` for each of
        a wider key's values; weights of weighted columns follow their ids as ``<key>/weights[_<i>]``.
        ``input_features`` is accepted and ignored (the columns name their inputs). Needs a fitted transformer
        when a column's width is learned (ids of multi-valued categorical columns).

        Examples
        --------
        >>> from estlab.features import numeric_column
        >>> from estlab.features import FeatureTransformer
        >>> FeatureTransformer([numeric_column("a"), numeric_column("b", shape=2)]).get_feature_names_out().tolist()
        ['a', 'b_0', 'b_1']
        """
        names = getattr(self, "_feature_names_out", None)
        if names is None:
            names = _names_of(self._probe_widths())
        return np.asarray(names, dtype=object)

    def _probe_widths(self) -> dict[str, int]:
        """Width of each encoded key, from encoding one row of the fitted (or stateless) columns."""
        if not self.is_fitted:
            needing = [c.name for c in self._all if c.needs_fit]
            raise NotFittedError(f"get_feature_names_out: columns {needing} are not fitted; call .fit(frame) first.")
        probe = {spec.name: _probe_value(spec) for spec in self.raw_input_specs().values()}
        out = getattr(self, "_output", "tensors")
        self._output = "tensors"
        try:
            encoded = self.transform(probe)
        finally:
            self._output = out
        return {key: int(np.prod(t.shape[1:])) for key, t in encoded.items()}

    def _as_table(self, encoded: dict[str, torch.Tensor], *, pandas: bool, index: Any) -> Any:
        n = next(iter(encoded.values())).shape[0] if encoded else 0
        blocks = [t.detach().cpu().numpy().reshape(n, -1).astype(np.float64) for t in encoded.values()]
        names = _names_of({key: b.shape[1] for key, b in zip(encoded, blocks)})
        self._feature_names_out = names
        table = np.concatenate(blocks, axis=1) if blocks else np.empty((n, 0))
        if not pandas:
            return table
        return pd.DataFrame(table, columns=names, index=index if index is not None and len(index) == n else None)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """scikit-learn's parameter contract: the constructor's one argument (so ``sklearn.base.clone`` works)."""
        return {"feature_columns": getattr(self, "_given_columns", self.feature_columns)}

    def set_params(self, **params: Any) -> Any:
        """scikit-learn's parameter contract: ``set_params(feature_columns=[...])`` starts unfitted on them."""
        unknown = sorted(set(params) - {"feature_columns"})
        if unknown:
            raise ValueError(f"FeatureTransformer has no parameter(s) {unknown}; its one parameter is feature_columns")
        if "feature_columns" in params:
            output = getattr(self, "_output", "tensors")
            self.__init__(params["feature_columns"])  # type: ignore[misc]  # re-initialise on new columns
            self._output = output
        return self
