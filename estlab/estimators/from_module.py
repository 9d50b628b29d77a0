"""``model_to_estimator``: an existing ``nn.Module`` as an Estimator (``tf.keras.estimator.model_to_estimator``).

The module's raw inputs are named after its ``forward`` arguments, as TF names them after the Keras input
layers. A module with one input (``nn.Sequential``, whose argument is ``input``) fed one feature takes that
feature whatever its key: a bare array or a ``DataLoader`` of ``TensorDataset(x, y)`` (feature ``"x"``), as TF
feeds a single-input Keras model a plain tensor.

Examples
--------
>>> import torch
>>> est = model_to_estimator(torch.nn.Linear(4, 3), n_classes=3, input_names=["x"])
>>> est.params["module"]
'Linear'
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from estlab.estimators.custom import ModelSpec, forward_input_names
from estlab.estimators.estimator import Estimator
from estlab.estimators.optimizers import resolve_optimizer
from estlab.estimators.weights import weight_key


class ModuleEstimator(Estimator):
    """The Estimator :func:`model_to_estimator` returns: a single-input module takes the one feature it is fed.

    With ``input_names`` taken from ``forward`` and exactly one of them, features holding that name feed it;
    features holding one other key (besides the head's weight column) feed it too, whatever the key: a bare
    array or a ``TensorDataset`` arrives as feature ``"x"``. Anything else raises naming the input.

    Examples
    --------
    >>> est = model_to_estimator(torch.nn.Sequential(torch.nn.Linear(4, 1)))
    >>> type(est).__name__, est.params["module"]
    ('ModuleEstimator', 'Sequential')
    """

    def __init__(
        self, *args: Any, inputs: Sequence[str] | None = None, map_single: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._inputs = None if inputs is None else tuple(inputs)
        self._single_input = (
            self._inputs[0] if map_single and self._inputs and len(self._inputs) == 1 else None
        )

    def _raw_tensors(self, state: Any, features: Any) -> dict[str, torch.Tensor]:
        """The module's raw input tensors (``ModelState.raw_inputs``): the one fed feature under its input name."""
        plain = dataclasses.replace(state, raw_inputs=None)
        if self._single_input is None:
            return plain.raw_tensors(features)
        return plain.raw_tensors(
            _single_feature(features, self._single_input, weight_key(state.weight_column))
        )

    def export_saved_model(self, export_dir_base: str, *args: Any, **kwargs: Any) -> str:
        """Export for serving (``Estimator.export_saved_model``); a receiver must declare the module's inputs
        by their names (TF's rule for a Keras model: its input layers' names)."""
        receiver_fn = args[0] if args else kwargs.get("serving_input_receiver_fn")
        if self._inputs is not None and callable(receiver_fn):
            receiver = receiver_fn()
            declared = [spec.name for spec in getattr(receiver, "inputs", ())]
            missing = [name for name in self._inputs if name not in declared]
            if declared and missing:
                example = ", ".join(f"{name!r}: np.zeros((1, width), 'float32')" for name in self._inputs)
                raise ValueError(
                    f"export_saved_model: the module reads input(s) {list(self._inputs)} (its forward arguments, "
                    f"as TF names a Keras model's inputs after its input layers), but serving_input_receiver_fn "
                    f"declares {declared}; declare estlab.estimator.export.build_raw_serving_input_receiver_fn("
                    f"{{{example}}}) (one row of each input)."
                )
        return super().export_saved_model(export_dir_base, *args, **kwargs)


def _single_feature(features: Any, name: str, weight: str | None) -> Any:
    """``features`` when they hold ``name``, else ``{name: the one other feature}``, else ``features`` unchanged
    (the caller's check then names what is missing)."""
    keys = list(features.columns if isinstance(features, pd.DataFrame) else features)
    if name in keys:
        return features
    fed = [k for k in keys if k != weight]
    return {name: features[fed[0]]} if len(fed) == 1 else features


def _output_width(module: torch.nn.Module) -> int | None:
    """The logits width of an ``nn.Sequential`` starting with ``nn.Linear`` (two zero rows through a copy in
    eval mode), else None: other modules' input shapes are not known before data arrives."""
    if (
        not isinstance(module, torch.nn.Sequential)
        or not len(module)
        or not isinstance(module[0], torch.nn.Linear)
    ):
        return None
    probe = copy.deepcopy(module).eval()
    weight = module[0].weight
    try:
        with torch.no_grad():
            out = probe(torch.zeros(2, module[0].in_features, dtype=weight.dtype, device=weight.device))
    except Exception:  # noqa: BLE001 - a module the probe cannot run is checked when it trains instead
        return None
    if not isinstance(out, torch.Tensor) or out.dim() not in (1, 2):
        return None
    return 1 if out.dim() == 1 else int(out.shape[1])


def _check_output_width(module: torch.nn.Module, head: Any, n_classes: int | None) -> None:
    """Raise naming the widths when a probed module's logits do not fit the head (Keras' ``Dense(2)`` with
    sparse categorical cross-entropy given ``n_classes=2``); ``n_classes`` is None unless the head is the default."""
    expected = getattr(head, "logits_dimension", None)
    width = _output_width(module) if isinstance(expected, int) else None
    if width is None or width == expected:
        return
    if n_classes == 2 and width == 2:
        raise ValueError(
            "model_to_estimator: n_classes=2 reads one logit per example (TF's BinaryClassHead: sigmoid "
            f"cross-entropy), but {type(module).__name__} returns {width} (Keras' Dense(2) with sparse "
            "categorical cross-entropy); end the module with nn.Linear(..., 1) instead."
        )
    what = f"n_classes={n_classes}" if n_classes is not None else type(head).__name__
    raise ValueError(
        f"model_to_estimator: {what} reads {expected} logit(s) per example, but {type(module).__name__} returns "
        f"{width}; make its last layer nn.Linear(..., {expected})."
    )


def model_to_estimator(
    module: torch.nn.Module | None = None,
    head: Any = None,
    *,
    keras_model: torch.nn.Module | None = None,
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
) -> ModuleEstimator:
    """Turn an existing ``nn.Module`` into an Estimator (``tf.keras.estimator.model_to_estimator``).

    The module is copied (the given one is never trained). Without ``feature_columns`` it takes raw
    tensors named after its ``forward`` arguments, fed e.g. by
    ``numpy_input_fn(x={"input_1": images}, y=labels)``; a module with one argument also takes the one
    feature it is fed (a bare array, a ``TensorDataset``: feature ``"x"``). An export names its input after
    the argument (``input`` for ``nn.Sequential``), as TF names it after the Keras input layer.

    Parameters
    ----------
    module : nn.Module
        The model; returns logits (for an ``nn.Sequential`` starting with ``nn.Linear`` their width is checked
        against the head now).
    keras_model : nn.Module, optional
        TF's name for ``module`` (``model_to_estimator(keras_model=model)``); give one of the two.
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
    if keras_model is not None:
        if module is not None:
            raise TypeError(
                "model_to_estimator: module and keras_model were both given; pass the model once "
                "(keras_model= is TF's name for module=)"
            )
        module = keras_model
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"model_to_estimator: module (TF's keras_model) must be a torch.nn.Module, got "
            f"{type(module).__name__}"
        )
    default_head = head is None and loss_fn is None
    if default_head:
        from estlab.estimators.heads import make_head

        head = make_head(n_classes, list(label_vocabulary) if label_vocabulary is not None else None)
    if loss_fn is None:
        _check_output_width(module, head, n_classes if default_head else None)
    names = None if feature_columns else tuple(input_names or forward_input_names(module))
    resolve_optimizer(optimizer, learning_rate)  # checked now, as the premade estimators check theirs
    template = copy.deepcopy(module)

    def model_fn(params: dict[str, Any]) -> ModelSpec:
        return ModelSpec(
            module=copy.deepcopy(template),
            head=head,
            loss_fn=loss_fn,
            metric_fns=dict(metric_fns or {}),
            feature_columns=tuple(feature_columns or ()),
            input_names=names,
            optimizer=optimizer,
            learning_rate=learning_rate,
        )

    return ModuleEstimator(
        model_fn=model_fn,
        model_dir=model_dir,
        config=config,
        params={"module": type(module).__name__, "optimizer": str(optimizer), "learning_rate": learning_rate},
        warm_start_from=warm_start_from,
        inputs=names,
        map_single=input_names is None,
    )
