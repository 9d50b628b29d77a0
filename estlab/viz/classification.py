"""Classifier figures: ROC and precision-recall, confusion matrix, calibration (sklearn computes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from estlab.viz._figure import new_figure


def _binary_targets(y_true: Any, pos_label: Any) -> np.ndarray:
    y = np.asarray(y_true)
    if pos_label is None:
        values = np.unique(y)
        if len(values) > 2:
            raise ValueError(
                f"y_true: {len(values)} classes but y_score is 1-D; pass class probabilities of shape "
                f"(n, n_classes) with classes=..., or pos_label= for one class"
            )
        pos_label = values[-1]
    return (y == pos_label).astype(int)


def plot_roc_pr(
    y_true: Any, y_score: Any, pos_label: Any = None, classes: Sequence[Any] | None = None
) -> Figure:
    """ROC curve (with AUC) and precision-recall curve (with average precision) side by side.

    Parameters
    ----------
    y_true
        True labels.
    y_score
        Scores for the positive class (1-D), or class probabilities ``(n, n_classes)`` for one-vs-rest.
    pos_label
        Positive class for 1-D scores; default: the largest label.
    classes
        Class names for the columns of a 2-D ``y_score``.

    Examples
    --------
    >>> fig = plot_roc_pr([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])
    >>> fig.axes[0].get_lines()[0].get_label()
    'AUC = 1.000'
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    scores = np.asarray(y_score, dtype=float)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    if scores.ndim == 1:
        series = [("", _binary_targets(y_true, pos_label), scores)]
    else:
        if classes is None or len(classes) != scores.shape[1]:
            raise ValueError(
                f"classes: need {scores.shape[1]} class names for a 2-D y_score, got "
                f"{None if classes is None else len(classes)}"
            )
        y = np.asarray(y_true)
        series = [(f"{c}: ", (y == c).astype(int), scores[:, i]) for i, c in enumerate(classes)]
    fig = new_figure(9.0, 3.8)
    roc_ax, pr_ax = fig.subplots(1, 2)
    for prefix, targets, s in series:
        fpr, tpr, _ = roc_curve(targets, s)
        roc_ax.plot(fpr, tpr, label=f"{prefix}AUC = {auc(fpr, tpr):.3f}")
        precision, recall, _ = precision_recall_curve(targets, s)
        ap = average_precision_score(targets, s)
        pr_ax.plot(recall, precision, label=f"{prefix}AP = {ap:.3f}", drawstyle="steps-post")
    _finish_roc_pr(roc_ax, pr_ax, "small")
    return fig


def plot_roc_pr_runs(runs: Mapping[str, tuple[Any, Any]], pos_label: Any = None) -> Figure:
    """ROC and precision-recall curves of several binary classifiers on one pair of axes (one line per run).

    Parameters
    ----------
    runs
        Run name → ``(y_true, y_score)``: true labels and the positive class's scores (1-D), or the two class
        probabilities ``(n, 2)`` (the second column is read).
    pos_label
        The positive class; default: the largest label.

    Examples
    --------
    >>> fig = plot_roc_pr_runs({"a": ([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3]), "b": ([0, 1, 1, 0], [0.6, 0.8, 0.2, 0.3])})
    >>> [line.get_label() for line in fig.axes[0].get_lines()[:2]]
    ['a (AUC 1.000)', 'b (AUC 0.500)']
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    if not runs:
        raise ValueError("runs: pass at least one run name -> (y_true, y_score)")
    fig = new_figure(9.0, 3.8)
    roc_ax, pr_ax = fig.subplots(1, 2)
    for name, (y_true, y_score) in runs.items():
        scores = np.asarray(y_score, dtype=float)
        if scores.ndim == 2 and scores.shape[1] in (1, 2):
            scores = scores[:, -1]
        if scores.ndim != 1:
            raise ValueError(f"runs[{name!r}]: expected 1-D scores or (n, 2) probabilities, got shape {scores.shape}")
        targets = _binary_targets(y_true, pos_label)
        fpr, tpr, _ = roc_curve(targets, scores)
        (line,) = roc_ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
        precision, recall, _ = precision_recall_curve(targets, scores)
        pr_ax.plot(recall, precision, color=line.get_color(), drawstyle="steps-post",
                   label=f"{name} (AP {average_precision_score(targets, scores):.3f})")
    _finish_roc_pr(roc_ax, pr_ax, "x-small")
    return fig


def _finish_roc_pr(roc_ax: Any, pr_ax: Any, legend_size: str) -> None:
    """The chance diagonal, titles, limits, grids and legends of a ROC / precision-recall pair."""
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    roc_ax.set(title="ROC", xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
    pr_ax.set(title="Precision-recall", xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    for ax in (roc_ax, pr_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=legend_size, loc="lower right" if ax is roc_ax else "lower left")


def plot_confusion(
    y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None, normalize: str | None = None
) -> Figure:
    """Confusion matrix as an annotated heat map (rows: true class, columns: predicted class).

    Parameters
    ----------
    y_true, y_pred
        True and predicted labels.
    labels
        Class order; default: sorted union of both.
    normalize
        ``None`` (counts), ``"true"``, ``"pred"`` or ``"all"`` as in ``sklearn.metrics.confusion_matrix``.

    Examples
    --------
    >>> fig = plot_confusion(["a", "b", "b"], ["a", "b", "a"])
    >>> fig.axes[0].images[0].get_array().tolist()
    [[1, 0], [1, 1]]
    """
    from sklearn.metrics import confusion_matrix

    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize: expected None, 'true', 'pred' or 'all', got {normalize!r}")
    if labels is None:
        labels = sorted(set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist()))
    matrix = confusion_matrix(y_true, y_pred, labels=list(labels), normalize=normalize)
    n = len(labels)
    fig = new_figure(max(3.6, 1.0 + 0.7 * n), max(3.0, 0.8 + 0.6 * n))
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(n):
        for j in range(n):
            text = f"{matrix[i, j]:.2f}" if normalize else f"{matrix[i, j]:d}"
            color = "white" if matrix[i, j] > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize="small")
    names = [str(label) for label in labels]
    ax.set_xticks(range(n), names, rotation=30 if n > 3 else 0)
    ax.set_yticks(range(n), names)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix")
    return fig


def plot_calibration(y_true: Any, y_prob: Any, n_bins: int = 10, pos_label: Any = None) -> Figure:
    """Reliability diagram: mean predicted probability against the observed positive rate per bin.

    Examples
    --------
    >>> fig = plot_calibration([0, 1, 1, 0], [0.2, 0.7, 0.9, 0.4], n_bins=2)
    >>> fig.axes[0].get_title()
    'Calibration'
    """
    from sklearn.calibration import calibration_curve

    if n_bins < 2:
        raise ValueError(f"n_bins: must be at least 2, got {n_bins}")
    targets = _binary_targets(y_true, pos_label)
    observed, predicted = calibration_curve(targets, np.asarray(y_prob, dtype=float), n_bins=n_bins)
    fig = new_figure(4.5, 4.0)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    ax.plot(predicted, observed, marker="o", label="model")
    ax.set(title="Calibration", xlabel="mean predicted probability", ylabel="fraction of positives")
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig
