"""``Estimator.export_saved_model``: an estimator's fitted features, model and head → an export.

The signature comes from the feature columns (one raw input per key the columns read, with the
column's dtype) unless a ``serving_input_receiver_fn`` declares the inputs. The estimator is only
read (its module is copied to CPU), never modified.

Examples
--------
>>> path = estimator.export_saved_model("model_dir/export")  # doctest: +SKIP
>>> from estlab import export
>>> export.load(path).predict(test_frame.head(2))  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from estlab.export.functions import check_column_functions
from estlab.export.heads import HeadSpec
from estlab.export.layout import TRANSFORMER_FILE
from estlab.export.spec import ServingInputReceiver, TensorSpec
from estlab.export.writer import write_export

PREDICT_MODE = "infer"
_EXAMPLE_ROWS = 3


def export_saved_model(
    estimator: Any,
    export_dir_base: str | os.PathLike,
    serving_input_receiver_fn: Callable[[], ServingInputReceiver] | None = None,
    assets_extra: Mapping[str, str] | None = None,
    as_text: bool = False,
    checkpoint_path: str | None = None,
    experimental_mode: str = PREDICT_MODE,
    *,
    onnx: bool | None = None,
    metrics: Mapping[str, float] | None = None,
) -> str:
    """Export ``estimator`` for serving into ``<export_dir_base>/<timestamp>``; returns that path.

    Parameters
    ----------
    estimator : Estimator
        A trained estlab estimator.
    export_dir_base : path
        Parent of the timestamped export directories (e.g. ``model_dir/export/best``).
    serving_input_receiver_fn : callable, optional
        Returns a :class:`ServingInputReceiver` declaring the raw inputs (see
        :func:`build_raw_serving_input_receiver_fn`). Default: derived from the feature columns.
    assets_extra : mapping, optional
        ``{"name/in/export": "/source/path"}``: files copied into ``assets.extra/``, as in TF.
    as_text : bool
        Accepted for TF compatibility (every description in an export is JSON text already).
    checkpoint_path : str, optional
        Export this checkpoint instead of the newest.
    experimental_mode : str
        Only ``"infer"`` (predict) is supported.
    onnx : bool, optional
        Also write ``model.onnx``: None (default) when the ``onnx`` extra is installed, True always (a failure
        is warned about); its absence is recorded in ``export.json`` with the reason.
    metrics : mapping, optional
        Metrics to record in the metadata; default: the estimator's latest evaluation.

    Returns
    -------
    str
        The new export directory.

    Examples
    --------
    >>> est.export_saved_model("exports")  # doctest: +SKIP
    'exports/1700000000'
    """
    del as_text
    if experimental_mode != PREDICT_MODE:
        raise ValueError(
            f"experimental_mode={experimental_mode!r}: only the predict mode ({PREDICT_MODE!r}) "
            "can be exported"
        )
    run = _serving_model(estimator, checkpoint_path)
    transformer = run.transformer
    head_spec, predictions_fn = _head(run.head)
    receiver = serving_input_receiver_fn() if serving_input_receiver_fn is not None else None
    if receiver is not None and not isinstance(receiver, ServingInputReceiver):
        raise TypeError(
            f"serving_input_receiver_fn must return a ServingInputReceiver, got {type(receiver).__name__}; "
            "use estlab.export.build_raw_serving_input_receiver_fn({'feature': 'float32', ...})"
        )
    row_tensors = None
    if receiver is not None:
        inputs, defaults = tuple(receiver.inputs), dict(receiver.defaults)
        _check_receiver(inputs, defaults, transformer)
    elif transformer is not None:
        inputs, defaults = derive_inputs(transformer), {}
    elif (row_tensors := _row_only_tensors(run)) is not None:
        inputs, defaults = (), {}
    else:
        raise ValueError(
            f"{type(estimator).__name__} reads raw tensors {run.input_names} (no feature columns), "
            "so the serving "
            "signature cannot be derived; pass serving_input_receiver_fn=estlab.export."
            "build_raw_serving_input_receiver_fn({'name': 'float32', ...}) declaring each input"
        )
    if transformer is not None:
        check_column_functions(transformer)  # a normalizer_fn torch.export can't capture fails here, named
    module = copy.deepcopy(run.module).cpu().eval()
    example = row_tensors if row_tensors is not None else _example_features(inputs, defaults, transformer)
    takes_mode = run.takes_mode
    if head_spec.kind == "custom" and predictions_fn is not None:
        head_spec = _custom_outputs(module, example, predictions_fn, run.input_names, takes_mode)
    transformer_dict = transformer.to_dict() if transformer is not None else None
    path = write_export(
        export_dir_base,
        module=module,
        head=head_spec,
        inputs=inputs,
        example_features=example,
        transformer=transformer_dict,
        defaults=defaults,
        metadata=_metadata(estimator, run, transformer_dict, metrics),
        onnx=onnx,
        predictions_fn=predictions_fn,
        input_names=run.input_names,
        mode=PREDICT_MODE if takes_mode else None,
        assets_extra=assets_extra,
        row_tensors=row_tensors,
    )
    return str(path)


def _serving_model(estimator: Any, checkpoint_path: str | None) -> Any:
    """The estimator's trained module, transformer and head (``Estimator.serving_model``)."""
    if not callable(getattr(estimator, "serving_model", None)):
        raise TypeError(
            f"export_saved_model: expected an estlab Estimator, got {type(estimator).__name__}; "
            "use estlab.export.write_export for a bare nn.Module"
        )
    return estimator.serving_model(checkpoint_path)


def _row_only_tensors(run: Any) -> dict[str, torch.Tensor] | None:
    """The raw tensors of a model that reads no feature, only the row count (a baseline), else None."""
    if run.input_names is not None:
        return None
    try:
        probe = run.raw_tensors(pd.DataFrame(index=range(_EXAMPLE_ROWS)))
    except (ValueError, KeyError, TypeError, StopIteration):
        return None
    if probe and all(t.shape[0] == _EXAMPLE_ROWS and t.numel() == 0 for t in probe.values()):
        return dict(probe)
    return None


def _head(head: Any) -> tuple[HeadSpec, Callable | None]:
    data = head.to_dict() if hasattr(head, "to_dict") else {}
    if data.get("type") in ("BinaryClassHead", "MultiClassHead", "RegressionHead", "MultiHead"):
        return HeadSpec.from_head_dict(data), None
    # a custom head, or one without a TF-Serving output layout of its own (multi-label, Poisson, logistic
    # regression): its numeric predictions are traced into the program and served under their own keys
    return HeadSpec("custom"), head.predictions


def derive_inputs(transformer: Any) -> tuple[TensorSpec, ...]:
    """The raw inputs of a fitted ``FeatureTransformer``: its :meth:`raw_input_specs` as TensorSpecs.

    Each column kind declares its inputs: numeric columns ``float32`` (``(-1,)`` or ``(-1, *shape)``);
    vocabulary, hashed and identity columns their dtype (``string`` / ``int64``); a learned vocabulary
    the type of the values it learned; weight keys ``float32``; keys read only by crosses ``string``.

    Examples
    --------
    >>> from estlab.features import FeatureTransformer, numeric_column
    >>> derive_inputs(FeatureTransformer([numeric_column("age")]))
    (TensorSpec(name='age', dtype='float32', shape=(-1,)),)
    """
    return tuple(TensorSpec(s.name, s.dtype, s.shape) for s in transformer.raw_input_specs().values())


def _check_receiver(inputs: tuple[TensorSpec, ...], defaults: Mapping[str, Any], transformer: Any) -> None:
    if transformer is None:
        return
    names = {spec.name for spec in inputs} | set(defaults)
    missing = [key for key in transformer.required_keys if key not in names]
    if missing:
        raise ValueError(
            f"serving_input_receiver_fn: the receiver lacks input(s) {missing} that the feature "
            "columns read; "
            "add them to the receiver (or give defaults for them)"
        )


def _example_features(
    inputs: tuple[TensorSpec, ...], defaults: Mapping[str, Any], transformer: Any
) -> dict[str, torch.Tensor]:
    """A few synthetic rows, encoded like real ones (the program's shapes and dtypes)."""
    columns: dict[str, Any] = {}
    for spec in inputs:
        if spec.dtype == "string":
            columns[spec.name] = np.asarray(["a", "b", "c"][:_EXAMPLE_ROWS], dtype=object)
        elif len(spec.shape) > 1:
            columns[spec.name] = np.zeros((_EXAMPLE_ROWS, *spec.shape[1:]))
        elif spec.dtype.startswith("int"):
            columns[spec.name] = np.asarray([0, 1, 0][:_EXAMPLE_ROWS], dtype=np.int64)
        else:
            columns[spec.name] = np.asarray([0.0, 1.0, 2.0][:_EXAMPLE_ROWS])
    for name, value in defaults.items():
        columns.setdefault(name, np.asarray([value] * _EXAMPLE_ROWS, dtype=object))
    if transformer is not None:
        frame = pd.DataFrame({k: list(v) if np.ndim(v) > 1 else v for k, v in columns.items()})
        return transformer.transform(frame)
    dtypes = {spec.name: spec.dtype for spec in inputs}
    return {
        name: torch.as_tensor(np.asarray(values)).to(
            torch.int64 if dtypes.get(name, "").startswith("int") else torch.float32
        )
        for name, values in columns.items()
    }


def _custom_outputs(
    module: torch.nn.Module,
    example: Mapping[str, torch.Tensor],
    predictions_fn: Callable,
    input_names: list[str] | None,
    takes_mode: bool,
) -> HeadSpec:
    from estlab.export.program import PredictionProgram

    program = PredictionProgram(
        module, HeadSpec("custom"), predictions_fn, input_names, PREDICT_MODE if takes_mode else None
    )
    with torch.no_grad():
        outputs = program(dict(example))
    specs = []
    for name, value in outputs.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"export: the custom predictions_fn returned {type(value).__name__} for {name!r}; "
                "an export needs "
                "tensors only (compute strings from the ids after loading)"
            )
        dtype = "int64" if not value.is_floating_point() else "float32"
        specs.append(TensorSpec(name, dtype, (-1, *value.shape[1:])))
    # a model_fn with TF's export_outputs (PredictOutput, ClassificationOutput...) left its signatures here
    layout = getattr(module, "export_signatures", None) or {}
    signature_layout = tuple((name, method, tuple(pairs)) for name, (method, pairs) in layout.items())
    return HeadSpec("custom", outputs=tuple(specs), signature_layout=signature_layout)


def _metadata(estimator: Any, run: Any, transformer_dict: Mapping | None, metrics: Mapping | None) -> dict:
    history = getattr(estimator, "history", None)
    evaluation: dict[str, Any] = {}
    if metrics is None and history is not None and getattr(history, "evaluations", None):
        evaluation = max(history.evaluations, key=lambda row: row["global_step"])
        metrics = evaluation["metrics"]
    return {
        "estimator": type(estimator).__name__,
        "estimator_params": run.params,
        "global_step": int(run.global_step),
        "label": run.label if isinstance(run.label, (str, type(None))) else str(run.label),
        # the columns live once, in the transformer's file; the metadata points there
        "feature_columns": {"$ref": f"{TRANSFORMER_FILE}#/columns"} if transformer_dict else [],
        "metrics": dict(metrics or {}),
        "metrics_global_step": evaluation.get("global_step"),
    }
