"""Evaluation and prediction over a data source with a :class:`ModelState` (no events, no files).

Evaluation runs over the whole input once, in order: logits of all batches are concatenated and the head
computes the metrics over them (``head.metrics(logits, labels, weights, num_batches=...)``), so nothing is
averaged per batch. Under torchrun each rank evaluates its shard and the results are gathered.

Examples
--------
>>> import torch
>>> from estlab.estimators.model_state import ModelState
>>> state = ModelState(module=torch.nn.Linear(1, 1), head=None, transformer=None,
...                    device=torch.device("cpu"), input_names=["x"])
>>> logits, n_rows, n_batches = batch_logits(state, {"x": torch.zeros(5, 1)}, batch_size=2, steps=None, mode="eval")
>>> n_rows, n_batches
(5, 3)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from estlab.estimators.custom import ModeKeys
from estlab.estimators.heads import Head
from estlab.estimators.model_state import ModelState
from estlab.inputs import iter_batches, resolve_input
from estlab.inputs.source import DataSource, as_source
from estlab.training import distributed


def metrics_fn(state: ModelState, batch_size: int, autocast: torch.dtype | None = None,
               input_fn_args: dict[str, Any] | None = None) -> Any:
    """``metrics(input_fn, steps=None, label=None) -> {metric: float}`` over ``state``: what a session evaluates with.

    ``label`` defaults to the training label remembered by the model. A TF ``input_fn`` naming ``mode`` gets
    ``"eval"``; ``input_fn_args`` (``params``, ``config``) are passed to one that names them.
    """
    call_args = {**(input_fn_args or {}), "mode": ModeKeys.EVAL}

    def metrics(input_fn: Any, steps: int | None = None, label: Any = None) -> dict[str, float]:
        label = label if label is not None else state.label
        source = as_source(resolve_input(input_fn, label=label, batch_size=batch_size, num_epochs=1, shuffle=False,
                                         input_fn_args=call_args))
        if not source.has_labels:
            raise ValueError("evaluate: the input has no labels; pass label='<target column>' with a "
                             "DataFrame, or an input_fn that returns (features, labels)")
        return evaluate_metrics(state, source, steps, autocast, label=label)

    return metrics


def prediction_source(state: ModelState, input_fn: Any, batch_size: int,
                      input_fn_args: dict[str, Any] | None = None) -> DataSource:
    """The input to predict on, once, in order (a DataFrame's training label column is dropped).

    A TF ``input_fn`` naming ``mode`` gets ``"infer"``; ``input_fn_args`` (``params``, ``config``) are passed to
    one that names them. Batches of an iterable may be features only.
    """
    if isinstance(input_fn, pd.DataFrame) and isinstance(state.label, str) and state.label in input_fn.columns:
        input_fn = input_fn.drop(columns=[state.label])
    return as_source(resolve_input(input_fn, batch_size=batch_size, num_epochs=1, shuffle=False,
                                   input_fn_args={**(input_fn_args or {}), "mode": ModeKeys.PREDICT}))


def batch_logits(state: ModelState, encoded: dict[str, torch.Tensor], batch_size: int, steps: int | None,
                 mode: str, autocast: torch.dtype | None = None) -> tuple[torch.Tensor, int, int]:
    """Logits of the first ``steps`` batches (all when None), on the CPU: ``(logits, rows, batches)``.

    Batches are row slices (views, no copy), forwarded under ``torch.inference_mode``; the module is put in
    eval mode once for all of them.
    """
    n_rows = len(next(iter(encoded.values())))
    forward = state.forward_fn(mode)
    parts = []
    amp = (torch.autocast(state.device.type, dtype=autocast) if autocast is not None
           else contextlib.nullcontext())
    state.module.eval()
    try:
        with torch.inference_mode(), amp:
            for i, rows in enumerate(iter_batches(n_rows, batch_size)):
                if steps is not None and i >= steps:
                    break
                parts.append(forward({k: v[rows] for k, v in encoded.items()}).float().cpu())
    finally:
        state.module.train()
    # made outside inference mode: a normal tensor, which heads and user metric functions may use freely
    logits = torch.cat(parts) if len(parts) > 1 else parts[0].clone() if parts else torch.zeros(0, 1)
    return logits, len(logits), len(parts)


def evaluate_metrics(state: ModelState, source: Any, steps: int | None = None,
                     autocast: torch.dtype | None = None, label: Any = None) -> dict[str, float]:
    """Metrics of the whole ``source`` (or its first ``steps`` batches), as plain floats.

    With ``steps`` every rank evaluates the same batches; without, each rank its shard, gathered here.
    ``label`` (the ``label=`` of this evaluation) names the label column in label errors.
    """
    world = distributed.get_world_size() if steps is None else 1
    all_logits: list[torch.Tensor] = []
    all_labels: list[torch.Tensor] = []
    all_weights: list[torch.Tensor] = []  # empty when the examples are unweighted (every part or none has weights)
    n_batches = 0
    for part in source.one_pass(distributed.get_rank(), world):
        if steps is not None and n_batches >= steps:
            break
        encoded, labels, weights = state.encode(part, with_labels=True, label_key=label)
        remaining = None if steps is None else steps - n_batches
        logits, n_rows, batches = batch_logits(state, encoded, source.batch_size, remaining, ModeKeys.EVAL, autocast)
        n_batches += batches
        all_logits.append(logits)
        all_labels.append(labels[:n_rows].cpu())
        if weights is not None:
            all_weights.append(weights[:n_rows].cpu())
    if not all_logits:
        raise ValueError("evaluate: the input has no rows; pass a non-empty evaluation set")
    logits, labels = torch.cat(all_logits), torch.cat(all_labels)
    weights = torch.cat(all_weights) if all_weights else None
    if world > 1:
        logits, labels = distributed.gather_concat(logits), distributed.gather_concat(labels)
        weights = None if weights is None else distributed.gather_concat(weights)
        n_batches = int(distributed.all_reduce_sums({"batches": n_batches})["batches"])
    metrics = state.head.metrics(logits, labels, weights, num_batches=n_batches)
    return {k: float(v) for k, v in metrics.items()}


#: Rows whose predictions the head computes in one call (a whole number of batches; bounds the memory held).
PREDICTION_BLOCK_ROWS = 1 << 16


class PredictionBatches(Iterator[dict[str, np.ndarray]]):
    """The prediction arrays of :func:`predict_batches`, one dict per batch, and ``class_names``.

    An input without rows gives one batch of zero rows with every prediction key and its dtype (so
    ``predict_frame`` has its usual columns); ``class_names`` then holds the head's class names, which the
    zero-row ``all_classes`` array has no row to carry (None otherwise).
    """

    def __init__(self, state: ModelState, source: Any, keys: Sequence[str] | None, whole_blocks: bool = False) -> None:
        self.class_names: list[str] | None = None
        self._whole_blocks = whole_blocks
        self._batches = self._predict(state, source, keys)

    def __iter__(self) -> PredictionBatches:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        return next(self._batches)

    def _predict(self, state: ModelState, source: Any, keys: Sequence[str] | None) -> Iterator[dict[str, np.ndarray]]:
        rows = 0
        for part in source.one_pass():
            if _n_rows(part.features) == 0:
                state.check_input_keys(part.features)  # nothing to encode, but the columns must be there
                continue
            encoded, _, _ = state.encode(part, with_labels=False)
            n_rows = len(next(iter(encoded.values())))
            rows += n_rows
            for block in _blocks(n_rows, source.batch_size, isinstance(state.head, Head)):
                arrays = _prediction_arrays(state, {k: v[block] for k, v in encoded.items()}, source.batch_size, keys)
                if self._whole_blocks or block.stop - block.start <= source.batch_size:
                    yield arrays
                    continue
                for batch in iter_batches(block.stop - block.start, source.batch_size):
                    yield {k: v[batch] for k, v in arrays.items()}
        if rows == 0:
            empty = _empty_predictions(state, keys)
            if empty is not None:
                arrays, self.class_names = empty
                yield arrays


def predict_batches(state: ModelState, source: Any, keys: Sequence[str] | None,
                    whole_blocks: bool = False) -> PredictionBatches:
    """Prediction arrays (TF's keys, or ``keys``), one dict per batch of ``source.batch_size`` rows.

    ``whole_blocks`` yields each block of batches the head predicted at once as one dict (``predict_frame``,
    which concatenates them anyway).

    An estlab head (``estlab.estimators.heads.Head``: row-wise predictions) computes the predictions of a block
    of batches at once (``PREDICTION_BLOCK_ROWS``) and the batches are views of those columns; any other head
    (a custom ``predictions_fn``, a TF ``model_fn``) is called once per batch, as the batch was forwarded. An
    input without rows gives one zero-row batch when the head's ``logits_dimension`` is known (see
    :class:`PredictionBatches`).
    """
    return PredictionBatches(state, source, keys, whole_blocks)


def _n_rows(features: Any) -> int | None:
    """Rows of a part's features (a frame or a dict of arrays); None when it can't be told without encoding."""
    if isinstance(features, pd.DataFrame):
        return len(features)
    if isinstance(features, dict):
        if not features:
            return 0
        first = next(iter(features.values()))
        shape = getattr(first, "shape", None)
        return int(shape[0]) if shape else None
    return None


def _blocks(n_rows: int, batch_size: int, row_wise: bool) -> Iterator[slice]:
    """Row slices of whole batches: ``PREDICTION_BLOCK_ROWS`` at a time when predictions are row-wise, else one."""
    per_block = max(1, PREDICTION_BLOCK_ROWS // batch_size) if row_wise else 1
    return iter_batches(n_rows, batch_size * per_block)


def _select(predictions: dict[str, Any], keys: Sequence[str] | None) -> dict[str, Any]:
    """``predictions`` restricted to ``keys`` (all when None); an unknown key is an error listing the valid ones."""
    if keys is None:
        return predictions
    unknown = [k for k in keys if k not in predictions]
    if unknown:
        raise ValueError(f"predict_keys: {unknown} are not predictions of this model; "
                         f"valid keys are {sorted(predictions)}")
    return {k: predictions[k] for k in keys}


def _numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _prediction_arrays(state: ModelState, encoded: dict[str, torch.Tensor], batch_size: int,
                       keys: Sequence[str] | None) -> dict[str, np.ndarray]:
    """The head's predictions of ``encoded`` (forwarded batch by batch) as numpy arrays, keys checked."""
    logits, _, _ = batch_logits(state, encoded, batch_size, None, ModeKeys.PREDICT)
    with torch.no_grad():
        predictions = state.head.predictions(logits)
    return {k: _numpy(v) for k, v in _select(predictions, keys).items()}


def _empty_predictions(state: ModelState, keys: Sequence[str] | None) -> tuple[dict[str, np.ndarray],
                                                                                list[str] | None] | None:
    """Zero-row prediction arrays with the dtypes and widths of real ones, and the class names; None when the
    head does not say its ``logits_dimension`` (a custom ``predictions_fn``: nothing is yielded, as before).

    The head predicts one row of zero logits and every array keeps none of its rows; an object array of
    strings becomes a numpy string array, which pandas reads as strings as it reads a non-empty one.
    """
    dimension = getattr(state.head, "logits_dimension", None)
    if isinstance(dimension, bool) or not isinstance(dimension, int):
        return None
    with torch.no_grad():
        one = {k: _numpy(v) for k, v in state.head.predictions(torch.zeros(1, dimension)).items()}
    names = ([v.decode() if isinstance(v, bytes) else str(v) for v in one["all_classes"].reshape(-1)]
             if "all_classes" in one else None)
    arrays = {}
    for key, value in _select(one, keys).items():
        if value.dtype == object and all(isinstance(v, str) for v in value.reshape(-1)):
            value = np.array(value.tolist(), dtype=str)
        arrays[key] = value[:0]
    return arrays, names


def single_examples(batches: Iterator[dict[str, np.ndarray]]) -> Iterator[dict[str, Any]]:
    """One dict per example from per-batch prediction dicts, built lazily, a batch's rows at a time.

    Each value is what ``array[i]`` gives (a numpy scalar, or a view of the row).

    Examples
    --------
    >>> [d["p"] for d in single_examples(iter([{"p": np.array([1, 2])}]))]
    [np.int64(1), np.int64(2)]
    """
    builders: dict[tuple[Any, ...], Any] = {}
    for arrays in batches:
        keys = tuple(arrays)
        if not keys:
            continue
        build = builders.get(keys)
        if build is None:
            build = builders[keys] = _row_builder(keys)
        rows = {k: len(arrays[k]) for k in keys}
        if len(set(rows.values())) > 1:
            raise ValueError(f"predictions of one batch have different numbers of rows: {rows}; every "
                             "prediction needs one value per example")
        # iterating an array makes its row scalars/views in C; map calls the builder with one row of each
        yield from map(build, *(arrays[k] for k in keys))


def _row_builder(keys: tuple[Any, ...]) -> Any:
    """``build(v0, v1, ...) -> {keys[0]: v0, keys[1]: v1, ...}``, a dict display of those keys.

    A display makes the dict at its final size in one step, about twice as fast as ``dict(zip(keys, row))``;
    like ``collections.namedtuple``, the function is compiled from generated source, which holds only
    generated names (``k0, v0, ...``): the keys themselves are bound as closure values, never written into it.

    Examples
    --------
    >>> _row_builder(("a", 1))(10, 20)
    {'a': 10, 1: 20}
    """
    names = [f"k{i}" for i in range(len(keys))]
    values = [f"v{i}" for i in range(len(keys))]
    pairs = ", ".join(f"{k}: {v}" for k, v in zip(names, values, strict=True))
    source = (f"def bind({', '.join(names)}):\n"
              f"    def build({', '.join(values)}):\n"
              f"        return {{{pairs}}}\n"
              f"    return build\n")
    namespace: dict[str, Any] = {}
    exec(compile(source, "<estlab prediction row>", "exec"), {"__builtins__": {}}, namespace)  # noqa: S102
    return namespace["bind"](*keys)
