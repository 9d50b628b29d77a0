"""TF's export outputs: what a custom ``model_fn`` serves, one signature per ``export_outputs`` entry.

``EstimatorSpec(mode, predictions=..., export_outputs={"serving_default": ClassificationOutput(scores=p)})``
names the signatures of an export and what each returns, with TF's output names:

* :class:`PredictOutput` (``tensorflow/serving/predict``): its dict's keys (a single tensor: ``"output"``);
* :class:`ClassificationOutput` (``tensorflow/serving/classify``): ``"classes"`` and ``"scores"``;
* :class:`RegressionOutput` (``tensorflow/serving/regress``): ``"outputs"``.

As in TF, a single entry is also the ``serving_default`` signature, and several entries must include one
named ``serving_default``. Torch has no string tensors, so ``ClassificationOutput(classes=...)`` takes
integer class ids (served as ``int64``) where TF took class names.

Every tensor of every entry becomes one output of the exported program (:func:`serving_outputs`): a tensor
that is also a prediction keeps that prediction's key, another gets its output name (or
``<signature>/<output>`` when that name is taken); the signatures map their outputs to these keys.

Examples
--------
>>> import torch
>>> scores = torch.tensor([[0.25, 0.75]])
>>> outputs, layout = serving_outputs({"classify": ClassificationOutput(scores=scores)}, {"probabilities": scores})
>>> list(outputs), layout["serving_default"]
(['probabilities'], ('tensorflow/serving/classify', (('scores', 'probabilities'),)))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from estlab.export.spec import CLASSIFY_METHOD, PREDICT_METHOD, REGRESS_METHOD

#: TF's ``signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY``.
DEFAULT_SERVING_KEY = "serving_default"

#: signature name → (method name, ((signature output, program output key), ...))
SignatureLayout = dict[str, tuple[str, tuple[tuple[str, str], ...]]]


class ExportOutput:
    """Base class of TF's export outputs (``tf.estimator.export.ExportOutput``): a method and named tensors.

    Examples
    --------
    >>> RegressionOutput(torch.zeros(2)).method_name
    'tensorflow/serving/regress'
    """

    method_name = PREDICT_METHOD

    def signature_outputs(self) -> dict[str, torch.Tensor]:
        """The signature's outputs, by TF's names."""
        raise NotImplementedError

    def __repr__(self) -> str:
        shapes = {name: tuple(t.shape) for name, t in self.signature_outputs().items()}
        return f"{type(self).__name__}({shapes})"


class PredictOutput(ExportOutput):
    """A generic prediction signature (TF's ``PredictOutput``): a tensor or a dict of named tensors.

    Parameters
    ----------
    outputs : tensor or mapping of str to tensor
        A single tensor is named ``"output"``, as in TF; tuple keys are joined with ``/``.

    Examples
    --------
    >>> list(PredictOutput(torch.zeros(2, 1)).outputs)
    ['output']
    """

    method_name = PREDICT_METHOD

    def __init__(self, outputs: torch.Tensor | Mapping[Any, torch.Tensor]) -> None:
        given = outputs if isinstance(outputs, Mapping) else {"output": outputs}
        checked: dict[str, torch.Tensor] = {}
        for key, value in given.items():
            name = "/".join(key) if isinstance(key, tuple) else key
            if not isinstance(name, str):
                raise ValueError(f"PredictOutput: output key must be a string, got {key!r}")
            checked[name] = _tensor(value, f"PredictOutput: output {name!r}")
        if not checked:
            raise ValueError("PredictOutput: outputs is empty; give a tensor or a dict of named tensors")
        self._outputs = checked

    @property
    def outputs(self) -> dict[str, torch.Tensor]:
        """The named output tensors."""
        return dict(self._outputs)

    def signature_outputs(self) -> dict[str, torch.Tensor]:  # noqa: D102
        return self.outputs


class ClassificationOutput(ExportOutput):
    """A classification signature (TF's ``ClassificationOutput``): ``scores`` and/or ``classes``.

    Parameters
    ----------
    scores : float tensor, optional
        A score per class, ``(N, n_classes)``.
    classes : integer tensor, optional
        Class ids (torch has no string tensors: TF's class names become ids, served as ``int64``).

    Examples
    --------
    >>> out = ClassificationOutput(scores=torch.tensor([[0.2, 0.8]]), classes=torch.tensor([[0, 1]]))
    >>> sorted(out.signature_outputs())
    ['classes', 'scores']
    """

    method_name = CLASSIFY_METHOD

    def __init__(self, scores: torch.Tensor | None = None, classes: torch.Tensor | None = None) -> None:
        if scores is not None:
            _tensor(scores, "ClassificationOutput: scores")
            if not scores.is_floating_point():
                raise ValueError(
                    f"ClassificationOutput: scores must be a float tensor, got dtype {scores.dtype}"
                )
        if classes is not None:
            _tensor(classes, "ClassificationOutput: classes")
            if classes.is_floating_point() or classes.is_complex():
                raise ValueError(
                    f"ClassificationOutput: classes must be an integer tensor of class ids (TF's string classes "
                    f"have no torch tensor), got dtype {classes.dtype}"
                )
        if scores is None and classes is None:
            raise ValueError("ClassificationOutput: at least one of scores and classes must be set")
        self._scores = scores
        self._classes = classes

    @property
    def scores(self) -> torch.Tensor | None:
        """The scores tensor (or None)."""
        return self._scores

    @property
    def classes(self) -> torch.Tensor | None:
        """The classes tensor (or None)."""
        return self._classes

    def signature_outputs(self) -> dict[str, torch.Tensor]:  # noqa: D102
        named = {"classes": self._classes, "scores": self._scores}
        return {name: value for name, value in named.items() if value is not None}


class RegressionOutput(ExportOutput):
    """A regression signature (TF's ``RegressionOutput``): one float tensor, served as ``"outputs"``.

    Examples
    --------
    >>> list(RegressionOutput(torch.zeros(3)).signature_outputs())
    ['outputs']
    """

    method_name = REGRESS_METHOD

    def __init__(self, value: torch.Tensor) -> None:
        _tensor(value, "RegressionOutput: value")
        if not value.is_floating_point():
            raise ValueError(f"RegressionOutput: value must be a float tensor, got dtype {value.dtype}")
        self._value = value

    @property
    def value(self) -> torch.Tensor:
        """The predicted values."""
        return self._value

    def signature_outputs(self) -> dict[str, torch.Tensor]:  # noqa: D102
        return {"outputs": self._value}


def _tensor(value: Any, label: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise ValueError(
            f"{label} must be a torch.Tensor computed by the model_fn, got {type(value).__name__}"
        )
    return value


def uses_export_outputs(export_outputs: Any) -> bool:
    """Whether ``export_outputs`` is TF's form: a dict of :class:`ExportOutput` objects (not prediction keys).

    Examples
    --------
    >>> uses_export_outputs({"serving_default": PredictOutput(torch.zeros(1))}), uses_export_outputs(["p"])
    (True, False)
    """
    return isinstance(export_outputs, Mapping) and any(
        isinstance(v, ExportOutput) for v in export_outputs.values()
    )


def serving_outputs(
    export_outputs: Mapping[str, ExportOutput], predictions: Mapping[str, Any]
) -> tuple[dict[str, torch.Tensor], SignatureLayout]:
    """The program outputs and signature layout for TF's ``export_outputs`` (see the module docstring).

    Parameters
    ----------
    export_outputs : mapping of str to ExportOutput
        Signature name → output, as a ``model_fn``'s ``EstimatorSpec`` gives them in PREDICT mode.
    predictions : mapping
        The spec's predictions (a tensor also found there keeps its prediction key).

    Returns
    -------
    tuple
        ``(outputs, layout)``: program output key → tensor (integer tensors as ``int64``, floats as
        ``float32``), and signature name → ``(method name, ((output name, program key), ...))``.

    Examples
    --------
    >>> value = torch.zeros(2)
    >>> serving_outputs({"regress": RegressionOutput(value)}, {})[1]["regress"]
    ('tensorflow/serving/regress', (('outputs', 'outputs'),))
    """
    if not isinstance(export_outputs, Mapping):
        raise TypeError(
            f"export_outputs must be a dict of signature name -> ExportOutput, got {export_outputs!r}"
        )
    wrong = {str(k): type(v).__name__ for k, v in export_outputs.items() if not isinstance(v, ExportOutput)}
    if wrong:
        raise TypeError(
            f"export_outputs: values must be ExportOutput objects (PredictOutput, ClassificationOutput, "
            f"RegressionOutput), got {wrong}; or give prediction keys only (a key or a list of keys)"
        )
    entries = {str(k): v for k, v in export_outputs.items()}
    if len(entries) == 1:
        ((name, only),) = entries.items()
        entries.setdefault(DEFAULT_SERVING_KEY, only)
    elif DEFAULT_SERVING_KEY not in entries:
        raise ValueError(
            f"export_outputs: several signatures {sorted(entries)} were given but none is named "
            f"{DEFAULT_SERVING_KEY!r}; name the default one {DEFAULT_SERVING_KEY!r}, as TF requires"
        )
    known = {id(value): str(key) for key, value in predictions.items() if isinstance(value, torch.Tensor)}
    outputs: dict[str, torch.Tensor] = {}
    keys_by_tensor: dict[int, str] = {}
    layout: SignatureLayout = {}
    for signature, entry in entries.items():
        pairs = []
        for output_name, tensor in entry.signature_outputs().items():
            key = keys_by_tensor.get(id(tensor))
            if key is None:
                key = known.get(id(tensor))
                if key is None or key in outputs:
                    key = _free_key(outputs, output_name, f"{signature}/{output_name}")
                outputs[key] = _cast(tensor)
                keys_by_tensor[id(tensor)] = key
            pairs.append((output_name, key))
        layout[signature] = (entry.method_name, tuple(pairs))
    return outputs, layout


def _free_key(taken: Mapping[str, Any], *choices: str) -> str:
    for choice in choices:
        if choice not in taken:
            return choice
    number = 2
    while f"{choices[-1]}_{number}" in taken:
        number += 1
    return f"{choices[-1]}_{number}"


def _cast(tensor: torch.Tensor) -> torch.Tensor:
    """int64 for integer and boolean tensors, float32 for floats (the dtypes an export declares)."""
    if tensor.is_floating_point():
        return tensor if tensor.dtype == torch.float32 else tensor.to(torch.float32)
    return tensor if tensor.dtype == torch.int64 else tensor.to(torch.int64)
