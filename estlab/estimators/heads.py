"""Heads: label encoding, loss, predictions and evaluation metrics for one task.

A head turns a model's logits ``(N, logits_dimension)`` into a training loss, TF-keyed
predictions and TF-keyed evaluation metrics. Premade estimators build theirs with
:func:`make_head`; custom estimators may use a head directly.

Loss reduction (``loss_reduction``):

``"sum_over_batch_size"`` (default, as TF 2)
    ``sum(w * per_example_loss) / number_of_loss_elements`` (the weights do not divide).
``"sum"``
    ``sum(w * per_example_loss)``.

The ``"loss"`` evaluation metric is TF's mean of per-batch losses: the whole evaluation input's
loss under ``loss_reduction`` as if one batch (equal to ``average_loss`` when unweighted with
``"sum_over_batch_size"``); for ``"sum"`` it is the total divided by ``num_batches``.

Examples
--------
>>> import torch
>>> head = make_head(n_classes=2, label_vocabulary=["no", "yes"])
>>> labels = head.encode_labels(np.array(["yes", "no"]))
>>> float(head.loss(torch.zeros(2, 1), labels))  # log(2)
0.6931471824645996
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, TypeAlias

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from estlab._util import did_you_mean, warn_ignored_arguments
from estlab.estimators import metrics as _metrics
from estlab.estimators.choices import LOSS_REDUCTIONS
from estlab.estimators.weights import WeightColumn
from estlab.training.metric_info import HEAD_METRICS, HeadMetrics

#: Labels as an input holds them; ``encode_labels`` validates the shape and values (a premade head takes one column).
RawLabels: TypeAlias = np.ndarray | pd.Series | pd.DataFrame | Mapping[str, np.ndarray] | Sequence[Any]


def _check_reduction(loss_reduction: str) -> str:
    name = str(loss_reduction).lower()
    if name not in LOSS_REDUCTIONS:
        raise ValueError(
            f"loss_reduction={loss_reduction!r} is not supported; use one of {list(LOSS_REDUCTIONS)} "
            "(TF's SUM_OVER_BATCH_SIZE / SUM)."
        )
    return name


def _to_numpy(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    if isinstance(values, (pd.Series, pd.DataFrame, pd.Index)):
        return values.to_numpy()
    return np.asarray(values)


def _reduce(per_element: torch.Tensor, weights: torch.Tensor | None, reduction: str) -> torch.Tensor:
    """Reduce ``(N, k)`` element losses with optional ``(N,)`` weights."""
    if weights is not None:
        per_element = per_element * weights.reshape(-1, 1).to(per_element.dtype)
    total = per_element.sum()
    if reduction == "sum":
        return total
    return total / max(per_element.numel(), 1)


def _flat_weights(weights: Any, n: int) -> torch.Tensor:
    if weights is None:
        return torch.ones(n, dtype=torch.float64)
    w = torch.as_tensor(_to_numpy(weights) if not isinstance(weights, torch.Tensor) else weights)
    return w.detach().reshape(-1).to(torch.float64).cpu()


def _tf_head_extras(head: str, loss_fn: Any, **ignored: Any) -> None:
    """TF's head arguments estlab's heads don't take: ``loss_fn`` is refused (it changes training), the rest
    (``thresholds``, ``inverse_link_fn``, ``name``) are ignored with one warning naming them."""
    if loss_fn is not None:
        raise ValueError(f"{head}: loss_fn is not supported by estlab's premade heads; write a custom model_fn "
                         "(estlab.estimator.Estimator(model_fn=...)) with your loss instead")
    warn_ignored_arguments(head, {k: v for k, v in ignored.items() if v not in (None, ())},
                           why="estlab's head does not use it")


@dataclass(frozen=True)
class Head:
    """Base class of the heads: ``task``, ``logits_dimension`` and the label/loss/metrics API.

    Subclasses implement ``encode_labels``, ``_element_loss``, ``predictions`` and ``_task_metrics``.

    Examples
    --------
    >>> RegressionHead().task
    'regression'
    """

    weight_column: WeightColumn | None = None
    loss_reduction: str = "sum_over_batch_size"
    #: TF's head ``name``: a :class:`~estlab.estimators.multi_head.MultiHead` keys this head's labels, logits,
    #: predictions and metrics by it; a head used alone suffixes its metric keys with ``/<name>`` (all but
    #: ``loss``, as TF's ``Head._summary_key`` with the estimator's own ``loss``).
    name: str | None = None

    task: ClassVar[str] = ""
    #: dtype of :meth:`encode_labels`' tensor (class ids are int64, everything else float32)
    label_dtype: ClassVar[torch.dtype] = torch.float32
    #: this head's metrics: which way each improves and which to show first (see ``metric_info``).
    metric_info: ClassVar[HeadMetrics | None] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "loss_reduction", _check_reduction(self.loss_reduction))
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string or None; received "
                             f"{self.name!r}.")

    @classmethod
    def preferred_metrics(cls) -> tuple[str, ...]:
        """The metrics to show first (leaderboards, early stopping, exporters), in order.

        Examples
        --------
        >>> RegressionHead.preferred_metrics()
        ('rmse', 'mae', 'average_loss')
        """
        return () if cls.metric_info is None else cls.metric_info.preferred

    @property
    def logits_dimension(self) -> int:
        """Width of the logits the model must produce."""
        raise NotImplementedError

    @property
    def label_width(self) -> int:
        """Columns of :meth:`encode_labels`' tensor once reshaped to ``(N, label_width)``.

        Examples
        --------
        >>> MultiClassHead(n_classes=4).label_width, RegressionHead(label_dimension=2).label_width
        (1, 2)
        """
        return self.logits_dimension

    def encode_labels(self, labels: RawLabels) -> torch.Tensor:
        """Validate raw labels and turn them into the tensor :meth:`loss` expects."""
        raise NotImplementedError

    def _element_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def unreduced_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Per-example loss ``(N,)`` (summed over a regression head's label dimensions)."""
        return self._element_loss(logits, labels).sum(dim=1)

    def loss(
        self, logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scalar training loss under ``loss_reduction``.

        Examples
        --------
        >>> import torch
        >>> head = RegressionHead(loss_reduction="sum")
        >>> float(head.loss(torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [0.0]])))
        5.0
        """
        return _reduce(self._element_loss(logits, labels), weights, self.loss_reduction)

    def predictions(self, logits: torch.Tensor) -> dict[str, torch.Tensor | np.ndarray]:
        """TF-keyed predictions for a batch of logits."""
        raise NotImplementedError

    def coded_predictions(self) -> dict[str, tuple[str, np.ndarray]]:
        """String predictions that are class names looked up by an integer prediction: ``{key: (ids key, names)}``.

        ``predictions(logits)[key]`` equals ``names[predictions(logits)[ids key]]`` element by element, so a
        DataFrame of predictions can build those string columns from the ids (``estlab.estimators.
        prediction_frame``) instead of converting Python strings one by one. A subclass that changes
        ``predictions`` must override this too (``{}`` is always correct).

        Examples
        --------
        >>> sorted(BinaryClassHead().coded_predictions())
        ['all_classes', 'classes']
        >>> RegressionHead().coded_predictions()
        {}
        """
        return {}

    def metrics(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        weights: torch.Tensor | None = None,
        loss_sum: float | None = None,
        weight_sum: float | None = None,
        num_batches: int | None = None,
    ) -> dict[str, float]:
        """TF-keyed evaluation metrics over the whole input, keyed ``<metric>/<name>`` for a named head.

        As TF's heads (``_summary_key``), a head with a ``name`` suffixes every metric key but ``loss`` (the
        estimator's own loss) with ``/<name>``; :meth:`unnamed_metrics` gives the keys without it. The
        arguments are those of :meth:`unnamed_metrics`.

        Examples
        --------
        >>> import torch
        >>> m = RegressionHead(name="price").metrics(torch.tensor([[2.0]]), torch.tensor([[1.0]]))
        >>> m["loss"], m["average_loss/price"], m["rmse/price"]
        (1.0, 1.0, 1.0)
        """
        return named_metric_keys(self.unnamed_metrics(logits, labels, weights, loss_sum, weight_sum, num_batches),
                                 self.name)

    def unnamed_metrics(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        weights: torch.Tensor | None = None,
        loss_sum: float | None = None,
        weight_sum: float | None = None,
        num_batches: int | None = None,
    ) -> dict[str, float]:
        """TF-keyed evaluation metrics over the whole input (concatenated logits and labels), keys unsuffixed.

        Parameters
        ----------
        logits, labels : torch.Tensor
            All evaluation logits and encoded labels.
        weights : torch.Tensor, optional
            ``(N,)`` example weights; ones when ``None``.
        loss_sum, weight_sum : float, optional
            ``sum(w * unreduced_loss)`` and ``sum(w)`` if the caller accumulated them; computed from
            the logits when ``None``.
        num_batches : int, optional
            Number of evaluation batches, used by ``"loss"`` under ``loss_reduction="sum"``.

        Examples
        --------
        >>> import torch
        >>> head = BinaryClassHead()
        >>> m = head.unnamed_metrics(torch.tensor([[2.0], [-1.0]]), torch.tensor([[1.0], [1.0]]))
        >>> m["accuracy"], m["recall"]
        (0.5, 0.5)
        """
        if logits.shape[0] == 0:
            raise ValueError("evaluate: the input has 0 rows, and metrics need at least one example; pass a "
                             "non-empty evaluation set (check any filtering that produced it).")
        logits = logits.detach().cpu().float()
        labels = labels.detach().cpu()
        w = _flat_weights(weights, logits.shape[0])
        element = self._element_loss(logits, labels).to(torch.float64)
        # unweighted: x * 1.0 is x, so the products are skipped; the sums run over the very same values
        if loss_sum is None:
            per_example = element.sum(dim=1)
            loss_sum = float((per_example if weights is None else per_example * w).sum())
        if weight_sum is None:
            weight_sum = float(w.sum())
        weighted_total = float((element if weights is None else element * w.reshape(-1, 1)).sum())
        if self.loss_reduction == "sum":
            loss = weighted_total / max(int(num_batches or 1), 1)
        else:
            loss = weighted_total / max(element.numel(), 1)
        return self._task_metrics(logits, labels, w.numpy(), float(loss_sum), float(weight_sum), loss)

    def _task_metrics(
        self, logits: torch.Tensor, labels: torch.Tensor, w: np.ndarray, loss_sum: float, weight_sum: float,
        loss: float,
    ) -> dict[str, float]:
        raise NotImplementedError

    def create_estimator_spec(
        self,
        features: Mapping[str, Any],
        mode: str,
        logits: torch.Tensor,
        labels: Any = None,
        optimizer: Any = None,
        trainable_variables: Sequence[torch.nn.Parameter] | None = None,
        train_op_fn: Any = None,
        update_ops: Any = None,
        regularization_losses: Sequence[torch.Tensor] | None = None,
    ) -> Any:
        """TF's ``Head.create_estimator_spec``: the ``EstimatorSpec`` a TF-style ``model_fn`` returns for ``logits``.

        For ``Estimator(model_fn=...)`` (``estlab.estimators.tf_model_fn``). PREDICT: this head's predictions.
        TRAIN and EVAL: ``loss`` is :meth:`loss` of ``labels`` (encoded by :meth:`encode_labels`) weighted by
        ``features[weight_column]``, plus the sum of ``regularization_losses``. EVAL: every metric of
        :meth:`metrics` but ``loss`` (the estimator's own), over the whole evaluation input. TRAIN: ``train_op``
        is ``optimizer`` (a torch optimizer, an optimizer name or class; a name or class is built over
        ``trainable_variables`` when given, else over all the model's parameters) or ``train_op_fn(loss)``'s
        result; exactly one of the two. ``update_ops`` have no PyTorch meaning (batch-norm statistics update in
        the forward pass) and are ignored with a warning.

        Examples
        --------
        >>> import torch
        >>> spec = RegressionHead().create_estimator_spec({}, "eval", torch.tensor([[1.0]]), torch.tensor([[3.0]]))
        >>> float(spec.loss), sorted(spec.eval_metric_ops)[:2]
        (4.0, ['average_loss', 'label/mean'])
        """
        from estlab.estimators.custom import ModeKeys
        from estlab.estimators.tf_model_fn import EstimatorSpec

        warn_ignored_arguments(f"{type(self).__name__}.create_estimator_spec", {"update_ops": update_ops or None},
                               why="PyTorch updates batch-norm statistics in the forward pass")
        if mode == ModeKeys.PREDICT:
            return EstimatorSpec(mode, predictions=self.predictions(logits))
        if labels is None:
            raise ValueError(f"{type(self).__name__}.create_estimator_spec: labels are required in {mode!r} mode; "
                             "pass the model_fn's labels.")
        encoded = self.encode_labels(labels).to(logits.device)
        weights = self._spec_weights(features)
        loss = self.loss(logits, encoded, weights)
        for extra in regularization_losses or ():
            loss = loss + extra
        if mode == ModeKeys.EVAL:
            memo: list = []
            ops = {key: _metrics.MetricOp(_HeadMetric(self, key, memo), encoded.detach(), logits.detach(),
                                          None if weights is None else weights.detach())
                   for key in self.metrics(logits.detach().float(), encoded.detach(), weights) if key != "loss"}
            return EstimatorSpec(mode, predictions=self.predictions(logits), loss=loss, eval_metric_ops=ops)
        if (optimizer is None) == (train_op_fn is None):
            raise ValueError(f"{type(self).__name__}.create_estimator_spec: pass exactly one of optimizer (a torch "
                             "optimizer, an optimizer name such as 'Adagrad', or a class) and train_op_fn(loss); "
                             f"received optimizer={optimizer!r}, train_op_fn={train_op_fn!r}.")
        if train_op_fn is not None:
            return EstimatorSpec(mode, loss=loss, train_op=train_op_fn(loss))
        if trainable_variables is not None and isinstance(optimizer, (str, type)):
            from estlab.estimators.optimizers import resolve_optimizer

            optimizer = resolve_optimizer(optimizer, None)(list(trainable_variables))
        return EstimatorSpec(mode, loss=loss, train_op=optimizer)

    def _spec_weights(self, features: Mapping[str, Any]) -> torch.Tensor | None:
        """``(N,)`` example weights of ``weight_column`` from a model_fn's ``features``, or None without one."""
        if self.weight_column is None:
            return None
        from estlab.estimators.weights import weight_key

        key = weight_key(self.weight_column)
        if key is None or key not in features:
            raise ValueError(f"{type(self).__name__}: weight_column {key!r} is not among the model_fn's features "
                             f"{sorted(features)}; pass it in the input (or set weight_column=None).")
        return torch.as_tensor(features[key]).reshape(-1).float()

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON description; :func:`head_from_dict` rebuilds the head.

        Examples
        --------
        >>> head_from_dict(MultiClassHead(n_classes=3).to_dict()) == MultiClassHead(n_classes=3)
        True
        """
        d = asdict(self)
        if d.get("name") is None:
            d.pop("name", None)
        for optional in ("classes_for_class_based_metrics", "thresholds"):  # older descriptions stay as they were
            if optional in d and not d[optional]:
                d.pop(optional)
        if d.get("label_vocabulary") is not None:
            d["label_vocabulary"] = list(d["label_vocabulary"])
        d["type"] = type(self).__name__
        return d


class _HeadMetric:
    """One of a head's metrics as an ``eval_metric_ops`` callable over the whole input's labels and logits.

    The ops of one ``create_estimator_spec`` call share ``memo`` (a one-entry list): the head's metrics are
    computed once for the whole input, not once per key.
    """

    def __init__(self, head: Head, key: str, memo: list) -> None:
        self.head, self.key, self.memo = head, key, memo

    def __call__(self, labels: np.ndarray, logits: np.ndarray, weights: np.ndarray | None = None) -> float:
        arrays = (labels, logits, weights)
        if not self.memo or not all(_same(a, b) for a, b in zip(self.memo[0][0], arrays, strict=True)):
            metrics = self.head.metrics(torch.as_tensor(logits).float(), torch.as_tensor(labels),
                                        None if weights is None else torch.as_tensor(weights))
            self.memo[:] = [(arrays, metrics)]
        return self.memo[0][1][self.key]


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))


def named_metric_keys(metrics: dict[str, float], name: str | None) -> dict[str, float]:
    """``metrics`` with every key but ``loss`` suffixed ``/<name>`` (TF's ``_summary_key``); as is without a name.

    Examples
    --------
    >>> named_metric_keys({"loss": 1.0, "auc": 0.5}, "click")
    {'loss': 1.0, 'auc/click': 0.5}
    """
    if not name:
        return metrics
    return {key if key == "loss" else f"{key}/{name}": value for key, value in metrics.items()}


def _class_labels(vocabulary: tuple[str, ...] | None, n_classes: int) -> np.ndarray:
    names = vocabulary if vocabulary is not None else tuple(str(i) for i in range(n_classes))
    return np.asarray(names, dtype=object)


def _encode_class_labels(labels: Any, n_classes: int, vocabulary: tuple[str, ...] | None) -> np.ndarray:
    """Raw labels → int64 class ids ``(N,)``, with errors that name the value and the fix."""
    values = _to_numpy(labels)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"labels must be one column; received shape {values.shape}.")
    if values.dtype == object:
        row = next((i for i, v in enumerate(values) if isinstance(v, (list, tuple, set, dict, np.ndarray))), None)
        if row is not None:
            raise ValueError(
                f"labels must hold one class per row; row {row} holds a {type(values[row]).__name__} "
                f"({str(values[row])[:40]}). For several classes per example use a multi-label head "
                "(estlab.estimators.MultiLabelHead), else fix those rows."
            )
    if vocabulary is not None:
        missing = pd.isna(values)
        if missing.any():
            raise ValueError(f"labels contain {int(missing.sum())} missing value(s); drop or fill those rows.")
        text = values.astype(str) if values.dtype.kind != "O" else np.asarray([str(v) for v in values])
        ids = pd.Index(list(vocabulary)).get_indexer(text)
        if (ids < 0).any():
            bad = str(text[ids < 0][0])
            raise ValueError(
                f"label {bad!r} is not in label_vocabulary={list(vocabulary)}; add it to label_vocabulary "
                "or clean the labels." + did_you_mean(bad, vocabulary, n=1)
            )
        return ids.astype(np.int64)
    if values.dtype.kind in "OUS" or isinstance(getattr(labels, "dtype", None), pd.StringDtype):
        found = sorted({str(v) for v in pd.unique(values[~pd.isna(values)])})[:10]
        raise ValueError(
            f"labels are strings (e.g. {found[:3]}) but label_vocabulary is None; pass "
            f"label_vocabulary={found} (all label values) or encode labels as integers 0..{n_classes - 1}."
        )
    numeric = values.astype(np.float64)
    if np.isnan(numeric).any():
        raise ValueError(f"labels contain {int(np.isnan(numeric).sum())} missing value(s); drop or fill those rows.")
    bad = (numeric < 0) | (numeric >= n_classes) | (numeric != np.round(numeric))
    if bad.any():
        raise ValueError(
            f"label {numeric[bad][0]:g} is outside n_classes={n_classes} (labels must be integers in "
            f"[0, {n_classes - 1}]); set n_classes or pass label_vocabulary for string labels."
        )
    return numeric.astype(np.int64)


def _thresholds(thresholds: Any) -> tuple[float, ...]:
    """TF's ``thresholds`` as a tuple of floats strictly between 0 and 1 (``None`` → ``()``)."""
    if thresholds is None:
        return ()
    if isinstance(thresholds, (str, bytes)) or not hasattr(thresholds, "__iter__"):
        raise ValueError(f"thresholds must be a list of probabilities in (0, 1) such as [0.3, 0.7]; received "
                         f"{thresholds!r}.")
    values = tuple(float(t) for t in thresholds)
    bad = [t for t in values if not 0.0 < t < 1.0]
    if bad:
        raise ValueError(f"thresholds must lie strictly between 0 and 1; received {bad}.")
    return values


def _class_ids(classes: Any, n_classes: int, vocabulary: tuple[str, ...] | None) -> tuple[int, ...]:
    """``classes_for_class_based_metrics`` as class ids: ints in ``[0, n_classes)``, or names of the vocabulary."""
    if classes is None:
        return ()
    if isinstance(classes, (str, int, np.integer)) or not hasattr(classes, "__iter__"):
        raise ValueError(f"classes_for_class_based_metrics must be a list of class ids or names; received "
                         f"{classes!r} (wrap one class in a list: [{classes!r}]).")
    ids = []
    for item in classes:
        if isinstance(item, str):
            if vocabulary is None:
                raise ValueError(f"classes_for_class_based_metrics holds the name {item!r} but label_vocabulary is "
                                 "None; pass class ids, or label_vocabulary with the class names.")
            if item not in vocabulary:
                raise ValueError(f"classes_for_class_based_metrics: {item!r} is not in label_vocabulary="
                                 f"{list(vocabulary)}." + did_you_mean(item, vocabulary, n=1))
            ids.append(vocabulary.index(item))
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool) and 0 <= item < n_classes:
            ids.append(int(item))
        else:
            raise ValueError(f"classes_for_class_based_metrics: {item!r} is not a class id in [0, {n_classes - 1}] "
                             "nor a name of label_vocabulary; fix that entry.")
    return tuple(ids)


def _vocabulary(label_vocabulary: Any) -> tuple[str, ...] | None:
    if label_vocabulary is None:
        return None
    if isinstance(label_vocabulary, str) or not hasattr(label_vocabulary, "__iter__"):
        raise ValueError(f"label_vocabulary must be a list of strings; received {label_vocabulary!r}.")
    vocab = tuple(str(v) for v in label_vocabulary)
    if len(set(vocab)) != len(vocab):
        raise ValueError(f"label_vocabulary={list(vocab)} has duplicates; list each label once.")
    return vocab


@dataclass(frozen=True)
class BinaryClassHead(Head):
    """Two classes, sigmoid cross-entropy on one logit.

    Predictions: ``logits, logistic, probabilities, class_ids, classes, all_class_ids, all_classes``.
    Metrics: ``accuracy, accuracy_baseline, auc, auc_precision_recall, average_loss, label/mean, loss,
    precision, prediction/mean, recall`` and, per threshold ``t`` of ``thresholds`` (TF's), ``accuracy/
    positive_threshold_<t>``, ``precision/...``, ``recall/...`` of ``probability > t``.

    Examples
    --------
    >>> import torch
    >>> head = BinaryClassHead(label_vocabulary=("<=50K", ">50K"))
    >>> head.predictions(torch.tensor([[3.0]]))["classes"].tolist()
    [['>50K']]
    """

    label_vocabulary: tuple[str, ...] | None = None
    #: TF's ``thresholds``: each adds ``accuracy/precision/recall/positive_threshold_<t>`` metrics
    thresholds: tuple[float, ...] = ()

    task: ClassVar[str] = "binary"
    metric_info: ClassVar[HeadMetrics | None] = HEAD_METRICS["binary"]

    def __init__(self, weight_column: WeightColumn | None = None, thresholds: Sequence[float] | None = None,
                 label_vocabulary: Sequence[str] | None = None, loss_reduction: str = "sum_over_batch_size",
                 loss_fn: Any = None, name: str | None = None) -> None:
        _tf_head_extras(type(self).__name__, loss_fn)
        _init_fields(self, weight_column=weight_column, label_vocabulary=label_vocabulary,
                     loss_reduction=loss_reduction, thresholds=_thresholds(thresholds), name=name)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "thresholds", _thresholds(self.thresholds))
        vocab = _vocabulary(self.label_vocabulary)
        if vocab is not None and len(vocab) != 2:
            raise ValueError(
                f"label_vocabulary={list(vocab)} has {len(vocab)} labels but a binary head needs exactly 2; "
                "pass n_classes=len(label_vocabulary) for more classes."
            )
        object.__setattr__(self, "label_vocabulary", vocab)

    @property
    def logits_dimension(self) -> int:
        return 1

    def encode_labels(self, labels: RawLabels) -> torch.Tensor:
        """Labels → float32 ``(N, 1)`` of 0/1.

        Examples
        --------
        >>> BinaryClassHead().encode_labels(np.array([1, 0])).tolist()
        [[1.0], [0.0]]
        """
        ids = _encode_class_labels(labels, 2, self.label_vocabulary)
        return torch.from_numpy(ids.astype(np.float32)).reshape(-1, 1)

    def _element_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(
            logits.reshape(-1, 1), labels.reshape(-1, 1).to(logits.dtype), reduction="none"
        )

    def predictions(self, logits: torch.Tensor) -> dict[str, torch.Tensor | np.ndarray]:
        logits = logits.detach().reshape(-1, 1)
        logistic = torch.sigmoid(logits)
        class_ids = (logits > 0).to(torch.int64)
        names = _class_labels(self.label_vocabulary, 2)
        n = logits.shape[0]
        return {
            "logits": logits,
            "logistic": logistic,
            "probabilities": torch.cat([1 - logistic, logistic], dim=1),
            "class_ids": class_ids,
            "classes": names[class_ids.cpu().numpy()],
            "all_class_ids": torch.arange(2).repeat(n, 1),
            "all_classes": np.tile(names, (n, 1)),
        }

    def coded_predictions(self) -> dict[str, tuple[str, np.ndarray]]:  # noqa: D102 - see Head
        if type(self).predictions is not BinaryClassHead.predictions:
            return {}
        names = _class_labels(self.label_vocabulary, 2)
        return {"classes": ("class_ids", names), "all_classes": ("all_class_ids", names)}

    def _task_metrics(self, logits, labels, w, loss_sum, weight_sum, loss):  # noqa: D102
        probabilities = torch.sigmoid(logits.reshape(-1).double()).numpy()
        result = _metrics.binary_metrics(
            probabilities, labels.reshape(-1).numpy(), w, loss_total=loss_sum, weight_total=weight_sum, loss=loss
        )
        if self.thresholds:  # TF's threshold metrics: those of a one-class multi-label head
            each = _metrics.multilabel_metrics(probabilities.reshape(-1, 1), labels.double().reshape(-1, 1).numpy(),
                                               w, loss_total=loss_sum, weight_total=weight_sum, loss=loss,
                                               thresholds=self.thresholds)
            result.update({k: v for k, v in each.items() if "/positive_threshold_" in k})
        return result


@dataclass(frozen=True)
class MultiClassHead(Head):
    """``n_classes > 2``, softmax cross-entropy.

    Predictions: ``logits, probabilities, class_ids, classes, all_class_ids, all_classes``.
    Metrics: ``accuracy, average_loss, loss`` plus ``recall/class_<k>``.

    Examples
    --------
    >>> MultiClassHead(n_classes=3).logits_dimension
    3
    """

    n_classes: int = 3
    label_vocabulary: tuple[str, ...] | None = None

    task: ClassVar[str] = "multiclass"
    label_dtype: ClassVar[torch.dtype] = torch.int64

    def __init__(self, n_classes: int, weight_column: WeightColumn | None = None,
                 label_vocabulary: Sequence[str] | None = None, loss_reduction: str = "sum_over_batch_size",
                 loss_fn: Any = None, name: str | None = None) -> None:
        _tf_head_extras(type(self).__name__, loss_fn)
        _init_fields(self, n_classes=n_classes, weight_column=weight_column, label_vocabulary=label_vocabulary,
                     loss_reduction=loss_reduction, name=name)
    metric_info: ClassVar[HeadMetrics | None] = HEAD_METRICS["multiclass"]

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.n_classes, (int, np.integer)) or self.n_classes < 3:
            raise ValueError(
                f"n_classes must be an integer >= 3 for a multi-class head; received {self.n_classes!r} "
                "(use BinaryClassHead for 2 classes)."
            )
        vocab = _vocabulary(self.label_vocabulary)
        if vocab is not None and len(vocab) != self.n_classes:
            raise ValueError(
                f"label_vocabulary has {len(vocab)} labels but n_classes={self.n_classes}; "
                f"set n_classes={len(vocab)}."
            )
        object.__setattr__(self, "label_vocabulary", vocab)
        object.__setattr__(self, "n_classes", int(self.n_classes))

    @property
    def logits_dimension(self) -> int:
        return self.n_classes

    @property
    def label_width(self) -> int:  # noqa: D102 - see Head: one class id per example
        return 1

    def encode_labels(self, labels: RawLabels) -> torch.Tensor:
        """Labels → int64 class ids ``(N,)``.

        Examples
        --------
        >>> MultiClassHead(n_classes=3, label_vocabulary=("a", "b", "c")).encode_labels(["c", "a"]).tolist()
        [2, 0]
        """
        return torch.from_numpy(_encode_class_labels(labels, self.n_classes, self.label_vocabulary))

    def _element_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels.reshape(-1).long(), reduction="none").reshape(-1, 1)

    def predictions(self, logits: torch.Tensor) -> dict[str, torch.Tensor | np.ndarray]:
        logits = logits.detach()
        class_ids = logits.argmax(dim=1, keepdim=True)
        names = _class_labels(self.label_vocabulary, self.n_classes)
        n = logits.shape[0]
        return {
            "logits": logits,
            "probabilities": torch.softmax(logits, dim=1),
            "class_ids": class_ids,
            "classes": names[class_ids.cpu().numpy()],
            "all_class_ids": torch.arange(self.n_classes).repeat(n, 1),
            "all_classes": np.tile(names, (n, 1)),
        }

    def coded_predictions(self) -> dict[str, tuple[str, np.ndarray]]:  # noqa: D102 - see Head
        if type(self).predictions is not MultiClassHead.predictions:
            return {}
        names = _class_labels(self.label_vocabulary, self.n_classes)
        return {"classes": ("class_ids", names), "all_classes": ("all_class_ids", names)}

    def _task_metrics(self, logits, labels, w, loss_sum, weight_sum, loss):  # noqa: D102
        probabilities = torch.softmax(logits.double(), dim=1).numpy()
        return _metrics.multiclass_metrics(
            probabilities, labels.reshape(-1).numpy(), w, loss_total=loss_sum, weight_total=weight_sum, loss=loss
        )


@dataclass(frozen=True)
class RegressionHead(Head):
    """Mean squared error on ``label_dimension`` outputs.

    Predictions: ``predictions``. Metrics: ``average_loss, label/mean, loss, mae, prediction/mean, rmse``.

    Examples
    --------
    >>> import torch
    >>> RegressionHead().predictions(torch.tensor([[1.5]]))["predictions"].tolist()
    [[1.5]]
    """

    label_dimension: int = 1

    task: ClassVar[str] = "regression"
    #: the largest label magnitude: its squared error (1e34) summed over a batch stays within float32
    max_abs_label: ClassVar[float] = 1e17
    label_limit_reason: ClassVar[str] = "a larger label's squared error overflows float32 to inf"

    def __init__(self, label_dimension: int = 1, weight_column: WeightColumn | None = None,
                 loss_reduction: str = "sum_over_batch_size", loss_fn: Any = None, inverse_link_fn: Any = None,
                 name: str | None = None) -> None:
        _tf_head_extras(type(self).__name__, loss_fn, inverse_link_fn=inverse_link_fn)
        _init_fields(self, label_dimension=label_dimension, weight_column=weight_column,
                     loss_reduction=loss_reduction, name=name)
    metric_info: ClassVar[HeadMetrics | None] = HEAD_METRICS["regression"]

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.label_dimension, (int, np.integer)) or self.label_dimension < 1:
            raise ValueError(f"label_dimension must be a positive integer; received {self.label_dimension!r}.")

    @property
    def logits_dimension(self) -> int:
        return int(self.label_dimension)

    def encode_labels(self, labels: RawLabels) -> torch.Tensor:
        """Labels → float32 ``(N, label_dimension)``.

        Examples
        --------
        >>> RegressionHead().encode_labels(np.array([1, 2])).tolist()
        [[1.0], [2.0]]
        """
        values = _to_numpy(labels)
        try:
            numeric = values.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"regression labels must be numeric; received dtype {values.dtype} (e.g. {values.reshape(-1)[:3]}); "
                "convert the label column with pd.to_numeric."
            ) from None
        if np.isnan(numeric).any():
            raise ValueError(f"labels contain {int(np.isnan(numeric).sum())} missing value(s); drop or fill those rows.")
        numeric = numeric.reshape(len(numeric), -1)
        self._check_label_range(numeric)
        if numeric.shape[1] != self.label_dimension:
            raise ValueError(
                f"labels have {numeric.shape[1]} column(s) but label_dimension={self.label_dimension}; "
                f"set label_dimension={numeric.shape[1]}."
            )
        return torch.from_numpy(numeric.astype(np.float32))

    def _check_label_range(self, numeric: np.ndarray) -> None:
        """Refuse labels that are infinite or whose loss would overflow float32 (naming the value and row)."""
        limit = self.max_abs_label
        bad = ~(np.abs(numeric) <= limit)
        if bad.any():
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            value = float(numeric[row][bad[row]][0])
            what = "not finite" if not np.isfinite(value) else f"beyond +-{limit:g}"
            raise ValueError(
                f"{int(bad.sum())} regression label(s) are {what} (first: {value!r} at row {row}); "
                f"{type(self).__name__} needs finite labels with |label| <= {limit:g} ({self.label_limit_reason}). "
                "Rescale the label column (divide by a constant, or log-transform it) or drop those rows."
            )

    def _element_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        d = self.logits_dimension
        return (logits.reshape(-1, d) - labels.reshape(-1, d).to(logits.dtype)) ** 2

    def predictions(self, logits: torch.Tensor) -> dict[str, torch.Tensor | np.ndarray]:
        return {"predictions": logits.detach().reshape(-1, self.logits_dimension)}

    def _task_metrics(self, logits, labels, w, loss_sum, weight_sum, loss):  # noqa: D102
        d = self.logits_dimension
        # ``loss_sum`` sums dimensions per example; regression_metrics divides by weight_sum * d.
        return _metrics.regression_metrics(
            logits.double().reshape(-1, d).numpy(), labels.double().reshape(-1, d).numpy(), w,
            loss_total=loss_sum, weight_total=weight_sum, loss=loss,
        )


def _init_fields(head: Head, **values: Any) -> None:
    """Set a frozen head's fields from an explicit (TF-ordered) ``__init__``, then run its checks."""
    for name, value in values.items():
        object.__setattr__(head, name, value)
    head.__post_init__()


def _multi_hot(labels: Any, n_classes: int, vocabulary: tuple[str, ...] | None) -> np.ndarray:
    """Multi-label labels → float32 ``(N, n_classes)`` of 0/1.

    A 2-D numeric array, tensor or frame is a multi-hot matrix; a Python list holds each row's class ids
    (or names, with a vocabulary), as TF's sparse labels.
    """
    values: np.ndarray
    if isinstance(labels, list):
        values = np.empty(len(labels), dtype=object)
        values[:] = [list(np.atleast_1d(np.asarray(row, dtype=object))) for row in labels]
    else:
        values = _to_numpy(labels)
    if values.ndim == 2 and values.dtype.kind in "biuf":
        if values.shape[1] != n_classes:
            raise ValueError(f"multi-hot labels have {values.shape[1]} column(s) but n_classes={n_classes}; "
                             f"set n_classes={values.shape[1]}.")
        numeric = values.astype(np.float64)
        if not np.isin(numeric, (0.0, 1.0)).all():
            raise ValueError("multi-hot labels must be 0 or 1; pass lists of class ids for sparse labels.")
        return numeric.astype(np.float32)
    out = np.zeros((len(values), n_classes), dtype=np.float32)
    index = {name: i for i, name in enumerate(vocabulary)} if vocabulary is not None else None
    for row, entry in enumerate(values):
        for item in np.atleast_1d(np.asarray(entry, dtype=object)):
            if index is not None:
                if str(item) not in index:
                    raise ValueError(f"label {item!r} is not in label_vocabulary={list(index)}."
                                     + did_you_mean(item, index, n=1))
                out[row, index[str(item)]] = 1.0
                continue
            if isinstance(item, str) or not float(item).is_integer() or not 0 <= int(item) < n_classes:
                raise ValueError(f"label {item!r} is not a class id in [0, {n_classes - 1}]; pass "
                                 "label_vocabulary for string labels.")
            out[row, int(item)] = 1.0
    return out


@dataclass(frozen=True, init=False)
class MultiLabelHead(Head):
    """Multi-label classification (TF's ``tf.estimator.MultiLabelHead``): one sigmoid per class.

    The per-example loss is the sigmoid cross-entropy averaged over the classes (as TF). Labels are a
    multi-hot ``(N, n_classes)`` matrix, or per-row lists of class ids (or of names with ``label_vocabulary``).
    Predictions: ``logits, probabilities, all_class_ids, all_classes``. Metrics: ``loss, average_loss,
    auc, auc_precision_recall`` (over all (example, class) pairs, as TF's) and, per threshold ``t`` of
    ``thresholds``, ``accuracy/positive_threshold_<t>``, ``precision/...``, ``recall/...``. Per class ``k`` of
    ``classes_for_class_based_metrics`` (class ids, or names of ``label_vocabulary``), TF's
    ``probability_mean/class<k>``, ``auc/class<k>`` and ``auc_precision_recall/class<k>`` (``.../<class name>``
    with a ``label_vocabulary``). ``loss_fn`` is refused, as by every estlab head.

    Examples
    --------
    >>> import torch
    >>> head = MultiLabelHead(3)
    >>> head.encode_labels([[0, 2], [1]]).tolist()
    [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    >>> round(float(head.loss(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]]))), 4)  # log(2)
    0.6931
    """

    n_classes: int = 2
    thresholds: tuple[float, ...] = ()
    label_vocabulary: tuple[str, ...] | None = None
    #: class ids with their own metrics (names given to ``__init__`` are looked up in ``label_vocabulary``)
    classes_for_class_based_metrics: tuple[int, ...] = ()

    task: ClassVar[str] = "multilabel"
    metric_info: ClassVar[HeadMetrics | None] = HEAD_METRICS["multilabel"]

    def __init__(self, n_classes: int, weight_column: WeightColumn | None = None,
                 thresholds: Sequence[float] | None = None, label_vocabulary: Sequence[str] | None = None,
                 loss_reduction: str = "sum_over_batch_size", loss_fn: Any = None,
                 classes_for_class_based_metrics: Sequence[int | str] | None = None,
                 name: str | None = None) -> None:
        _tf_head_extras(type(self).__name__, loss_fn)
        _init_fields(self, n_classes=n_classes, weight_column=weight_column, thresholds=_thresholds(thresholds),
                     label_vocabulary=label_vocabulary, loss_reduction=loss_reduction,
                     classes_for_class_based_metrics=classes_for_class_based_metrics, name=name)

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, (int, np.integer)) or self.n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2 for a multi-label head; received {self.n_classes!r}.")
        object.__setattr__(self, "thresholds", _thresholds(self.thresholds))
        vocab = _vocabulary(self.label_vocabulary)
        if vocab is not None and len(vocab) != self.n_classes:
            raise ValueError(f"label_vocabulary has {len(vocab)} labels but n_classes={self.n_classes}; "
                             f"set n_classes={len(vocab)}.")
        object.__setattr__(self, "label_vocabulary", vocab)
        object.__setattr__(self, "n_classes", int(self.n_classes))
        object.__setattr__(self, "classes_for_class_based_metrics",
                           _class_ids(self.classes_for_class_based_metrics, self.n_classes, vocab))

    @property
    def logits_dimension(self) -> int:
        return self.n_classes

    def class_metric_keys(self) -> list[tuple[int, str, str, str]]:
        """``(class id, probability_mean key, auc key, auc_precision_recall key)`` per class of
        ``classes_for_class_based_metrics``, as TF names them (before a head name's suffix).

        Examples
        --------
        >>> MultiLabelHead(3, classes_for_class_based_metrics=[2]).class_metric_keys()
        [(2, 'probability_mean/class2', 'auc/class2', 'auc_precision_recall/class2')]
        >>> MultiLabelHead(2, label_vocabulary=["a", "b"], classes_for_class_based_metrics=["b"]).class_metric_keys()
        [(1, 'probability_mean/b', 'auc/b', 'auc_precision_recall/b')]
        """
        vocab = self.label_vocabulary
        out = []
        for k in self.classes_for_class_based_metrics:
            tag = f"class{k}" if vocab is None else vocab[k]
            out.append((k, f"probability_mean/{tag}", f"auc/{tag}", f"auc_precision_recall/{tag}"))
        return out

    def encode_labels(self, labels: RawLabels) -> torch.Tensor:
        """Labels → float32 multi-hot ``(N, n_classes)``.

        Examples
        --------
        >>> MultiLabelHead(2, label_vocabulary=("a", "b")).encode_labels([["b"], ["a", "b"]]).tolist()
        [[0.0, 1.0], [1.0, 1.0]]
        """
        return torch.from_numpy(_multi_hot(labels, self.n_classes, self.label_vocabulary))

    def _element_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        d = self.n_classes
        per_class = F.binary_cross_entropy_with_logits(
            logits.reshape(-1, d), labels.reshape(-1, d).to(logits.dtype), reduction="none")
        return per_class.mean(dim=1, keepdim=True)

    def predictions(self, logits: torch.Tensor) -> dict[str, torch.Tensor | np.ndarray]:
        logits = logits.detach().reshape(-1, self.n_classes)
        n = logits.shape[0]
        return {
            "logits": logits,
            "probabilities": torch.sigmoid(logits),
            "all_class_ids": torch.arange(self.n_classes).repeat(n, 1),
            "all_classes": np.tile(_class_labels(self.label_vocabulary, self.n_classes), (n, 1)),
        }

    def coded_predictions(self) -> dict[str, tuple[str, np.ndarray]]:  # noqa: D102 - see Head
        if type(self).predictions is not MultiLabelHead.predictions:
            return {}
        return {"all_classes": ("all_class_ids", _class_labels(self.label_vocabulary, self.n_classes))}

    def _task_metrics(self, logits, labels, w, loss_sum, weight_sum, loss):  # noqa: D102
        probabilities = torch.sigmoid(logits.double()).reshape(-1, self.n_classes).numpy()
        return _metrics.multilabel_metrics(
            probabilities, labels.double().reshape(-1, self.n_classes).numpy(), w, loss_total=loss_sum,
            weight_total=weight_sum, loss=loss, thresholds=self.thresholds,
        ) | self._class_metrics(probabilities, labels.double().reshape(-1, self.n_classes).numpy(), w)

    def _class_metrics(self, probabilities: np.ndarray, labels: np.ndarray, w: np.ndarray) -> dict[str, float]:
        """TF's per-class metrics: the weighted mean probability, ROC and PR AUC of each chosen class."""
        result: dict[str, float] = {}
        weight_total = float(w.sum())
        for k, mean_key, auc_key, pr_key in self.class_metric_keys():
            p, y = probabilities[:, k], labels[:, k]
            result[mean_key] = float((p * w).sum() / weight_total) if weight_total > 0 else float("nan")
            both = np.unique(y[w > 0]).size == 2
            result[auc_key] = _metrics.roc_auc_score(y, p, w) if both else float("nan")
            result[pr_key] = _metrics.average_precision_score(y, p, w) if both else float("nan")
        return result


@dataclass(frozen=True, init=False)
class PoissonRegressionHead(RegressionHead):
    """Poisson regression (TF's ``tf.estimator.PoissonRegressionHead``): logits are ``log(rate)``.

    Loss: TF's ``log_poisson_loss`` ``exp(z) - y * z``, plus Stirling's term ``y log y - y + log(2 pi y) / 2``
    for ``y > 1`` when ``compute_full_loss`` (torch's ``poisson_nll_loss(full=True)``, the same formula).
    Predictions: ``predictions = exp(logits)`` and ``logits``. Metrics: ``average_loss, label/mean, loss,
    prediction/mean`` and, beyond TF, ``mae, rmse`` of the predicted rate.

    Examples
    --------
    >>> import torch
    >>> head = PoissonRegressionHead(compute_full_loss=False)
    >>> round(float(head.loss(torch.tensor([[0.0]]), torch.tensor([[2.0]]))), 4)  # exp(0) - 2 * 0
    1.0
    >>> head.predictions(torch.tensor([[0.0]]))["predictions"].tolist()
    [[1.0]]
    """

    compute_full_loss: bool = True

    task: ClassVar[str] = "poisson_regression"
    #: ``y * log(y)`` of a larger count approaches float32's range
    max_abs_label: ClassVar[float] = 1e35
    label_limit_reason: ClassVar[str] = "a larger count's log-likelihood overflows float32"
    metric_info: ClassVar[HeadMetrics | None] = HEAD_METRICS["poisson_regression"]

    def __init__(self, label_dimension: int = 1, weight_column: WeightColumn | None = None,
                 loss_reduction: str = "sum_over_batch_size", compute_full_loss: bool = True,
                 name: str | None = None) -> None:
        _init_fields(self, label_dimension=label_dimension, weight_column=weight_column,
                     loss_reduction=loss_reduction, compute_full_loss=bool(compute_full_loss), name=name)

    def encode_labels(self, labels: RawLabels) -> torch.Tensor:
        """Non-negative counts → float32 ``(N, label_dimension)``.

        Examples
        --------
        >>> PoissonRegressionHead().encode_labels([0, 3]).tolist()
        [[0.0], [3.0]]
        """
        encoded = super().encode_labels(labels)
        if bool((encoded < 0).any()):
            raise ValueError("Poisson labels are counts and must be >= 0; received "
                             f"{float(encoded.min())}. Drop or fix those rows.")
        return encoded

    def _element_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        d = self.logits_dimension
        return F.poisson_nll_loss(logits.reshape(-1, d), labels.reshape(-1, d).to(logits.dtype), log_input=True,
                                  full=self.compute_full_loss, reduction="none")

    def predictions(self, logits: torch.Tensor) -> dict[str, torch.Tensor | np.ndarray]:
        logits = logits.detach().reshape(-1, self.logits_dimension)
        return {"predictions": torch.exp(logits), "logits": logits}

    def _task_metrics(self, logits, labels, w, loss_sum, weight_sum, loss):  # noqa: D102
        d = self.logits_dimension
        return _metrics.link_regression_metrics(
            torch.exp(logits.double()).reshape(-1, d).numpy(), labels.double().reshape(-1, d).numpy(), w,
            loss_total=loss_sum, weight_total=weight_sum, loss=loss,
        )


@dataclass(frozen=True, init=False)
class LogisticRegressionHead(RegressionHead):
    """Regression of a value in ``[0, 1]`` through a sigmoid (TF's ``tf.estimator.LogisticRegressionHead``).

    Loss: sigmoid cross-entropy of the logit against the label (labels must lie in ``[0, 1]``).
    Predictions: ``predictions = sigmoid(logits)`` and ``logits``. Metrics: ``average_loss, label/mean, loss,
    prediction/mean`` and, beyond TF, ``mae, rmse`` of the predicted value.

    Examples
    --------
    >>> import torch
    >>> head = LogisticRegressionHead()
    >>> round(float(head.loss(torch.tensor([[0.0]]), torch.tensor([[0.3]]))), 4)  # log(2)
    0.6931
    """

    task: ClassVar[str] = "logistic_regression"
    metric_info: ClassVar[HeadMetrics | None] = HEAD_METRICS["logistic_regression"]

    def __init__(self, weight_column: WeightColumn | None = None, loss_reduction: str = "sum_over_batch_size",
                 name: str | None = None) -> None:
        _init_fields(self, label_dimension=1, weight_column=weight_column, loss_reduction=loss_reduction,
                     name=name)

    def encode_labels(self, labels: RawLabels) -> torch.Tensor:
        """Labels in ``[0, 1]`` → float32 ``(N, 1)``.

        Examples
        --------
        >>> LogisticRegressionHead().encode_labels([0.25, 1]).tolist()
        [[0.25], [1.0]]
        """
        encoded = super().encode_labels(labels)
        if bool(((encoded < 0) | (encoded > 1)).any()):
            raise ValueError("LogisticRegressionHead labels must lie in [0, 1]; received values from "
                             f"{float(encoded.min())} to {float(encoded.max())}.")
        return encoded

    def _element_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.reshape(-1, 1), labels.reshape(-1, 1).to(logits.dtype),
                                                  reduction="none")

    def predictions(self, logits: torch.Tensor) -> dict[str, torch.Tensor | np.ndarray]:
        logits = logits.detach().reshape(-1, 1)
        return {"predictions": torch.sigmoid(logits), "logits": logits}

    def _task_metrics(self, logits, labels, w, loss_sum, weight_sum, loss):  # noqa: D102
        return _metrics.link_regression_metrics(
            torch.sigmoid(logits.double()).reshape(-1, 1).numpy(), labels.double().reshape(-1, 1).numpy(), w,
            loss_total=loss_sum, weight_total=weight_sum, loss=loss,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON description (no ``label_dimension``: always 1)."""
        d = super().to_dict()
        d.pop("label_dimension", None)
        return d


_HEADS: dict[str, type[Head]] = {
    "BinaryClassHead": BinaryClassHead,
    "MultiClassHead": MultiClassHead,
    "RegressionHead": RegressionHead,
    "MultiLabelHead": MultiLabelHead,
    "PoissonRegressionHead": PoissonRegressionHead,
    "LogisticRegressionHead": LogisticRegressionHead,
}


def label_name(labels: Any, key: Any = None) -> str | None:
    """How errors name the labels: ``"label column 'y'"`` / ``"label columns ['a', 'b']"``, or None if unnamed.

    A Series' name, a frame's columns or a dict's keys come first; ``key`` (the ``label=`` given to
    ``train``/``evaluate``) names plain arrays.

    Examples
    --------
    >>> label_name(pd.Series([1.0], name="price")), label_name(np.zeros(2), ["a", "b"]), label_name([1])
    ("label column 'price'", "label columns ['a', 'b']", None)
    """
    if isinstance(labels, pd.Series) and isinstance(labels.name, str):
        key = labels.name
    elif isinstance(labels, pd.DataFrame):
        key = [str(c) for c in labels.columns]
    elif isinstance(labels, dict):
        key = [str(k) for k in labels]
    if isinstance(key, str):
        return f"label column {key!r}"
    if isinstance(key, (list, tuple)) and key and all(isinstance(k, str) for k in key):
        return f"label column {key[0]!r}" if len(key) == 1 else f"label columns {list(key)}"
    return None


def encode_named_labels(head: Any, labels: Any, key: Any = None) -> torch.Tensor:
    """``head.encode_labels(labels)``, whose ``ValueError`` names the label column(s) (see :func:`label_name`).

    Examples
    --------
    >>> encode_named_labels(RegressionHead(), pd.Series([1.0, float("inf")], name="price"))
    Traceback (most recent call last):
    ...
    ValueError: label column 'price': 1 regression label(s) are not finite (first: inf at row 1); RegressionHead needs finite labels with |label| <= 1e+17 (a larger label's squared error overflows float32 to inf). Rescale the label column (divide by a constant, or log-transform it) or drop those rows.
    """
    try:
        return head.encode_labels(labels)
    except ValueError as error:
        name = label_name(labels, key)
        if name is None or str(error).startswith(name):
            raise
        raise ValueError(f"{name}: {error}") from None


def make_head(
    n_classes: int | None = 2,
    label_vocabulary: Sequence[str] | None = None,
    weight_column: WeightColumn | None = None,
    loss_reduction: str = "sum_over_batch_size",
    label_dimension: int = 1,
) -> Head:
    """The head for a premade estimator: binary (``n_classes=2``), multi-class (``> 2``) or regression (``None``).

    Examples
    --------
    >>> type(make_head(3)).__name__, type(make_head(None)).__name__
    ('MultiClassHead', 'RegressionHead')
    """
    if n_classes is None:
        return RegressionHead(
            weight_column=weight_column, loss_reduction=loss_reduction, label_dimension=label_dimension
        )
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(
            f"n_classes must be an integer >= 2; received {n_classes!r}. Use a Regressor for continuous labels."
        )
    vocabulary = _vocabulary(label_vocabulary)
    if n_classes == 2:
        return BinaryClassHead(
            weight_column=weight_column, loss_reduction=loss_reduction, label_vocabulary=vocabulary
        )
    return MultiClassHead(
        weight_column=weight_column, loss_reduction=loss_reduction, n_classes=int(n_classes),
        label_vocabulary=vocabulary,
    )


def head_from_dict(d: dict[str, Any]) -> Head:
    """Rebuild a head from :meth:`Head.to_dict` output.

    Examples
    --------
    >>> head_from_dict({"type": "RegressionHead", "label_dimension": 2}).logits_dimension
    2
    """
    d = dict(d)
    kind = d.pop("type", None)
    if kind == "MultiHead":
        from estlab.estimators.multi_head import MultiHead

        return MultiHead.from_dict(d)
    if kind not in _HEADS:
        raise ValueError(f"head type {kind!r} is unknown; expected one of {sorted(_HEADS)}.")
    if d.get("label_vocabulary") is not None:
        d["label_vocabulary"] = tuple(d["label_vocabulary"])
    return _HEADS[kind](**d)
