"""The model part of an export: encoded features → numeric predictions, as a torch program.

:class:`PredictionProgram` chains the estimator's module (which consumes the encoded-features dict)
and :class:`~estlab.export.heads.HeadOutputs`. :func:`save_program` writes it with
``torch.export`` (``model.pt2``, batch dimension dynamic), falling back to TorchScript tracing
(``model.ts``) for modules ``torch.export`` cannot capture. :func:`load_program` reads either back
without importing any estlab training code, and never unpickles Python objects.

Examples
--------
>>> import torch, tempfile
>>> from pathlib import Path
>>> class Tiny(torch.nn.Module):
...     def forward(self, features):
...         return features["x"] * 2.0
>>> program = PredictionProgram(Tiny(), HeadSpec("regression", 1))
>>> directory = Path(tempfile.mkdtemp())
>>> info = save_program(program, {"x": torch.ones(3, 1)}, directory)
>>> load_program(directory, info)({"x": torch.tensor([[1.0]])})["predictions"].tolist()
[[2.0]]
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from estlab.export.heads import HeadOutputs, HeadSpec
from estlab.export.layout import ONNX_FILE, PROGRAM_FILE, TORCHSCRIPT_FILE
from estlab.warnings import ExportWarning

Features = dict[str, torch.Tensor]


class PredictionProgram(nn.Module):
    """``module(encoded_features)`` → logits → the head's numeric predictions.

    Parameters
    ----------
    module : nn.Module
        Takes the encoded-features dict (or, with ``input_names``, those tensors positionally) and
        returns logits ``(N, logits_dimension)``.
    head : HeadSpec
        Which predictions to derive from the logits.
    predictions_fn : callable, optional
        For a ``"custom"`` head: ``logits -> dict of tensors`` (tensor operations only).
    input_names : sequence of str, optional
        Call ``module(*[features[name] for name in input_names])`` instead of ``module(features)``.
    mode : str, optional
        Passed as ``mode=`` when the module's forward takes it (the predict mode, ``"infer"``).

    Examples
    --------
    >>> import torch
    >>> class Zero(torch.nn.Module):
    ...     def forward(self, features):
    ...         return torch.zeros(features["x"].shape[0], 1)
    >>> sorted(PredictionProgram(Zero(), HeadSpec("binary", 2))({"x": torch.ones(2, 1)}))
    ['all_class_ids', 'class_ids', 'logistic', 'logits', 'probabilities']
    """

    def __init__(
        self,
        module: nn.Module,
        head: HeadSpec,
        predictions_fn: Callable[[torch.Tensor], Mapping[str, torch.Tensor]] | None = None,
        input_names: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> None:
        super().__init__()
        self.module = module
        self.head = HeadOutputs(head) if predictions_fn is None else predictions_fn
        self.input_names = None if input_names is None else list(input_names)
        self.mode = mode

    def forward(self, features: Features) -> dict[str, torch.Tensor]:
        """Numeric predictions for a batch of encoded features."""
        kwargs = {} if self.mode is None else {"mode": self.mode}
        if self.input_names is None:
            logits = self.module(features, **kwargs)
        else:
            logits = self.module(*[features[name] for name in self.input_names], **kwargs)
        if logits.dim() == 1:
            logits = logits.unsqueeze(1)
        return dict(self.head(logits.to(torch.float32)))


def save_program(program: nn.Module, example: Mapping[str, torch.Tensor], directory: Path) -> dict[str, Any]:
    """Write ``program`` under ``directory``; returns the JSON info :func:`load_program` needs.

    ``example`` is a batch of encoded features (at least 2 rows, so the batch dimension is not
    specialised). ``torch.export`` is tried first; TorchScript tracing is the fallback.

    Examples
    --------
    See the module docstring.
    """
    program = program.eval()
    example = {key: value.detach().cpu() for key, value in example.items()}
    with torch.no_grad():
        reference = program(example)
    outputs = list(reference)
    errors = []
    for dims in _batch_dims():
        try:
            shapes = ({key: {0: dims} for key in example},)
            exported = _quiet(torch.export.export, program, (example,), dynamic_shapes=shapes, strict=False)
            _quiet(torch.export.save, exported, directory / PROGRAM_FILE)
            return {
                "format": "torch.export",
                "file": PROGRAM_FILE,
                "inputs": list(example),
                "outputs": outputs,
            }
        except Exception as error:  # noqa: BLE001 - any capture failure falls through to the next strategy
            errors.append(f"{type(error).__name__}: {error}"[:500])
    try:
        traced = torch.jit.trace(program, (example,), strict=False, check_trace=False)
        torch.jit.save(traced, str(directory / TORCHSCRIPT_FILE))
    except Exception as error:
        raise RuntimeError(
            "export: the model could not be captured by torch.export nor traced with TorchScript; make its "
            "forward(features) use tensor operations only (no Python on tensor values, no numpy). "
            f"torch.export said: {errors[-1] if errors else '-'}; TorchScript said: {error}"
        ) from error
    warnings.warn(
        f"torch.export failed ({errors[-1]}); the model was saved as TorchScript, which loads only with "
        "load(path, trust_torchscript=True)",
        ExportWarning,
        stacklevel=2,
    )
    return {"format": "torchscript", "file": TORCHSCRIPT_FILE, "inputs": list(example), "outputs": outputs}


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def weights_only_loads() -> Iterator[None]:
    """Within the block, every ``torch.load`` in this process is forced to ``weights_only=True``.

    Uses torch's own switch (``TORCH_FORCE_WEIGHTS_ONLY_LOAD``), so ``torch.export.load`` cannot fall
    back to unpickling arbitrary objects from an untrusted file.

    Examples
    --------
    >>> import io, pickle
    >>> with weights_only_loads():
    ...     torch.load(io.BytesIO(pickle.dumps(object())), weights_only=False)  # doctest: +SKIP
    Traceback (most recent call last):
    _pickle.UnpicklingError: ...
    """
    names = ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD")
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in names}
        os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
        os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _quiet(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``function`` without torch's own FutureWarnings about its pytree internals."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*treespec.*")
        return function(*args, **kwargs)


def _batch_dims() -> list[Any]:
    dims: list[Any] = [torch.export.Dim("batch")]
    auto = getattr(torch.export.Dim, "AUTO", None)
    if auto is not None:
        dims.append(auto)
    return dims


def load_program(
    directory: str | Path, info: Mapping[str, Any], trust_torchscript: bool = False
) -> Callable[[Features], dict[str, torch.Tensor]]:
    """Load the program written by :func:`save_program`: a callable ``features → outputs``.

    A ``torch.export`` program is read with every ``torch.load`` inside forced to
    ``weights_only=True`` (tensors only, no unpickling of Python objects). A TorchScript program
    holds code (TorchScript, not Python) and loads only with ``trust_torchscript=True``.

    Examples
    --------
    See the module docstring.
    """
    path = confined_file(directory, info.get("file"), "export.json: program.file")
    if info["format"] == "torch.export":
        from estlab.export.safe_load import check_pt2

        check_pt2(path)  # the allow-list reader: nothing in the archive is pickled, evaluated or imported
        with weights_only_loads():
            module = _quiet(torch.export.load, path).module()
    elif info["format"] == "torchscript":
        if not trust_torchscript:
            raise ValueError(
                f"export {str(directory)!r} holds a TorchScript program (torch.export could not capture the "
                "model), which contains code; load it only if you trust its source, with "
                "load(path, trust_torchscript=True)"
            )
        module = torch.jit.load(str(path), map_location="cpu")
    else:
        raise ValueError(
            f"export program format {info['format']!r} is unknown; expected torch.export or torchscript"
        )
    if info["format"] == "torchscript":
        module.eval()
    names = list(info["outputs"])

    def run(features: Features) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            result = module(features)
        if isinstance(result, Mapping):
            return {key: result[key] for key in names}
        return dict(zip(names, result))

    return run


def confined_file(directory: str | Path, name: Any, field: str) -> Path:
    """``directory / name`` for a plain file name of the export; anything else (an absolute path, ``..``,
    a sub-folder, a link leading out of the export) raises ``ValueError`` naming ``field``.

    Examples
    --------
    >>> confined_file("/exports/1", "model.pt2", "program.file").name
    'model.pt2'
    >>> confined_file("/exports/1", "/etc/passwd", "program.file")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: export '/exports/1': program.file '/etc/passwd' ...
    """
    text = name if isinstance(name, str) else repr(name)
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", "..") or "\\" in name:
        raise ValueError(
            f"export {str(directory)!r}: {field} {text!r} is not a file name inside the export (absolute paths, "
            "'..' and folders are refused: an export is self-contained)"
        )
    path = Path(directory) / name
    if path.is_symlink() and Path(directory).resolve() != path.resolve().parent:
        raise ValueError(f"export {str(directory)!r}: {field} {name!r} is a link leading out of the export")
    return path


def save_onnx(program_path: Path, info: Mapping[str, Any], directory: Path) -> dict[str, Any]:
    """Convert the saved ``torch.export`` program to ONNX (``model.onnx``); returns its JSON info.

    ONNX inputs are named as the encoded features and outputs as the prediction keys.

    Examples
    --------
    >>> save_onnx  # doctest: +ELLIPSIS
    <function save_onnx at ...>
    """
    if info["format"] != "torch.export":
        raise RuntimeError("ONNX export needs a torch.export program; this model was saved as TorchScript")
    exported = _quiet(torch.export.load, program_path)
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)  # "torchvision is not installed" warnings
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its progress
            onnx_program = _quiet(
                torch.onnx.export,
                exported,
                input_names=list(info["inputs"]),
                output_names=list(info["outputs"]),
                dynamo=True,
                verbose=False,
            )
    finally:
        registration.setLevel(level)
    assert onnx_program is not None  # with dynamo=True, torch.onnx.export returns the ONNXProgram
    onnx_program.save(str(directory / ONNX_FILE))
    _rewrite_boolean_where(directory / ONNX_FILE)
    return {"file": ONNX_FILE, "inputs": list(info["inputs"]), "outputs": list(info["outputs"])}


def _rewrite_boolean_where(path: Path) -> None:
    """Replace ``Where(c, x, y)`` on booleans (no onnxruntime kernel) by ``Or(And(c, x), And(Not(c), y))``."""
    import onnx
    from onnx import helper, shape_inference

    model = onnx.load(str(path))
    inferred = shape_inference.infer_shapes(model)
    graph = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.value_info, *graph.input, *graph.output]}
    types.update({init.name: init.data_type for init in graph.initializer})
    nodes = []
    changed = False
    for node in model.graph.node:
        if node.op_type == "Where" and types.get(node.output[0]) == onnx.TensorProto.BOOL:
            condition, x, y = node.input
            base = node.name or node.output[0]
            nodes += [
                helper.make_node("And", [condition, x], [f"{base}_and_x"], name=f"{base}_and_x"),
                helper.make_node("Not", [condition], [f"{base}_not_c"], name=f"{base}_not_c"),
                helper.make_node("And", [f"{base}_not_c", y], [f"{base}_and_y"], name=f"{base}_and_y"),
                helper.make_node("Or", [f"{base}_and_x", f"{base}_and_y"], list(node.output), name=base),
            ]
            changed = True
        else:
            nodes.append(node)
    if changed:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        onnx.save(model, str(path))
