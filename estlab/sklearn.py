"""scikit-learn wrappers: a premade estimator as an sklearn classifier or regressor.

``EstlabClassifier`` and ``EstlabRegressor`` follow sklearn's contract (``fit(X, y)``, ``predict``,
``predict_proba``, ``score``, ``get_params``/``set_params`` from the constructor, fitted attributes ending in
``_``), so ``GridSearchCV``, ``cross_val_score``, ``Pipeline`` and ``clone`` work. ``X`` is a DataFrame (feature
columns inferred with :func:`estlab.features.infer_columns` unless given) or a numeric array (one z-scored
``numeric_column`` per column, named ``x0, x1, ...``). Each ``fit`` trains a fresh model in a new directory
(under ``model_dir`` when given, else a temporary one); a pickled wrapper stores its parameters and that
directory, and an unpickled one reloads the model from it.

Needs scikit-learn (``pip install estlab[lab]`` or ``scikit-learn`` itself).

Examples
--------
>>> import numpy as np
>>> from sklearn.model_selection import cross_val_score
>>> X = np.random.default_rng(0).normal(size=(60, 2)); y = (X[:, 0] > 0).astype(int)
>>> clf = EstlabClassifier("linear", num_epochs=20, batch_size=16)
>>> cross_val_score(clf, X, y, cv=2).mean() > 0.8  # doctest: +SKIP
True
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

__all__ = ["EstlabClassifier", "EstlabRegressor"]

#: the premade families a wrapper can train
FAMILIES = ("linear", "dnn", "dnn_linear_combined", "boosted_trees", "baseline")
_LABEL = "__estlab_label__"


def _as_frame(X: Any, *, y: Any = None) -> tuple[pd.DataFrame, Any]:
    """``X`` as a DataFrame (a frame is kept; an array is checked by sklearn and named ``x0..``), and ``y``."""
    if isinstance(X, pd.DataFrame):
        if any(not isinstance(c, str) for c in X.columns):  # feature columns are named by strings
            X = X.set_axis([str(c) for c in X.columns], axis=1)
        if y is not None:
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != len(X):
                raise ValueError(f"y must be 1-d with one value per row of X ({len(X)}); got shape {y.shape}")
        return X, y
    if y is not None:
        X, y = check_X_y(X, y, y_numeric=False)
    else:
        X = check_array(X)
    return pd.DataFrame(np.asarray(X, dtype=np.float32), columns=[f"x{i}" for i in range(X.shape[1])]), y


def _require_y(estimator: Any, y: Any) -> None:
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None")


class _EstlabBase(BaseEstimator):
    _task = "classifier"

    def __init__(self, estimator: str = "dnn", *, feature_columns: Any = None,
                 hidden_units: Sequence[int] = (64, 32), optimizer: Any = None, learning_rate: float | None = None,
                 num_epochs: int = 10, max_steps: int | None = None, batch_size: int = 32,
                 model_dir: str | None = None, random_state: int = 0, params: dict[str, Any] | None = None) -> None:
        self.estimator = estimator
        self.feature_columns = feature_columns
        self.hidden_units = hidden_units
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.num_epochs = num_epochs
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.model_dir = model_dir
        self.random_state = random_state
        self.params = params

    # -- building ---------------------------------------------------------------------------------
    def _columns(self, frame: pd.DataFrame, from_array: bool) -> list:
        from estlab.features import infer_columns, numeric_column

        if self.feature_columns is not None:
            return list(self.feature_columns)
        if from_array:
            return [numeric_column(name, normalizer="zscore") for name in frame.columns]
        return infer_columns(frame).feature_columns

    def _build(self, columns: list, extra: dict[str, Any]) -> Any:
        from estlab.estimators import create
        from estlab.training.config import RunConfig

        if self.estimator not in FAMILIES:
            raise ValueError(f"estimator={self.estimator!r}; choose one of {list(FAMILIES)}")
        self.model_dir_ = tempfile.mkdtemp(prefix="estlab_sklearn_", dir=self.model_dir)
        kwargs: dict[str, Any] = {"model_dir": self.model_dir_, "config": RunConfig(random_seed=self.random_state),
                                  **extra}
        if self.estimator == "dnn_linear_combined":
            kwargs.update(linear_feature_columns=columns, dnn_feature_columns=columns,
                          dnn_hidden_units=list(self.hidden_units))
            if self.optimizer is not None:
                kwargs["dnn_optimizer"] = self.optimizer
            if self.learning_rate is not None:
                kwargs["dnn_learning_rate"] = self.learning_rate
        elif self.estimator != "baseline":
            kwargs["feature_columns"] = columns
            if self.estimator == "dnn":
                kwargs["hidden_units"] = list(self.hidden_units)
            if self.estimator in ("linear", "dnn"):
                if self.optimizer is not None:
                    kwargs["optimizer"] = self.optimizer
                if self.learning_rate is not None:
                    kwargs["learning_rate"] = self.learning_rate
        kwargs.update(self.params or {})
        return create(f"{self.estimator}_{self._task}", **kwargs)

    def _fit(self, X: Any, y: Any, extra: dict[str, Any]) -> Any:
        from_array = not isinstance(X, pd.DataFrame)
        frame, y = _as_frame(X, y=y)
        if len(frame) < 2:
            raise ValueError(f"fit needs at least 2 samples; got n_samples = {len(frame)}")
        self.n_features_in_ = frame.shape[1]
        if not from_array:
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._from_array = from_array
        labelled = frame.assign(**{_LABEL: y})
        self.estimator_ = self._build(self._columns(frame, from_array), extra)
        if self.max_steps is not None:
            self.estimator_.train(labelled, label=_LABEL, max_steps=self.max_steps, batch_size=self.batch_size)
        else:
            self.estimator_.train(labelled, label=_LABEL, num_epochs=self.num_epochs, batch_size=self.batch_size)
        return self

    def _frame(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "estimator_")
        frame, _ = _as_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")
        return frame

    def _predictions(self, X: Any, key: str) -> np.ndarray:
        frame = self._frame(X)  # checks that fit ran
        out = self.estimator_.predict_frame(frame, predict_keys=key)
        return out.to_numpy()

    # -- pickling: parameters and fitted attributes; the model is reloaded from model_dir_ ---------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        estimator = state.pop("estimator_", None)
        if estimator is not None:
            state["_estimator_params"] = (type(estimator).__module__, type(estimator).__qualname__,
                                          estimator.get_params(deep=False))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        import importlib

        saved = state.pop("_estimator_params", None)
        self.__dict__.update(state)
        if saved is not None:
            module, qualname, params = saved
            self.estimator_ = getattr(importlib.import_module(module), qualname)(**params)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class EstlabClassifier(ClassifierMixin, _EstlabBase):
    """A premade estlab classifier (``estimator``: linear, dnn, dnn_linear_combined, boosted_trees, baseline).

    Labels may be any values ``np.unique`` sorts (``classes_``); ``predict_proba`` columns follow
    ``classes_``. ``class_weight`` is ``None``, ``"balanced"`` or a dict keyed by the labels of ``y`` (see
    ``docs/tabular-toolkit.md``); ``params`` passes further constructor arguments to the premade class.
    """

    _task = "classifier"

    def __init__(self, estimator: str = "dnn", *, feature_columns: Any = None,
                 hidden_units: Sequence[int] = (64, 32), optimizer: Any = None, learning_rate: float | None = None,
                 num_epochs: int = 10, max_steps: int | None = None, batch_size: int = 32,
                 model_dir: str | None = None, random_state: int = 0, params: dict[str, Any] | None = None,
                 class_weight: str | dict | None = None) -> None:
        super().__init__(estimator, feature_columns=feature_columns, hidden_units=hidden_units, optimizer=optimizer,
                         learning_rate=learning_rate, num_epochs=num_epochs, max_steps=max_steps,
                         batch_size=batch_size, model_dir=model_dir, random_state=random_state, params=params)
        self.class_weight = class_weight

    def _class_weight_by_id(self) -> Any:
        """``class_weight`` keyed by the class ids the model trains on (the positions in ``classes_``)."""
        if self.class_weight is None or isinstance(self.class_weight, str):
            return self.class_weight
        if not isinstance(self.class_weight, dict):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}; received "
                             f"{self.class_weight!r}")
        ids = {label: i for i, label in enumerate(self.classes_.tolist())}
        unknown = [k for k in self.class_weight if k not in ids]
        if unknown:
            raise ValueError(f"class_weight names {unknown}, which are not labels of y {self.classes_.tolist()}")
        return {ids[k]: w for k, w in self.class_weight.items()}

    def fit(self, X: Any, y: Any) -> EstlabClassifier:
        """Train a fresh model on ``X`` and labels ``y``; returns ``self``."""
        _require_y(self, y)
        _, y = _as_frame(X, y=y) if not isinstance(X, pd.DataFrame) else (X, np.asarray(y))
        if np.asarray(y).ndim != 1:
            raise ValueError("y must be 1-d (one label per row)")
        check_classification_targets(y)
        self.classes_, ids = np.unique(np.asarray(y), return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y has {len(self.classes_)} class; a classifier needs at least 2")
        extra: dict[str, Any] = {"n_classes": len(self.classes_)}
        if self.class_weight is not None:
            extra["class_weight"] = self._class_weight_by_id()
        return self._fit(X, ids.astype(np.int64), extra)

    def predict_proba(self, X: Any) -> np.ndarray:
        """``(N, n_classes)`` probabilities, columns in the order of ``classes_``."""
        return self._predictions(X, "probabilities").astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row (a value of ``classes_``)."""
        check_is_fitted(self, "estimator_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class EstlabRegressor(RegressorMixin, _EstlabBase):
    """A premade estlab regressor (``estimator``: linear, dnn, dnn_linear_combined, boosted_trees, baseline)."""

    _task = "regressor"

    def fit(self, X: Any, y: Any) -> EstlabRegressor:
        """Train a fresh model on ``X`` and targets ``y``; returns ``self``."""
        _require_y(self, y)
        _, y = _as_frame(X, y=y) if not isinstance(X, pd.DataFrame) else (X, np.asarray(y))
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 1:
            raise ValueError("y must be 1-d (one target per row)")
        return self._fit(X, y.astype(np.float32), {})

    def predict(self, X: Any) -> np.ndarray:
        """The predicted target of each row."""
        return self._predictions(X, "predictions").reshape(-1).astype(np.float64)
