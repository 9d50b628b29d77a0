"""Which inputs a trained model relies on: permutation importance (any estimator) and the trees' own measures.

:func:`permutation_importance` works for every estimator: it shuffles one raw input column of an evaluation
frame at a time and reports how much an evaluation metric gets worse. :func:`gain_importance` and
:func:`tree_contributions` expose the boosted trees' split gains and per-row directional feature contributions
(TF's ``experimental_feature_importances`` / ``experimental_predict_with_explanations``) as DataFrames.

The scores are computed without events: the model's History and TensorBoard are not touched.

Examples
--------
>>> from estlab.inspection import permutation_importance
>>> permutation_importance(est, eval_df, label="y", n_repeats=5)  # doctest: +SKIP
  feature  importance_mean  importance_std
0     age         0.081231        0.004211
1   hours         0.010052        0.001870
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from estlab.training.metric_info import higher_is_better

__all__ = ["gain_importance", "permutation_importance", "tree_contributions"]


def _check_frame(frame: Any, what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what}: frame must be a pandas DataFrame of raw inputs and the label; "
                        f"got {type(frame).__name__}")
    if len(frame) < 2:
        raise ValueError(f"{what}: frame has {len(frame)} row(s); permuting needs at least 2")
    return frame


def _permuted(values: pd.Series, order: np.ndarray) -> pd.Series:
    """``values`` reordered by ``order`` (its dtype kept), on the frame's own index."""
    return pd.Series(values.array.take(order), index=values.index, name=values.name)


def permutation_importance(estimator: Any, frame: pd.DataFrame, label: str | None = None, *, n_repeats: int = 5,
                           seed: int = 0, metric: str | None = None, columns: Sequence[str] | None = None,
                           batch_size: int = 512) -> pd.DataFrame:
    """How much ``metric`` worsens when each raw input column of ``frame`` is shuffled (any trained estimator).

    One generator ``np.random.default_rng(seed)`` draws, for each column in order and each repeat,
    ``rng.permutation(len(frame))``; that column's values are reordered by it (the other columns and the
    label stay), and the frame is evaluated. The importance of a repeat is ``permuted - baseline`` for a
    lower-is-better metric (losses, errors) and ``baseline - permuted`` for a higher-is-better one (accuracy,
    auc), so larger means more important; a column the model does not read scores exactly 0.

    Parameters
    ----------
    estimator : Estimator
        A trained estlab estimator (premade, custom or ``model_to_estimator``).
    frame : DataFrame
        Evaluation rows: raw inputs and the label column (held-out data shows what generalises).
    label : str, optional
        The label column; default the label the model was trained with.
    n_repeats : int
        Shuffles per column; the mean and standard deviation (``ddof=0``) are reported.
    seed : int
        Seed of the permutations.
    metric : str, optional
        An evaluation metric key (``"loss"``, ``"accuracy"``, ``"auc"``, ``"rmse"``...); default ``"loss"``.
    columns : list of str, optional
        The columns to permute; default every column but the label and the estimator's ``weight_column``.
    batch_size : int
        Rows per forward pass.

    Returns
    -------
    DataFrame
        ``feature``, ``importance_mean``, ``importance_std``, most important first (ties in column order);
        ``attrs`` holds ``metric``, ``baseline`` (the unshuffled score), ``higher_is_better``, ``n_repeats``
        and ``seed``.

    Examples
    --------
    >>> imp = permutation_importance(est, eval_df, label="income_bracket", metric="auc")  # doctest: +SKIP
    >>> imp.set_index("feature")["importance_mean"].plot.barh()  # doctest: +SKIP
    """
    frame = _check_frame(frame, "permutation_importance")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int) or n_repeats < 1:
        raise ValueError(f"permutation_importance: n_repeats must be a positive int, got {n_repeats!r}")
    if label is not None and label not in frame.columns:
        raise ValueError(f"permutation_importance: label {label!r} is not a column of frame "
                         f"{list(frame.columns)}; pass label='<target column>'")
    label = label if label is not None else _saved_label(estimator)
    weight = getattr(estimator, "weight_column", None)
    weight = getattr(weight, "key", weight)  # a numeric_column weight column reads its key
    if columns is None:
        columns = [c for c in frame.columns if c != label and c != weight]
    else:
        columns = list(columns)
        missing = [c for c in columns if c not in frame.columns]
        if missing or label in columns:
            raise ValueError(f"permutation_importance: columns must be input columns of frame; "
                             f"{missing or [label]} {'are not in it' if missing else 'is the label'}")
    metric = "loss" if metric is None else metric
    higher = higher_is_better(metric)

    def score(data: pd.DataFrame) -> float:
        values = estimator._quiet_metrics(data, label=label, batch_size=batch_size)
        if metric not in values:
            raise ValueError(f"permutation_importance: metric {metric!r} is not among the estimator's evaluation "
                             f"metrics {sorted(values)}; pass one of them")
        return float(values[metric])

    baseline = score(frame)
    rng = np.random.default_rng(seed)
    rows = []
    for column in columns:
        drops = []
        for _ in range(n_repeats):
            shuffled = frame.assign(**{column: _permuted(frame[column], rng.permutation(len(frame)))})
            value = score(shuffled)
            drops.append(baseline - value if higher else value - baseline)
        rows.append({"feature": column, "importance_mean": float(np.mean(drops)),
                     "importance_std": float(np.std(drops))})
    result = pd.DataFrame(rows, columns=["feature", "importance_mean", "importance_std"])
    result = result.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
    result.attrs.update(metric=metric, baseline=baseline, higher_is_better=higher, n_repeats=n_repeats, seed=seed)
    return result


def _saved_label(estimator: Any) -> Any:
    models = getattr(estimator, "_models", None)
    label = models.saved_label(estimator.model_dir, estimator.config) if models is not None else None
    if label is None:
        raise ValueError("permutation_importance: the model remembers no training label; pass label='<column>'")
    return label


def _trees(estimator: Any, what: str) -> Any:
    if not hasattr(estimator, "experimental_feature_importances"):
        raise TypeError(f"{what} needs a boosted trees estimator (BoostedTreesClassifier/Regressor); got "
                        f"{type(estimator).__name__}: use permutation_importance, which works for every estimator")
    return estimator


def gain_importance(estimator: Any, normalize: bool = True) -> pd.DataFrame:
    """The boosted trees' gain importance per feature column, as a DataFrame (largest first).

    The summed split gain of each feature column (TF's ``experimental_feature_importances``); with
    ``normalize`` the values sum to 1. Features are *feature columns* (an indicator's one-hot outputs add up
    under its name), where :func:`permutation_importance` reports raw input columns.

    Examples
    --------
    >>> gain_importance(trees)  # doctest: +SKIP
      feature  importance
    0     age       0.61
    1   hours       0.39
    """
    gains = _trees(estimator, "gain_importance").experimental_feature_importances(normalize=normalize)
    result = pd.DataFrame({"feature": list(gains), "importance": [float(v) for v in gains.values()]})
    result.attrs.update(kind="gain", normalized=normalize)
    return result


def tree_contributions(estimator: Any, frame: pd.DataFrame, *, batch_size: int = 512) -> pd.DataFrame:
    """Each row's directional feature contributions (``dfc``) and ``bias`` from boosted trees, one column each.

    ``bias + sum of the feature columns`` is the row's probability of class 1 (binary) or its prediction
    (regression), as in TF's ``experimental_predict_with_explanations``; the frame's index is kept.

    Examples
    --------
    >>> contrib = tree_contributions(trees, eval_df.drop(columns="y"))  # doctest: +SKIP
    >>> contrib.abs().mean().sort_values()  # doctest: +SKIP
    """
    rows = list(_trees(estimator, "tree_contributions").experimental_predict_with_explanations(
        frame, batch_size=batch_size))
    names = sorted({name for row in rows for name in row["dfc"]})
    data = {name: [float(row["dfc"].get(name, 0.0)) for row in rows] for name in names}
    data["bias"] = [float(row["bias"]) for row in rows]
    index = frame.index if isinstance(frame, pd.DataFrame) else None
    return pd.DataFrame(data, index=index)
