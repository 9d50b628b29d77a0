"""Binary classifiers: calibrate probabilities and choose the decision threshold on evaluation data.

Two calibrators, fitted with exact numpy (no scikit-learn): :class:`PlattCalibrator` (a logistic curve on the
model's logit, Platt's smoothed targets, Newton's method) and :class:`IsotonicCalibrator` (the monotone
step fit of pool-adjacent-violators, interpolated linearly between its points). :func:`calibrate` fits one on
an evaluation frame; :func:`choose_threshold` picks the threshold that maximises a metric there. Both
results apply to ``predict_frame`` output (``.apply(predictions)``) and save as plain JSON (``to_dict`` /
``calibrator_from_dict``).

Use data the model was not trained on, and a different part of it from the one you report scores on: a
threshold or calibration chosen on the test rows flatters them.

Examples
--------
>>> from estlab.calibration import calibrate, choose_threshold
>>> cal = calibrate(est, valid_df, label="y", method="isotonic")  # doctest: +SKIP
>>> choice = choose_threshold(est, valid_df, label="y", metric="f1", calibrator=cal)  # doctest: +SKIP
>>> choice.apply(cal.apply(est.predict_frame(test_df)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "IsotonicCalibrator",
    "PlattCalibrator",
    "ThresholdChoice",
    "best_threshold",
    "binary_scores",
    "calibrate",
    "calibrator_from_dict",
    "choose_threshold",
    "threshold_scores",
]

#: the column ``Calibrator.apply`` adds to a predictions frame, and the one ``ThresholdChoice.apply`` reads first
CALIBRATED = "calibrated_probability"


def binary_scores(estimator: Any, frame: pd.DataFrame, label: str, *, batch_size: int = 512
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(probability of the positive class, 0/1 labels)`` of a binary classifier over ``frame``.

    The positive class is the second one (``label_vocabulary[1]``, or the label 1).

    Examples
    --------
    >>> p, y = binary_scores(est, valid_df, "y")  # doctest: +SKIP
    """
    if not isinstance(frame, pd.DataFrame) or label not in frame.columns:
        got = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
        raise ValueError(f"expected a DataFrame with the label column {label!r}; got {got}")
    predictions = estimator.predict_frame(frame.drop(columns=[label]), batch_size=batch_size)
    prob_columns = [c for c in predictions.columns if c.startswith("probabilities_")]
    if len(prob_columns) != 2:
        raise ValueError(f"calibration and thresholds are for binary classifiers; {type(estimator).__name__} "
                         f"predicts {prob_columns or 'no probabilities'} (n_classes=2 is needed)")
    negative, positive = (c[len("probabilities_"):] for c in prob_columns)
    values = frame[label]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=np.float64)
        bad = sorted(set(np.unique(numbers)) - {0.0, 1.0})
        y = numbers == 1.0
    else:
        text = values.astype(str).to_numpy()
        bad = sorted(set(np.unique(text)) - {negative, positive})
        y = text == positive
    if bad:
        raise ValueError(f"label {label!r} holds {bad[:5]}, not one of the two classes {[negative, positive]}")
    return predictions[prob_columns[1]].to_numpy(dtype=np.float64), y.astype(np.int64)


def _check_binary(probabilities: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if p.shape != y.shape or len(p) < 2:
        raise ValueError(f"probabilities and labels must be 1-d of the same length >= 2; got {p.shape}, {y.shape}")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError(f"labels must be 0 or 1; got {sorted(set(y.tolist()) - {0, 1})[:5]}")
    if np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("probabilities must lie in [0, 1] (no NaN)")
    return p, y.astype(np.float64)


class _Calibrator:
    """Shared ``apply`` of the calibrators: adds ``calibrated_probability`` to a ``predict_frame`` frame."""

    method = ""

    def transform(self, probabilities: Any) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def apply(self, predictions: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``predict_frame`` output with ``calibrated_probability`` (of the positive class) added."""
        columns = [c for c in predictions.columns if c.startswith("probabilities_")]
        if len(columns) != 2:
            raise ValueError(f"apply: expected predict_frame output of a binary classifier (two probabilities_ "
                             f"columns); got {list(predictions.columns)}")
        return predictions.assign(**{CALIBRATED: self.transform(predictions[columns[1]].to_numpy())})


@dataclass
class PlattCalibrator(_Calibrator):
    """``p' = sigmoid(a * logit(p) + b)``, fitted by maximum likelihood on Platt's smoothed targets.

    The targets are ``(n1 + 1) / (n1 + 2)`` for positives and ``1 / (n0 + 2)`` for negatives (Platt 1999);
    Newton's method on ``(a, b)`` runs until the step is below ``1e-12``.

    Examples
    --------
    >>> cal = PlattCalibrator().fit([0.2, 0.4, 0.6, 0.8], [0, 0, 1, 1])
    >>> bool(cal.transform([0.8])[0] > 0.5), cal.method
    (True, 'platt')
    """

    a: float = 1.0
    b: float = 0.0
    method = "platt"

    def fit(self, probabilities: Any, labels: Any) -> PlattCalibrator:
        """Fit ``a`` and ``b`` on probabilities of the positive class and 0/1 labels; returns ``self``."""
        p, y = _check_binary(probabilities, labels)
        x = _logit(p)
        n1 = float(y.sum())
        n0 = len(y) - n1
        t = np.where(y == 1, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))
        def loss(a: float, b: float) -> float:  # cross-entropy against the smoothed targets
            z = a * x + b
            return float(np.sum(np.logaddexp(0.0, z) - t * z))

        a, b = 0.0, float(np.log((n1 + 1) / (n0 + 1)))
        for _ in range(200):
            q = _sigmoid(a * x + b)
            w = np.maximum(q * (1 - q), 1e-12)
            grad = np.array([np.sum((q - t) * x), np.sum(q - t)])
            hess = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]]) + 1e-12 * np.eye(2)
            step = np.linalg.solve(hess, grad)
            scale, current = 1.0, loss(a, b)
            while scale > 1e-10 and loss(a - scale * step[0], b - scale * step[1]) > current:
                scale /= 2  # backtrack: Newton's full step may overshoot far from the optimum
            a, b = a - scale * float(step[0]), b - scale * float(step[1])
            if np.max(np.abs(scale * step)) < 1e-12:
                break
        self.a, self.b = a, b
        return self

    def transform(self, probabilities: Any) -> np.ndarray:
        """Calibrated probabilities of the positive class."""
        return _sigmoid(self.a * _logit(np.asarray(probabilities, dtype=np.float64)) + self.b)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: ``{"method": "platt", "a": ..., "b": ...}``."""
        return {"method": "platt", "a": self.a, "b": self.b}


@dataclass
class IsotonicCalibrator(_Calibrator):
    """The non-decreasing fit of the labels on the probabilities (pool adjacent violators, weighted by count).

    ``x``/``y`` are the distinct input probabilities and their fitted values; ``transform`` interpolates
    linearly between them and holds the end values outside ``[x[0], x[-1]]``.

    Examples
    --------
    >>> cal = IsotonicCalibrator().fit([0.1, 0.3, 0.5, 0.7], [0, 1, 0, 1])
    >>> cal.y
    [0.0, 0.5, 0.5, 1.0]
    """

    x: list[float] | None = None
    y: list[float] | None = None
    method = "isotonic"

    def fit(self, probabilities: Any, labels: Any) -> IsotonicCalibrator:
        """Fit on probabilities of the positive class and 0/1 labels; returns ``self``."""
        p, y = _check_binary(probabilities, labels)
        xs, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=y) / counts
        # pool adjacent violators: a stack of blocks (value, weight, number of distinct points)
        values: list[float] = []
        weights: list[float] = []
        sizes: list[int] = []
        for value, weight in zip(means.tolist(), counts.astype(np.float64).tolist(), strict=True):
            values.append(value)
            weights.append(weight)
            sizes.append(1)
            while len(values) > 1 and values[-2] > values[-1]:
                w = weights[-2] + weights[-1]
                merged = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w
                size = sizes[-2] + sizes[-1]
                del values[-1], weights[-1], sizes[-1]
                values[-1], weights[-1], sizes[-1] = merged, w, size
        self.x = xs.tolist()
        self.y = [v for v, n in zip(values, sizes, strict=True) for _ in range(n)]
        return self

    def transform(self, probabilities: Any) -> np.ndarray:
        """Calibrated probabilities of the positive class."""
        if self.x is None or self.y is None:
            raise ValueError("IsotonicCalibrator: call fit(probabilities, labels) first")
        return np.interp(np.asarray(probabilities, dtype=np.float64), self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: ``{"method": "isotonic", "x": [...], "y": [...]}``."""
        return {"method": "isotonic", "x": self.x, "y": self.y}


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(q) - np.log1p(-q)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


CALIBRATORS: dict[str, type[PlattCalibrator] | type[IsotonicCalibrator]] = {
    "platt": PlattCalibrator, "isotonic": IsotonicCalibrator}


def calibrator_from_dict(data: dict[str, Any]) -> PlattCalibrator | IsotonicCalibrator:
    """Rebuild a calibrator from its ``to_dict()`` (plain values only; nothing is executed).

    Examples
    --------
    >>> calibrator_from_dict({"method": "platt", "a": 2.0, "b": 0.0}).a
    2.0
    """
    method = data.get("method")
    if method == "platt":
        return PlattCalibrator(float(data["a"]), float(data["b"]))
    if method == "isotonic":
        return IsotonicCalibrator([float(v) for v in data["x"]], [float(v) for v in data["y"]])
    raise ValueError(f"calibrator_from_dict: method {method!r} is not one of {sorted(CALIBRATORS)}")


def calibrate(estimator: Any, frame: pd.DataFrame, label: str, method: str = "isotonic", *,
              batch_size: int = 512) -> PlattCalibrator | IsotonicCalibrator:
    """Fit a calibrator of a binary classifier's positive-class probability on ``frame`` (held-out rows).

    Parameters
    ----------
    estimator : Estimator
        A trained binary classifier.
    frame : DataFrame
        Held-out rows with the label column.
    label : str
        The label column.
    method : str
        ``"isotonic"`` (flexible; wants a few hundred rows) or ``"platt"`` (two parameters; small data).

    Examples
    --------
    >>> cal = calibrate(est, valid_df, "y", method="platt")  # doctest: +SKIP
    >>> cal.apply(est.predict_frame(test_df))["calibrated_probability"]  # doctest: +SKIP
    """
    if method not in CALIBRATORS:
        raise ValueError(f"calibrate: method={method!r}; choose one of {sorted(CALIBRATORS)}")
    p, y = binary_scores(estimator, frame, label, batch_size=batch_size)
    return CALIBRATORS[method]().fit(p, y)


def _confusion(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Candidate thresholds (distinct probabilities, ascending) and TP, FP, FN, TN of ``p >= threshold``."""
    thresholds = np.unique(p)
    order = np.argsort(p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    # rows at or above a threshold: those from its first position on
    first = np.searchsorted(p_sorted, thresholds, side="left")
    positives_after = np.concatenate([np.cumsum(y_sorted[::-1])[::-1], [0.0]])
    tp = positives_after[first]
    predicted = len(p) - first
    fp = predicted - tp
    fn = y.sum() - tp
    tn = len(p) - tp - fp - fn
    return thresholds, tp, fp, fn, tn


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b != 0)


#: metric name -> (tp, fp, fn, tn) -> score per threshold; larger is better
THRESHOLD_METRICS: dict[str, Callable[..., np.ndarray]] = {
    "f1": lambda tp, fp, fn, tn: _safe_div(2 * tp, 2 * tp + fp + fn),
    "accuracy": lambda tp, fp, fn, tn: (tp + tn) / (tp + fp + fn + tn),
    "balanced_accuracy": lambda tp, fp, fn, tn: (_safe_div(tp, tp + fn) + _safe_div(tn, tn + fp)) / 2,
    "mcc": lambda tp, fp, fn, tn: _safe_div(tp * tn - fp * fn,
                                            np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))),
}


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold: predict the positive class when its probability is ``>= threshold``.

    ``score`` is ``metric`` at that threshold on the data it was chosen on (optimistic for new data).

    Examples
    --------
    >>> choice = ThresholdChoice(threshold=0.3, metric="f1", score=0.8)
    >>> choice.predict([0.2, 0.3, 0.9]).tolist()
    [0, 1, 1]
    """

    threshold: float
    metric: str
    score: float

    def predict(self, probabilities: Any) -> np.ndarray:
        """0/1 decisions for probabilities of the positive class."""
        return (np.asarray(probabilities, dtype=np.float64) >= self.threshold).astype(np.int64)

    def apply(self, predictions: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``predict_frame`` output with ``decision`` (0/1) from ``calibrated_probability`` if present,
        else the positive class's ``probabilities_`` column."""
        source = CALIBRATED if CALIBRATED in predictions.columns else None
        if source is None:
            columns = [c for c in predictions.columns if c.startswith("probabilities_")]
            if len(columns) != 2:
                raise ValueError(f"apply: expected predict_frame output of a binary classifier; got "
                                 f"{list(predictions.columns)}")
            source = columns[1]
        return predictions.assign(decision=self.predict(predictions[source].to_numpy()))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"threshold": self.threshold, "metric": self.metric, "score": self.score}


def threshold_scores(probabilities: Any, labels: Any, metric: str = "f1") -> pd.DataFrame:
    """Every candidate threshold (the distinct probabilities) with its TP/FP/FN/TN and ``metric``, exactly.

    Examples
    --------
    >>> threshold_scores([0.1, 0.4, 0.8], [0, 1, 1])[["threshold", "tp", "fp", "f1"]].to_numpy().tolist()
    [[0.1, 2.0, 1.0, 0.8], [0.4, 2.0, 0.0, 1.0], [0.8, 1.0, 0.0, 0.6666666666666666]]
    """
    if metric not in THRESHOLD_METRICS:
        raise ValueError(f"metric={metric!r} is not a threshold metric; choose one of {sorted(THRESHOLD_METRICS)}")
    p, y = _check_binary(probabilities, labels)
    thresholds, tp, fp, fn, tn = _confusion(p, y)
    return pd.DataFrame({"threshold": thresholds, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
                         metric: THRESHOLD_METRICS[metric](tp, fp, fn, tn)})


def choose_threshold(estimator: Any, frame: pd.DataFrame, label: str, metric: str = "f1", *,
                     calibrator: Any = None, batch_size: int = 512) -> ThresholdChoice:
    """The decision threshold of a binary classifier that maximises ``metric`` on ``frame`` (held-out rows).

    The candidates are the distinct positive-class probabilities of ``frame`` (after ``calibrator``, when
    given); a row is positive when its probability is ``>= threshold``. Ties go to the candidate nearest 0.5
    (then the higher one).

    Parameters
    ----------
    estimator : Estimator
        A trained binary classifier.
    frame : DataFrame
        Held-out rows with the label column.
    label : str
        The label column.
    metric : str
        ``"f1"``, ``"accuracy"``, ``"balanced_accuracy"`` or ``"mcc"``.
    calibrator : PlattCalibrator or IsotonicCalibrator, optional
        Choose on calibrated probabilities (then apply the calibrator before the threshold).

    Examples
    --------
    >>> choice = choose_threshold(est, valid_df, "y", metric="f1")  # doctest: +SKIP
    >>> choice.apply(est.predict_frame(test_df))["decision"]  # doctest: +SKIP
    """
    if metric not in THRESHOLD_METRICS:
        raise ValueError(f"choose_threshold: metric={metric!r}; choose one of {sorted(THRESHOLD_METRICS)}")
    p, y = binary_scores(estimator, frame, label, batch_size=batch_size)
    return best_threshold(p if calibrator is None else calibrator.transform(p), y, metric)


def best_threshold(probabilities: Any, labels: Any, metric: str = "f1") -> ThresholdChoice:
    """The threshold maximising ``metric`` over given probabilities and 0/1 labels (:func:`choose_threshold`'s rule).

    Examples
    --------
    >>> best_threshold([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1], "accuracy")  # 0.4 and 0.9 tie: 0.4 is nearer 0.5
    ThresholdChoice(threshold=0.4, metric='accuracy', score=0.75)
    """
    table = threshold_scores(probabilities, labels, metric)
    scores = table[metric].to_numpy()
    best = np.flatnonzero(scores == scores.max())
    thresholds = table["threshold"].to_numpy()
    pick = best[np.lexsort((-thresholds[best], np.abs(thresholds[best] - 0.5)))[0]]
    return ThresholdChoice(float(thresholds[pick]), metric, float(scores[pick]))
