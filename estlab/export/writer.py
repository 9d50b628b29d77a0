"""Write an export: a timestamped directory with the feature spec, the program, signatures, metadata.

:func:`write_export` is the low-level writer (a module, a head spec, the inputs); the estimator's
``export_saved_model`` goes through :func:`estlab.export.estimator_export.export_saved_model`.

Examples
--------
>>> import torch, tempfile
>>> from estlab.export.heads import HeadSpec
>>> from estlab.export.spec import TensorSpec
>>> class Double(torch.nn.Module):
...     def forward(self, features):
...         return features["x"] * 2.0
>>> path = write_export(tempfile.mkdtemp(), module=Double(), head=HeadSpec("regression", 1),
...                     inputs=(TensorSpec("x", "float32"),), example_features={"x": torch.ones(3, 1)},
...                     onnx=False)
>>> sorted(p.name for p in path.iterdir())
['export.json', 'model.pt2']
"""

from __future__ import annotations

import importlib.util
import math
import os
import platform
import shutil
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from estlab.export.heads import HeadSpec
from estlab.export.layout import (
    EXPORT_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    PROGRAM_FILE,
    TRANSFORMER_FILE,
    file_digests,
    write_json,
    write_version_atomically,
)
from estlab.export.program import PredictionProgram, save_onnx, save_program
from estlab.export.spec import TensorSpec
from estlab.warnings import ExportWarning


def onnx_installed() -> bool:
    """Whether the packages an ONNX copy needs (``onnx``, ``onnxscript``) are importable (nothing is imported).

    Examples
    --------
    >>> isinstance(onnx_installed(), bool)
    True
    """
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxscript"))


def write_export(
    export_dir_base: str | os.PathLike,
    *,
    module: nn.Module,
    head: HeadSpec,
    inputs: tuple[TensorSpec, ...],
    example_features: Mapping[str, torch.Tensor],
    transformer: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    onnx: bool | None = None,
    predictions_fn: Callable[[torch.Tensor], Mapping[str, torch.Tensor]] | None = None,
    input_names: Sequence[str] | None = None,
    mode: str | None = None,
    assets_extra: Mapping[str, str] | None = None,
    row_tensors: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Write a new version directory under ``export_dir_base`` and return its path.

    Parameters
    ----------
    export_dir_base : path
        Parent directory; the export goes to ``<export_dir_base>/<timestamp>`` (written to a temp
        directory first, then renamed).
    module : nn.Module
        Encoded-features dict → logits.
    head : HeadSpec
        How logits become predictions.
    inputs : tuple of TensorSpec
        The raw inputs of the serving signature.
    example_features : mapping of str to Tensor
        A batch (≥ 2 rows) of encoded features, used to capture the program.
    transformer : mapping, optional
        ``FeatureTransformer.to_dict()``; without it the inputs go to the module as tensors
        (float32/int64 ``(N, 1)``).
    defaults : mapping, optional
        Values for inputs a request may omit.
    metadata : mapping, optional
        Extra metadata (estimator, feature columns, metrics...), plain JSON values.
    onnx : bool, optional
        Also write ``model.onnx``. None (default): when the ``onnx`` extra is installed (otherwise the export
        records why it has none, without a warning); True: always try. A conversion failure is recorded in
        ``export.json`` and warned about.
    predictions_fn, input_names, mode
        See :class:`~estlab.export.program.PredictionProgram` (custom heads, positional raw inputs,
        modules whose forward takes ``mode``).
    assets_extra : mapping, optional
        ``{"relative/name": "/source/file"}`` copied into ``assets.extra/`` (as TF).
    row_tensors : mapping, optional
        For models that read only the number of rows (baselines): name → an example tensor whose
        trailing shape and dtype the loader reproduces with zeros.

    Examples
    --------
    See the module docstring.
    """
    for spec in inputs:
        if transformer is None and spec.dtype == "string":
            raise ValueError(
                f"input {spec.name!r} is a string but the export has no feature transformation to encode it; "
                "pass transformer=FeatureTransformer(...).fit(frame).to_dict()"
            )

    def fill(directory: Path) -> None:
        program = PredictionProgram(module, head, predictions_fn, input_names, mode)
        program_info = save_program(program, example_features, directory)
        onnx_info: dict[str, Any] | None = None
        onnx_error: str | None = None
        if onnx is None and not onnx_installed():
            onnx_error = "not written: the onnx extra is not installed (pip install 'estlab[onnx]')"
        elif onnx is not False:
            try:
                onnx_info = save_onnx(directory / PROGRAM_FILE, program_info, directory)
            except Exception as error:  # noqa: BLE001 - ONNX is optional; record why it is absent
                onnx_error = f"{type(error).__name__}: {error}"[:1000]
                warnings.warn(f"export: no ONNX file written ({onnx_error[:200]})", ExportWarning, stacklevel=3)
        if transformer is not None:
            write_json(directory / TRANSFORMER_FILE, _plain(transformer))
            preprocessing: dict[str, Any] = {"kind": "feature_transformer", "file": TRANSFORMER_FILE}
        elif row_tensors is not None:
            preprocessing = {
                "kind": "rows",
                "tensors": {
                    name: {"shape": list(t.shape[1:]), "dtype": str(t.dtype).replace("torch.", "")}
                    for name, t in row_tensors.items()
                },
            }
        else:
            preprocessing = {"kind": "tensors"}
        signatures = {
            name: {**signature.to_dict(), "output_keys": keys}
            for name, (signature, keys) in head.signatures(tuple(inputs)).items()
        }
        document = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "inputs": [spec.to_dict() for spec in inputs],
            "defaults": _plain(dict(defaults or {})),
            "preprocessing": preprocessing,
            "program": program_info,
            "onnx": onnx_info,
            "onnx_error": onnx_error,
            "head": head.to_dict(),
            "lookups": [lookup.to_dict() for lookup in head.lookups()],
            "signatures": signatures,
            "metadata": _plain({**base_metadata(), **dict(metadata or {})}),
        }
        _copy_assets(directory, assets_extra or {})
        document["files"] = file_digests(directory)  # checked on load: a damaged file is named, never used
        write_json(directory / EXPORT_FILE, document)

    return write_version_atomically(export_dir_base, fill)


def _copy_assets(directory: Path, assets_extra: Mapping[str, str]) -> None:
    target = (directory / "assets.extra").resolve()
    for destination, source in assets_extra.items():
        out = (target / destination).resolve()
        if target not in out.parents:
            raise ValueError(
                f"assets_extra: destination {destination!r} leaves assets.extra/; use a relative path"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out)


def base_metadata() -> dict[str, Any]:
    """Versions and time recorded in every export.

    Examples
    --------
    >>> sorted(base_metadata())
    ['created', 'estlab_version', 'python_version', 'torch_version']
    """
    from estlab import __version__

    return {
        "estlab_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _plain(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, tuples to lists, non-finite floats to None."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
