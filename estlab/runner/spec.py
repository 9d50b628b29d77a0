"""``RunSpec``: everything that defines one run, plus its JSON form and its fingerprint (torch-free).

A run's fingerprint hashes its configuration (estimator, parameters, column specs as JSON, label, task, steps,
batch size, seed) together with the fingerprint of its data: two runs with equal fingerprints would train the
same model, so an experiment may show the old one instead of training again; anything else is a new run.

Examples
--------
>>> a = RunSpec.create("linear_classifier", {"learning_rate": 0.1}, max_steps=50)
>>> run_fingerprint(a, "data-1") == run_fingerprint(a, "data-1") != run_fingerprint(a, "data-2")
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from estlab.features.serialize import column_from_dict, column_to_dict


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run; two runs with equal specs are duplicates.

    Parameters
    ----------
    estimator
        Registry name, e.g. ``"dnn_classifier"``.
    params
        Constructor keyword arguments as sorted ``(name, value)`` pairs (use :meth:`create`).
    feature_columns
        Dense feature columns (frozen dataclasses): what DNNs, trees and the deep part read.
    linear_columns
        Columns of linear models and of the wide part (default: ``feature_columns``).
    label
        Label column.
    max_steps
        Absolute step to train to.
    eval_every
        Evaluate every N steps (None: only at the end).
    feature_set
        Short human description of the feature columns, shown in the leaderboard (not part of the identity).
    task
        ``"classification"`` or ``"regression"``.
    batch_size, seed
        Training batch size and random seed.
    folds
        k-fold cross-validation: 0 (default) trains once on the train set and evaluates on the eval set; k ≥ 2
        trains k models, each on the train set less one fold, evaluated on that fold; the run's metrics are the
        mean over folds, with ``<metric>_std`` beside each (see :mod:`estlab.runner.job`).

    Examples
    --------
    >>> a = RunSpec.create("linear_classifier", {"learning_rate": 0.1}, max_steps=50)
    >>> a == RunSpec.create("linear_classifier", {"learning_rate": 0.1}, max_steps=50)
    True
    >>> a.kwargs
    {'learning_rate': 0.1}
    """

    estimator: str
    params: tuple[tuple[str, Any], ...] = ()
    feature_columns: tuple[Any, ...] = ()
    linear_columns: tuple[Any, ...] = ()
    label: str = ""
    max_steps: int = 1000
    eval_every: int | None = None
    feature_set: str = ""
    task: str = "classification"
    batch_size: int = 256
    seed: int = 0
    folds: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds == 1 or self.folds < 0:
            raise ValueError(f"folds: must be 0 (no cross-validation) or an int >= 2, got {self.folds!r}")

    @property
    def total_steps(self) -> int:
        """Steps the run trains in all: ``max_steps`` per fold (what a progress bar counts to)."""
        return self.max_steps * max(self.folds, 1)

    @classmethod
    def create(cls, estimator: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> RunSpec:
        """Build a spec from a params mapping (sorted, lists turned into tuples)."""
        items = tuple(sorted((k, _freeze(v)) for k, v in (params or {}).items()))
        for key in ("feature_columns", "linear_columns"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        return cls(estimator=estimator, params=items, **kwargs)

    @property
    def kwargs(self) -> dict[str, Any]:
        """The params as a dict (tuples stay tuples)."""
        return dict(self.params)

    def key(self) -> str:
        """A stable text identity of the configuration (duplicates have equal keys)."""
        return repr((self.estimator, self.params, tuple(map(repr, self.feature_columns)),
                     tuple(map(repr, self.linear_columns)), self.label,
                     self.max_steps, self.eval_every, self.task, self.batch_size, self.seed)
                    + ((self.folds,) if self.folds else ()))

    def params_text(self) -> str:
        """``name=value`` pairs, comma separated."""
        return ", ".join(f"{k}={v!r}" for k, v in self.params)

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready values (columns as :func:`~estlab.features.serialize.column_to_dict`).

        Examples
        --------
        >>> RunSpec.create("dnn_classifier", {"hidden_units": [8]}).to_dict()["params"]
        {'hidden_units': [8]}
        """
        return {
            "estimator": self.estimator,
            "params": {k: _thaw(v) for k, v in self.params},
            "feature_columns": [column_to_dict(c) for c in self.feature_columns],
            "linear_columns": [column_to_dict(c) for c in self.linear_columns],
            "label": self.label, "max_steps": self.max_steps, "eval_every": self.eval_every,
            "feature_set": self.feature_set, "task": self.task, "batch_size": self.batch_size, "seed": self.seed,
            # only when set: the records and fingerprints of runs without cross-validation stay as they were
            **({"folds": self.folds} if self.folds else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Rebuild a spec from :meth:`to_dict` (a column with a function comes back as a stored description).

        Examples
        --------
        >>> spec = RunSpec.create("dnn_classifier", {"hidden_units": [8]}, max_steps=5)
        >>> RunSpec.from_dict(spec.to_dict()) == spec
        True
        """
        fields = dict(data)
        params = fields.pop("params", {}) or {}
        fields["feature_columns"] = tuple(column_from_dict(c) for c in fields.get("feature_columns", ()))
        fields["linear_columns"] = tuple(column_from_dict(c) for c in fields.get("linear_columns", ()))
        return cls.create(str(fields.pop("estimator")), params, **fields)


def run_fingerprint(spec: RunSpec, data_fingerprint: str) -> str:
    """A short hash of ``spec``'s configuration (its description left out) and the data it trains on.

    Examples
    --------
    >>> spec = RunSpec.create("linear_classifier", max_steps=5)
    >>> len(run_fingerprint(spec, "d")), run_fingerprint(spec, "d") == run_fingerprint(spec, "e")
    (16, False)
    """
    config = spec.to_dict()
    config.pop("feature_set")
    text = json.dumps({"config": config, "data": data_fingerprint}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value
