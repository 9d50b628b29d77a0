"""``resolve_input``: turn whatever the user passed as input into one ``InputFn``."""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import pandas as pd

from estlab.inputs.input_fn import InputFn
from estlab.inputs.numpy_io import numpy_input_fn
from estlab.inputs.pandas_io import pandas_input_fn
from estlab.inputs.parquet import StreamingInput, parquet_input_fn

Source: TypeAlias = InputFn | StreamingInput | pd.DataFrame | Mapping[str, Any] | Callable[[], Any] | str | os.PathLike
LabelSpec: TypeAlias = str | Sequence[str] | None


def resolve_input(
    source: Source,
    label: LabelSpec = None,
    batch_size: int = 128,
    num_epochs: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
) -> InputFn | StreamingInput:
    """Return an ``InputFn`` for an InputFn, a DataFrame, a dict of arrays or a TF-style callable.

    Parameters
    ----------
    source : InputFn, StreamingInput, DataFrame, dict of arrays, callable or path
        An ``InputFn`` or ``StreamingInput`` is returned as is (its own settings win). A DataFrame or
        dict holds features and, under ``label``, the target. A callable is called once and must return
        the whole data: ``(features, labels)``, features alone (DataFrame or dict of arrays), or an
        ``InputFn``. A path to parquet files (a ``.parquet`` file or a directory) is streamed with
        ``parquet_input_fn``; a ``.csv`` file is read whole with ``pandas.read_csv``.
    label : str, list of str or None
        Target column(s) of a DataFrame/dict source; ``None`` for prediction.
    batch_size, num_epochs, shuffle, seed
        Batching settings of the returned ``InputFn`` (``num_epochs=None`` repeats forever).

    Returns
    -------
    InputFn or StreamingInput
        ``StreamingInput`` only for parquet paths or when one was passed in.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]})
    >>> fn = resolve_input(df, label="y", batch_size=2, shuffle=False)
    >>> fn.feature_names, fn.labels.tolist()
    (['a'], [0, 1])
    """
    settings = {"batch_size": batch_size, "num_epochs": num_epochs, "shuffle": shuffle, "seed": seed}
    if isinstance(source, InputFn | StreamingInput):
        return source
    if isinstance(source, str | os.PathLike):
        return _from_path(os.fspath(source), label, settings)
    if isinstance(source, pd.DataFrame):
        return _from_frame(source, label, settings)
    if isinstance(source, Mapping):
        return _from_dict(source, label, settings)
    if isinstance(source, Iterator):
        raise TypeError(
            f"input must hold the whole data; got an iterator ({type(source).__name__}). Pass a DataFrame, "
            "a dict of arrays, an InputFn, or a function returning (features, labels)."
        )
    if callable(source):
        return _from_callable(source, label, settings)
    raise TypeError(
        f"input must be an InputFn, a DataFrame, a dict of arrays or a function returning (features, labels); "
        f"got {type(source).__name__}."
    )


def _from_path(path: str, label: LabelSpec, settings: dict[str, Any]) -> InputFn | StreamingInput:
    if path.endswith(".csv") or path.endswith(".csv.gz"):
        return _from_frame(pd.read_csv(path), label, settings)
    if path.endswith(".parquet") or os.path.isdir(path):
        if label is not None and not isinstance(label, str):
            raise TypeError(f"label must be one column name for parquet input; got {label!r}.")
        return parquet_input_fn(path, label=label, **settings)
    raise ValueError(
        f"input path {path!r} is neither a .parquet file, a directory of them, nor a .csv file; "
        "load it into a DataFrame first."
    )


def _from_frame(frame: pd.DataFrame, label: LabelSpec, settings: dict[str, Any]) -> InputFn:
    if label is None:
        return pandas_input_fn(frame, **settings)
    names = _label_names(label)
    for name in names:
        if name not in frame.columns:
            raise ValueError(_missing_label_message(name, list(frame.columns), "column of the DataFrame"))
    y = frame[names[0]] if isinstance(label, str) else frame[names]
    x = frame.drop(columns=names)
    return pandas_input_fn(x, y, target_column=_unused_name(x.columns), **settings)


def _from_dict(data: Mapping[str, Any], label: LabelSpec, settings: dict[str, Any]) -> InputFn:
    features = dict(data)
    if label is None:
        return numpy_input_fn(features, **settings)
    names = _label_names(label)
    for name in names:
        if name not in features:
            raise ValueError(_missing_label_message(name, list(features), "key of the dict"))
    labels = (
        features.pop(names[0]) if isinstance(label, str) else {name: features.pop(name) for name in names}
    )
    return numpy_input_fn(features, labels, **settings)


def _from_callable(function: Callable[[], Any], label: LabelSpec, settings: dict[str, Any]
                   ) -> InputFn | StreamingInput:
    result = function()
    if isinstance(result, InputFn | StreamingInput):
        return result
    if isinstance(result, tuple) and len(result) == 2:
        features, labels = result
    else:
        features, labels = result, None
    name = getattr(function, "__name__", type(function).__name__)
    if labels is None and isinstance(features, pd.DataFrame | Mapping):
        return resolve_input(features, label, **settings)
    if isinstance(features, pd.DataFrame):
        if isinstance(labels, Mapping):
            labels = pd.DataFrame(dict(labels), index=features.index)
        return pandas_input_fn(features, labels, target_column=_unused_name(features.columns), **settings)
    if isinstance(features, Mapping):
        if isinstance(labels, pd.DataFrame):
            labels = {str(column): labels[column].to_numpy() for column in labels.columns}
        elif isinstance(labels, pd.Series):
            labels = labels.to_numpy()
        return numpy_input_fn(dict(features), labels, **settings)
    raise TypeError(
        f"input function {name!r} must return (features, labels) or features, with features a DataFrame or a "
        f"dict of arrays; got {type(result).__name__}"
        + (f" with features of type {type(features).__name__}" if isinstance(result, tuple) else "")
        + ". Return the whole data, not a dataset or generator."
    )


def _label_names(label: LabelSpec) -> list[str]:
    if isinstance(label, str):
        return [label]
    if isinstance(label, Sequence) and label and all(isinstance(name, str) for name in label):
        return list(label)
    raise TypeError(f"label must be a column name or a non-empty list of names; got {label!r}.")


def _missing_label_message(name: str, available: list[Any], where: str) -> str:
    names = [str(column) for column in available]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    close += [c for c in names if c not in close and (c.lower() == name.lower() or name.lower() in c.lower())]
    hint = f" Did you mean {', '.join(repr(c) for c in close[:3])}?" if close else ""
    return f"label {name!r} is not a {where}.{hint} Available: {names}."


def _unused_name(columns: Any) -> str:
    taken = {str(column) for column in columns}
    name = "target"
    while name in taken:
        name = f"_{name}"
    return name
