"""``model_to_estimator``: an existing ``nn.Module`` as an Estimator (``tf.keras.estimator.model_to_estimator``).

Examples
--------
>>> import torch
>>> est = model_to_estimator(torch.nn.Linear(4, 3), n_classes=3, input_names=["x"])
>>> est.params["module"]
'Linear'
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from estlab.estimators.custom import ModelSpec, forward_input_names
from estlab.estimators.estimator import Estimator


def model_to_estimator(
    module: torch.nn.Module,
    head: Any = None,
    *,
    n_classes: int | None = None,
    label_vocabulary: Sequence[str] | None = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    metric_fns: Mapping[str, Callable] | None = None,
    feature_columns: Sequence[Any] | None = None,
    input_names: Sequence[str] | None = None,
    optimizer: Any = "Adam",
    learning_rate: float | None = None,
    model_dir: str | None = None,
    config: Any = None,
    warm_start_from: str | None = None,
) -> Any:
    """Turn an existing ``nn.Module`` into an Estimator (``tf.keras.estimator.model_to_estimator``).

    The module is copied (the given one is never trained). Without ``feature_columns`` it takes raw
    tensors named after its ``forward`` arguments, fed e.g. by
    ``numpy_input_fn(x={"input_1": images}, y=labels)``.

    Parameters
    ----------
    module : nn.Module
        The model; returns logits.
    head : Head, optional
        Loss/metrics/predictions. Default: ``make_head(n_classes, label_vocabulary)`` when ``loss_fn`` is None
        (``n_classes=None`` means regression).
    n_classes, label_vocabulary
        For the default head.
    loss_fn, metric_fns
        A custom loss instead of a head (see ``ModelSpec``).
    feature_columns : sequence, optional
        Read features through columns; the module then gets the encoded dict.
    input_names : sequence of str, optional
        Override the names taken from ``forward``'s signature.
    optimizer, learning_rate
        Optimizer name or factory, and its learning rate.
    model_dir, config, warm_start_from
        As for ``Estimator``.

    Examples
    --------
    >>> class Net(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.linear = torch.nn.Linear(4, 3)
    ...     def forward(self, input_1):
    ...         return self.linear(input_1)
    >>> est = model_to_estimator(Net(), n_classes=3)
    >>> est.params["module"]
    'Net'
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"model_to_estimator: module must be a torch.nn.Module, got {type(module).__name__}")
    if head is None and loss_fn is None:
        from estlab.estimators.heads import make_head

        head = make_head(n_classes, list(label_vocabulary) if label_vocabulary is not None else None)
    names = None if feature_columns else tuple(input_names or forward_input_names(module))
    template = copy.deepcopy(module)

    def model_fn(params: dict[str, Any]) -> ModelSpec:
        return ModelSpec(module=copy.deepcopy(template), head=head, loss_fn=loss_fn,
                         metric_fns=dict(metric_fns or {}), feature_columns=tuple(feature_columns or ()),
                         input_names=names, optimizer=optimizer, learning_rate=learning_rate)

    estimator = Estimator(model_fn=model_fn, model_dir=model_dir, config=config,
                          params={"module": type(module).__name__, "optimizer": str(optimizer),
                                  "learning_rate": learning_rate},
                          warm_start_from=warm_start_from)
    return estimator
