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

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from estlab.estimators.custom import ModeKeys
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
        return evaluate_metrics(state, source, steps, autocast)

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
    """Logits of the first ``steps`` batches (all when None), on the CPU: ``(logits, rows, batches)``."""
    n_rows = len(next(iter(encoded.values())))
    forward = state.forward_fn(mode)
    parts = []
    state.module.eval()
    try:
        with torch.no_grad():
            for i, rows in enumerate(iter_batches(n_rows, batch_size)):
                if steps is not None and i >= steps:
                    break
                with torch.autocast(state.device.type, dtype=autocast, enabled=autocast is not None):
                    parts.append(forward({k: v[rows] for k, v in encoded.items()}).float().cpu())
    finally:
        state.module.train()
    logits = torch.cat(parts) if parts else torch.zeros(0, 1)
    return logits, len(logits), len(parts)


def evaluate_metrics(state: ModelState, source: Any, steps: int | None = None,
                     autocast: torch.dtype | None = None) -> dict[str, float]:
    """Metrics of the whole ``source`` (or its first ``steps`` batches), as plain floats.

    With ``steps`` every rank evaluates the same batches; without, each rank its shard, gathered here.
    """
    world = distributed.get_world_size() if steps is None else 1
    all_logits: list[torch.Tensor] = []
    all_labels: list[torch.Tensor] = []
    all_weights: list[torch.Tensor] = []  # empty when the examples are unweighted (every part or none has weights)
    n_batches = 0
    for part in source.one_pass(distributed.get_rank(), world):
        if steps is not None and n_batches >= steps:
            break
        encoded, labels, weights = state.encode(part, with_labels=True)
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


def predict_batches(state: ModelState, source: Any, keys: Sequence[str] | None) -> Iterator[dict[str, np.ndarray]]:
    """Prediction arrays (TF's keys, or ``keys``), one dict per batch of ``source.batch_size`` rows."""
    forward = state.forward_fn(ModeKeys.PREDICT)
    for part in source.one_pass():
        encoded, _, _ = state.encode(part, with_labels=False)
        n_rows = len(next(iter(encoded.values())))
        for rows in iter_batches(n_rows, source.batch_size):
            state.module.eval()
            try:
                with torch.no_grad():
                    predictions = state.head.predictions(forward({k: v[rows] for k, v in encoded.items()}).float())
            finally:
                state.module.train()
            if keys is not None:
                unknown = [k for k in keys if k not in predictions]
                if unknown:
                    raise ValueError(f"predict_keys: {unknown} are not predictions of this model; "
                                     f"valid keys are {sorted(predictions)}")
                predictions = {k: predictions[k] for k in keys}
            yield {k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
                   for k, v in predictions.items()}


def single_examples(batches: Iterator[dict[str, np.ndarray]]) -> Iterator[dict[str, Any]]:
    """One dict per example from per-batch prediction dicts.

    Examples
    --------
    >>> [d["p"] for d in single_examples(iter([{"p": np.array([1, 2])}]))]
    [np.int64(1), np.int64(2)]
    """
    for arrays in batches:
        n_rows = len(next(iter(arrays.values()))) if arrays else 0
        for i in range(n_rows):
            yield {k: v[i] for k, v in arrays.items()}
