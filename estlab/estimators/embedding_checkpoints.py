"""Embedding tables initialised from a checkpoint: TF's ``ckpt_to_load_from`` / ``tensor_name_in_ckpt``.

``embedding_column(..., ckpt_to_load_from=path, tensor_name_in_ckpt=name)`` gives a new model's table the
value of variable ``name`` (as ``Estimator.get_variable_names()`` lists it) of an estlab checkpoint: a
``model.ckpt-<step>.pt`` file, or a model_dir, whose newest checkpoint is read. The file is read with
:func:`estlab.training.checkpoints.load_checkpoint` (CRCs checked, ``weights_only``: tensors and plain
values, no code runs). Estimators call :func:`load_checkpoint_tables` when they build a model; a model
restored from its own checkpoint keeps its trained tables (as TF, whose initialisation from a checkpoint
only happens when a variable is first initialised).

Examples
--------
>>> import torch
>>> load_checkpoint_tables(torch.nn.Linear(1, 1))  # a module without such tables: nothing to read
[]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from estlab.features import DenseFeatures
from estlab.training import checkpoints

#: at most this many variables are listed when a name or a shape does not match
_LISTED = 40


class EmbeddingCheckpointError(ValueError):
    """A ``ckpt_to_load_from`` checkpoint can't give a table its initial value (path, variable or shape).

    Examples
    --------
    >>> issubclass(EmbeddingCheckpointError, ValueError)
    True
    """


def checkpoint_file(path: str | os.PathLike, column: str = "") -> Path:
    """The checkpoint file ``path`` names: itself, or the newest checkpoint of a model_dir.

    Examples
    --------
    >>> checkpoint_file("/nonexistent/model_dir")
    Traceback (most recent call last):
    ...
    estlab.estimators.embedding_checkpoints.EmbeddingCheckpointError: ckpt_to_load_from='/nonexistent/model_dir' does not exist; give an estlab model_dir or one of its model.ckpt-<step>.pt files.
    """
    where = f"embedding column {column!r}: " if column else ""
    given = Path(path)
    if given.is_dir():
        latest = checkpoints.latest_checkpoint(given)
        if latest is None:
            raise EmbeddingCheckpointError(
                f"{where}ckpt_to_load_from={str(path)!r} is a directory without checkpoints "
                f"({checkpoints.PREFIX}<step>.pt); train the source estimator first or name a checkpoint file."
            )
        return latest
    if not given.is_file():
        raise EmbeddingCheckpointError(
            f"{where}ckpt_to_load_from={str(path)!r} does not exist; give an estlab model_dir or one of its "
            f"{checkpoints.PREFIX}<step>.pt files."
        )
    return given


def _listing(state: dict[str, Any], shape: tuple[int, ...] | None = None) -> str:
    items = [
        (name, tuple(value.shape)) for name, value in sorted(state.items()) if isinstance(value, torch.Tensor)
    ]
    if shape is not None:
        same = [f"{name} {list(s)}" for name, s in items if s == shape]
        return f"variables of shape {list(shape)}: {same}" if same else f"no variable has shape {list(shape)}"
    shown = [f"{name} {list(s)}" for name, s in items[:_LISTED]]
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return f"its variables (name [shape]) are {shown}{more}"


def read_variable(path: str | os.PathLike, name: str, column: str = "") -> tuple[torch.Tensor, Path]:
    """Variable ``name`` of the checkpoint ``path`` names (a file or a model_dir), and the file read.

    Examples
    --------
    >>> read_variable("/nonexistent/model.ckpt-1.pt", "w")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    estlab.estimators.embedding_checkpoints.EmbeddingCheckpointError: ckpt_to_load_from='/nonexistent/model.ckpt-1.pt' does not exist; ...
    """
    file = checkpoint_file(path, column)
    state = checkpoints.load_checkpoint(file).get("model", {})
    if name not in state or not isinstance(state[name], torch.Tensor):
        where = f"embedding column {column!r}: " if column else ""
        raise EmbeddingCheckpointError(
            f"{where}tensor_name_in_ckpt={name!r} is not a variable of checkpoint {str(file)!r}; {_listing(state)}."
        )
    return state[name], file


def load_checkpoint_tables(module: torch.nn.Module) -> list[str]:
    """Give every embedding table of ``module`` whose column names ``ckpt_to_load_from`` its value from there.

    Returns the tables filled (``DenseFeatures`` parameter names). A variable of another shape than the
    table (``(num_buckets, dimension)``) is refused, listing the checkpoint's variables of the table's shape.

    Examples
    --------
    >>> from estlab.features import categorical_column_with_identity, embedding_column
    >>> layer = DenseFeatures([embedding_column(categorical_column_with_identity("h", 3), 2)])
    >>> load_checkpoint_tables(layer)
    []
    """
    filled: list[str] = []
    for layer in module.modules():
        if not isinstance(layer, DenseFeatures):
            continue
        for table, (column, path, variable) in layer.checkpoint_tables().items():
            value, file = read_variable(path, variable, column)
            target = layer.embedding_weights[table]
            if tuple(value.shape) != tuple(target.shape):
                state = checkpoints.load_checkpoint(file).get("model", {})
                raise EmbeddingCheckpointError(
                    f"embedding column {column!r}: variable {variable!r} of checkpoint {str(file)!r} has shape "
                    f"{list(value.shape)} but the table is {list(target.shape)} (num_buckets x dimension); "
                    f"{_listing(state, tuple(target.shape))}. Give the column the source's vocabulary and dimension."
                )
            with torch.no_grad():
                target.copy_(value.to(dtype=target.dtype, device=target.device))
            filled.append(table)
        layer.checkpoint_tables_done()
    return filled


def skip_checkpoint_tables(module: torch.nn.Module) -> None:
    """Mark ``module``'s checkpoint tables as settled without reading them (a model restored from its own checkpoint).

    Examples
    --------
    >>> skip_checkpoint_tables(torch.nn.Linear(1, 1))
    """
    for layer in module.modules():
        if isinstance(layer, DenseFeatures):
            layer.checkpoint_tables_done()


__all__ = [
    "EmbeddingCheckpointError",
    "checkpoint_file",
    "load_checkpoint_tables",
    "read_variable",
    "skip_checkpoint_tables",
]
