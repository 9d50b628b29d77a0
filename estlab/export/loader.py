"""Load an export and predict with it, without estlab's training or estimator code.

Loading reads JSON and tensors only: the feature transformation is rebuilt from its JSON
(``estlab.features``), the program with ``torch.export.load`` (or ``torch.jit.load`` for a
TorchScript fallback). No pickled Python object is ever loaded.

Examples
--------
>>> model = load("model_dir/export")  # doctest: +SKIP
>>> model.predict(test_frame.head(2))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from estlab.export.heads import HeadSpec, Lookup
from estlab.export.inputs import InvalidInputError, count_rows, to_columns
from estlab.export.layout import FORMAT_NAME, FORMAT_VERSION, read_json, resolve_export_dir, verify_digests
from estlab.export.program import confined_file, load_program
from estlab.export.spec import SignatureDef, TensorSpec

Features = dict[str, torch.Tensor]

#: rows per program call (bounds memory on large inputs; results do not depend on it)
BATCH_ROWS = 8192


class ExportedModel:
    """A loaded export: ``predict`` rows exactly as the estimator that wrote it.

    Parameters
    ----------
    path : path
        An export directory, or a base directory (its newest version is loaded).
    trust_torchscript : bool
        Allow a TorchScript program (it holds code); see :func:`load`.

    Attributes
    ----------
    path : Path
        The export directory loaded.
    version : int
        Its timestamp (TF Serving's model version).
    signatures : dict of str to SignatureDef
        ``serving_default``, ``predict`` and, per head, ``classification`` / ``regression``.
    metadata : dict
        Versions, estimator, feature columns, metrics at export time (the feature columns are stored
        once, in the transformer's file, and read from there).

    Examples
    --------
    >>> model = ExportedModel("model_dir/export")  # doctest: +SKIP
    >>> model.signatures["predict"].output_names  # doctest: +SKIP
    ['logits', 'logistic', 'probabilities', 'class_ids', 'classes', 'all_class_ids', 'all_classes']
    """

    def __init__(self, path: str | os.PathLike, trust_torchscript: bool = False) -> None:
        self.path = resolve_export_dir(path)
        document = read_json(self.path / "export.json")
        if document.get("format") != FORMAT_NAME or int(document.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(
                f"export {str(self.path)!r}: format {document.get('format')!r} version "
                f"{document.get('format_version')!r} is not readable by this estlab (reads {FORMAT_NAME} "
                f"<= {FORMAT_VERSION}); upgrade estlab"
            )
        verify_digests(self.path, document.get("files"))
        self.document = document
        self.version = int(self.path.name) if self.path.name.isdigit() else 0
        self.inputs = tuple(TensorSpec.from_dict(d) for d in document["inputs"])
        self.defaults = dict(document.get("defaults") or {})
        self.head = HeadSpec.from_dict(document["head"])
        self.lookups = tuple(Lookup.from_dict(d) for d in document.get("lookups", []))
        self.signatures = {name: SignatureDef.from_dict(d) for name, d in document["signatures"].items()}
        self._output_keys = {name: dict(d["output_keys"]) for name, d in document["signatures"].items()}
        self.metadata = _resolve_refs(dict(document.get("metadata") or {}), self.path)
        self._preprocess_kind = document["preprocessing"]["kind"]
        self._preprocess = _preprocessor(self.path, document["preprocessing"], self.inputs)
        self._program = load_program(self.path, document["program"], trust_torchscript)

    def __repr__(self) -> str:
        return (
            f"ExportedModel(path={str(self.path)!r}, head={self.head.kind!r}, "
            f"inputs={[s.name for s in self.inputs]})"
        )

    def predict_columns(self, data: Any, signature_name: str | None = None) -> dict[str, np.ndarray]:
        """Outputs of ``signature_name`` for all rows, one array per output (leading dimension N).

        Raises
        ------
        InvalidInputError
            When ``data`` does not fit the signature (missing feature, wrong type...).

        Examples
        --------
        >>> model.predict_columns({"age": [25.0]})["logistic"].shape  # doctest: +SKIP
        (1, 1)
        """
        signature_name = self.default_signature if signature_name is None else signature_name
        self.signature(signature_name)
        columns = to_columns(data, self.inputs, self.defaults)
        n_rows = len(next(iter(columns.values()))) if columns else count_rows(data)
        return self.signature_outputs(self.run_columns(columns, n_rows), signature_name)

    def run_columns(self, columns: Mapping[str, np.ndarray], n_rows: int) -> dict[str, np.ndarray] | None:
        """Every output of the program (and its string lookups) for validated input columns.

        ``columns`` are what :func:`~estlab.export.inputs.to_columns` returns (one numpy array per
        input); they are encoded by the fitted transformation's array path (no DataFrame) and run
        through the program in one call per ``BATCH_ROWS`` rows. None for 0 rows.

        Raises
        ------
        InvalidInputError
            When the feature transformation refuses a value (e.g. a missing value without default).

        Examples
        --------
        >>> model.run_columns({"age": np.array([25.0])}, 1)["logits"].shape  # doctest: +SKIP
        (1, 1)
        """
        if n_rows == 0:
            return None
        return self._run(columns, n_rows)

    def signature_outputs(
        self, outputs: Mapping[str, np.ndarray] | None, signature_name: str
    ) -> dict[str, np.ndarray]:
        """The outputs of ``signature_name`` (in its order, under its names) from :meth:`run_columns`.

        Examples
        --------
        >>> list(model.signature_outputs(model.run_columns(columns, 1), "classification"))  # doctest: +SKIP
        ['classes', 'scores']
        """
        signature = self.signature(signature_name)
        if outputs is None:
            return {spec.name: _empty(spec) for spec in signature.outputs}
        keys = self._output_keys[signature_name]
        return {name: outputs[keys[name]] for name in signature.output_names}

    def predict(
        self,
        data: Any,
        predict_keys: Sequence[str] | str | None = None,
        yield_single_examples: bool = True,
        *,
        signature_name: str | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """TF-keyed predictions, exactly as ``Estimator.predict`` yields them (here as a list).

        Parameters
        ----------
        data : DataFrame, dict of columns, or list of records
            Raw feature values (extra columns, e.g. the label, are ignored).
        predict_keys : str or list of str, optional
            Keep only these keys.
        yield_single_examples : bool
            One dict per row (default) or one dict of batched arrays.
        signature_name : str, optional
            ``"predict"`` (all keys), ``"classification"``, ``"regression"``...; default
            :attr:`default_signature`.

        Examples
        --------
        >>> model.predict([{"age": 25.0, "color": "red"}])[0]["classes"]  # doctest: +SKIP
        array(['1'], dtype=object)
        """
        columns = self.predict_columns(data, signature_name)
        if predict_keys is not None:
            keys = [predict_keys] if isinstance(predict_keys, str) else list(predict_keys)
            unknown = [k for k in keys if k not in columns]
            if unknown:
                raise InvalidInputError(
                    f"predict_keys: {unknown} are not predictions of this model; "
                    f"valid keys are {sorted(columns)}"
                )
            columns = {k: columns[k] for k in keys}
        if not yield_single_examples:
            return [columns]
        n_rows = len(next(iter(columns.values()))) if columns else 0
        return [{key: value[i] for key, value in columns.items()} for i in range(n_rows)]

    def predict_frame(self, data: Any, signature_name: str | None = None) -> pd.DataFrame:
        """Predictions as a DataFrame, as ``Estimator.predict_frame`` (the input's index; probabilities by class).

        Examples
        --------
        >>> model.predict_frame(test_frame)[["class_ids", "probabilities_>50K"]]  # doctest: +SKIP
        """
        from estlab.prediction_frame import predictions_frame

        index = data.index if isinstance(data, pd.DataFrame) else None
        columns: Mapping[Any, np.ndarray] = self.predict_columns(data, signature_name)
        if self.head.kind == "multi" and set(columns) == set(self.head.signatures(())["predict"][1]):
            # a MultiHead's "<head>/<key>" outputs: one frame per head, as Estimator.predict_frame builds it
            names = [name for name, _ in self.head.heads]
            columns = {next((name, key[len(name) + 1:]) for name in names if key.startswith(f"{name}/")): value
                       for key, value in columns.items()}
        return predictions_frame([columns], index=index)

    @property
    def default_signature(self) -> str:
        """The signature ``predict``/``predict_columns``/``predict_frame`` use unless told: ``"predict"``
        (every prediction key) when the export has one, else ``"serving_default"`` (a ``model_fn`` that
        named its own signatures with TF's ``export_outputs``)."""
        return "predict" if "predict" in self.signatures else "serving_default"

    def signature(self, name: str) -> SignatureDef:
        """The signature called ``name``, with an error listing the valid ones."""
        if name not in self.signatures:
            raise InvalidInputError(
                f"signature_name {name!r} is not in this export; available: {sorted(self.signatures)}"
            )
        return self.signatures[name]

    def _run(self, columns: Mapping[str, np.ndarray], n_rows: int) -> dict[str, np.ndarray]:
        if self._preprocess_kind == "rows":
            features = self._preprocess(columns, n_rows)
        else:
            features = self._preprocess(columns)
        parts = [
            self._program({key: value[start : start + BATCH_ROWS] for key, value in features.items()})
            for start in range(0, n_rows, BATCH_ROWS)
        ]
        outputs = {key: torch.cat([part[key] for part in parts]).detach().cpu().numpy() for key in parts[0]}
        for lookup in self.lookups:
            outputs.update(lookup.apply(outputs))
        return outputs


def load(path: str | os.PathLike, trust_torchscript: bool = False) -> ExportedModel:
    """Load an export written by ``export_saved_model``.

    Parameters
    ----------
    path : path
        The export directory, or its base directory (the newest timestamped version is loaded).
    trust_torchscript : bool
        Allow loading a TorchScript program (the fallback when ``torch.export`` could not capture
        the model); it holds code, so only for exports you trust.

    Examples
    --------
    >>> model = load("model_dir/export")  # doctest: +SKIP
    >>> rows = model.predict(test_frame.head(3))  # doctest: +SKIP
    """
    return ExportedModel(path, trust_torchscript)


def _resolve_refs(metadata: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Replace ``{"$ref": "<file>#/<key>"}`` values by ``<key>`` of that JSON file of the export.

    An export stores its feature columns once (in the transformer's file) and refers to them from the
    metadata; exports of estlab 0.1 hold the columns inline, which pass through unchanged.

    Examples
    --------
    >>> _resolve_refs({"estimator": "DNNClassifier"}, Path("."))
    {'estimator': 'DNNClassifier'}
    """
    out = dict(metadata)
    for name, value in metadata.items():
        if not (isinstance(value, Mapping) and set(value) == {"$ref"}):
            continue
        file, _, pointer = str(value["$ref"]).partition("#/")
        if Path(file).name != file or file in ("", ".", ".."):
            raise ValueError(
                f"export metadata {name!r}: reference {value['$ref']!r} must name a file of the export"
            )
        data: Any = read_json(directory / file)
        for part in filter(None, pointer.split("/")):
            data = data[part]
        out[name] = data
    return out


def _preprocessor(
    directory: Path, config: Mapping[str, Any], inputs: tuple[TensorSpec, ...]
) -> Callable[..., Features]:
    kind = config.get("kind")
    if kind == "feature_transformer":
        from estlab.export.functions import check_loadable
        from estlab.features import FeatureTransformer

        # the columns' functions are descriptions only (never imported); normalizer_fn is in the program
        file = confined_file(directory, config.get("file"), "export.json: preprocessing.file")
        transformer = FeatureTransformer.from_dict(read_json(file))
        check_loadable(transformer)

        def encode(columns: Mapping[str, np.ndarray]) -> Features:
            try:  # the array path: a dict of numpy columns, no DataFrame
                return transformer.transform(dict(columns))
            except (ValueError, TypeError, KeyError) as error:  # the feature columns' own checks (missing...)
                raise InvalidInputError(str(error)) from None

        return encode
    if kind == "tensors":
        dtypes = {
            spec.name: torch.int64 if spec.dtype.startswith("int") else torch.float32 for spec in inputs
        }

        def as_tensors(columns: Mapping[str, np.ndarray]) -> Features:
            return {
                name: torch.as_tensor(np.asarray(values, dtype=np.float64)).to(dtypes[name])
                for name, values in columns.items()
            }

        return as_tensors
    if kind == "rows":
        shapes = {
            name: (tuple(d["shape"]), getattr(torch, d["dtype"])) for name, d in config["tensors"].items()
        }

        def row_tensors(columns: Mapping[str, np.ndarray], n_rows: int) -> Features:
            return {
                name: torch.zeros((n_rows, *shape), dtype=dtype) for name, (shape, dtype) in shapes.items()
            }

        return row_tensors
    raise ValueError(
        f"export preprocessing kind {kind!r} is unknown; expected 'feature_transformer', 'tensors' or 'rows'"
    )


def _empty(spec: TensorSpec) -> np.ndarray:
    shape = (0, *[max(d, 0) for d in spec.shape[1:]])
    return np.empty(shape, dtype=object if spec.dtype == "string" else np.dtype(spec.dtype))
