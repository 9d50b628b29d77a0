"""``resolve_input``: turn whatever the user passed as input into one ``InputFn``, ``StreamingInput`` or
``BatchedInput``."""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
import torch

from estlab.inputs.batched import BatchedInput, is_batch_iterable
from estlab.inputs.input_fn import InputFn
from estlab.inputs.numpy_io import numpy_input_fn
from estlab.inputs.pandas_io import pandas_input_fn
from estlab.inputs.parquet import StreamingInput, parquet_input_fn

Source: TypeAlias = (InputFn | StreamingInput | BatchedInput | pd.DataFrame | Mapping[str, Any] | Callable[[], Any]
                     | Iterable[Any] | str | os.PathLike)
LabelSpec: TypeAlias = str | Sequence[str] | None

#: The arguments TF's Estimator passes to an ``input_fn`` whose signature names them.
INPUT_FN_ARGS = ("mode", "params", "config", "input_context")


def call_input_fn(function: Callable[..., Any], args: Mapping[str, Any] | None = None) -> Any:
    """Call a TF ``input_fn`` as TF's Estimator did: with those of ``mode``, ``params``, ``config``,
    ``input_context`` that its signature names (``params`` defaults to ``{}``, the others to ``None``).

    Examples
    --------
    >>> call_input_fn(lambda mode, params: (mode, params), {"mode": "train"})
    ('train', {})
    >>> call_input_fn(lambda batch_size: None)
    Traceback (most recent call last):
    ...
    TypeError: input_fn '<lambda>' takes argument(s) ['batch_size'], which the Estimator does not pass (it passes mode, params, config, input_context by name); wrap it, e.g. lambda: input_fn(batch_size=32)
    """
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin or an object without a signature
        return function()
    given = {"params": {}, **(args or {})}
    unknown = [name for name, p in parameters.items() if name not in INPUT_FN_ARGS and p.default is p.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if unknown:
        name = getattr(function, "__name__", type(function).__name__)
        raise TypeError(f"input_fn {name!r} takes argument(s) {unknown}, which the Estimator does not pass (it "
                        f"passes {', '.join(INPUT_FN_ARGS)} by name); wrap it, e.g. lambda: input_fn("
                        f"{', '.join(f'{u}=32' if u == 'batch_size' else f'{u}=...' for u in unknown)})")
    return function(**{name: given.get(name) for name in INPUT_FN_ARGS if name in parameters})


def resolve_input(
    source: Source,
    label: LabelSpec = None,
    batch_size: int = 128,
    num_epochs: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    input_fn_args: Mapping[str, Any] | None = None,
) -> InputFn | StreamingInput | BatchedInput:
    """Return an ``InputFn`` for whole data, a ``StreamingInput`` for parquet, a ``BatchedInput`` for batches.

    Parameters
    ----------
    source : InputFn, StreamingInput, BatchedInput, DataFrame, dict of arrays, callable, iterable or path
        An ``InputFn``, ``StreamingInput`` or ``BatchedInput`` is returned as is (its own settings win). A
        DataFrame or dict holds features and, under ``label``, the target. A callable (TF's ``input_fn``)
        is called and may return the whole data (``(features, labels)`` or features alone, features a
        DataFrame, a dict of arrays or an array), an ``InputFn``, or an iterable of batches (a generator,
        ``DataLoader``, ``IterableDataset``: see ``estlab.inputs.batched``; the callable is called again for
        each epoch). An iterable of batches (a generator, a ``DataLoader``, a list) is used as is. A path to
        parquet files (a ``.parquet`` file or a directory) is streamed with ``parquet_input_fn``; a ``.csv``
        file is read whole with ``pandas.read_csv``.
    label : str, list of str or None
        Target column(s) of a DataFrame/dict source, or inside features-only batches; ``None`` for
        prediction.
    batch_size, num_epochs, shuffle, seed
        Batching settings of the returned ``InputFn`` (``num_epochs=None`` repeats forever). Batches of an
        iterable are the iterable's own: only ``num_epochs`` applies, and ``None`` means one pass (TF called
        ``input_fn`` once per ``train`` call).
    input_fn_args : mapping, optional
        ``mode``, ``params``, ``config``: passed to a callable that names them, as TF's Estimator did.

    Returns
    -------
    InputFn, StreamingInput or BatchedInput
        ``StreamingInput`` only for parquet paths or when one was passed in; ``BatchedInput`` for batches.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]})
    >>> fn = resolve_input(df, label="y", batch_size=2, shuffle=False)
    >>> fn.feature_names, fn.labels.tolist()
    (['a'], [0, 1])
    >>> type(resolve_input(({"a": np.ones(2)}, np.ones(2)) for _ in range(3))).__name__
    'BatchedInput'
    """
    settings = {"batch_size": batch_size, "num_epochs": num_epochs, "shuffle": shuffle, "seed": seed}
    if isinstance(source, InputFn | StreamingInput | BatchedInput):
        return source
    if isinstance(source, str | os.PathLike):
        return _from_path(os.fspath(source), label, settings)
    if isinstance(source, pd.DataFrame):
        return _from_frame(source, label, settings)
    if isinstance(source, Mapping):
        return _from_dict(source, label, settings)
    if is_batch_iterable(source):
        return BatchedInput(source, label=label, num_epochs=num_epochs or 1)
    if callable(source):
        return _from_callable(source, label, settings, input_fn_args)
    raise TypeError(
        f"input must be an InputFn, a DataFrame, a dict of arrays, an iterable of (features, labels) batches or "
        f"a function returning one of those; got {type(source).__name__}."
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


def _is_data(value: Any) -> bool:
    return isinstance(value, pd.DataFrame | Mapping | np.ndarray | torch.Tensor)


def _from_callable(function: Callable[..., Any], label: LabelSpec, settings: dict[str, Any],
                   input_fn_args: Mapping[str, Any] | None = None) -> InputFn | StreamingInput | BatchedInput:
    result = call_input_fn(function, input_fn_args)
    if isinstance(result, InputFn | StreamingInput | BatchedInput):
        return result
    if isinstance(result, tuple) and len(result) == 2 and _is_data(result[0]):
        features, labels = result
    elif is_batch_iterable(result):  # batches; the function is called again for each epoch

        def again() -> Any:
            return call_input_fn(function, input_fn_args)

        return BatchedInput(again, label=label, num_epochs=settings["num_epochs"] or 1, first=result,
                            name=_qualname(function))
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
    if isinstance(features, np.ndarray | torch.Tensor):  # one array: the feature "x", as numpy_input_fn
        if isinstance(labels, torch.Tensor):
            labels = labels.detach().cpu().numpy()
        elif isinstance(labels, pd.Series):
            labels = labels.to_numpy()
        array = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else features
        return numpy_input_fn(array, labels, **settings)
    raise TypeError(
        f"input function {name!r} must return (features, labels), features, or an iterable of (features, labels) "
        f"batches, with features a DataFrame, a dict of arrays or an array; got {type(result).__name__}"
        + (f" with features of type {type(features).__name__}" if isinstance(result, tuple) else "")
        + "."
    )


def _qualname(function: Any) -> str:
    return str(getattr(function, "__qualname__", None) or type(function).__qualname__)


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
