"""TF's ``WarmStartSettings`` and ``VocabInfo``: which variables a new model takes from a checkpoint, and how.

``Estimator(..., warm_start_from=WarmStartSettings(ckpt, vars_to_warm_start="dnn.*"))``: when the model is
first built (no checkpoint in its own model_dir yet), every variable whose name matches one of the regexes
(``re.match``, from the start, as TF's scopes) is loaded from ``ckpt`` (a model_dir or checkpoint file) if
the shapes agree; names are estlab's (``est.get_variable_names()``). ``var_name_to_prev_var_name`` renames;
``var_name_to_vocab_info`` remaps an embedding (or output) matrix whose rows follow a vocabulary that
changed: each row of a token of the new vocabulary takes the old row of the same token; rows of new tokens
and OOV buckets keep their fresh initialisation (or ``backup_initializer``).

A ``WarmStartSettings`` is also a ``str`` (its checkpoint path), so it goes wherever a path is accepted.

Examples
--------
>>> settings = WarmStartSettings("/models/old", vars_to_warm_start="hidden.*")
>>> settings.ckpt_to_initialize_from, settings.vars_to_warm_start, str(settings) is settings
('/models/old', 'hidden.*', True)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

#: state-dict entries that are never warm-started (a model_fn module's kept first training rows)
_NOT_VARIABLES = ("_model_fn_example.",)


@dataclass(frozen=True)
class VocabInfo:
    """How to remap a variable whose rows (``axis=0``) or columns (``axis=1``) follow a vocabulary (TF's).

    Parameters
    ----------
    new_vocab : str or sequence of str
        The new model's vocabulary: a file with one token per line (as TF), or the tokens.
    new_vocab_size : int
        How many of ``new_vocab``'s tokens the variable has rows for.
    num_oov_buckets : int
        OOV rows after the vocabulary rows (never taken from the checkpoint).
    old_vocab : str or sequence of str
        The checkpoint's vocabulary.
    old_vocab_size : int
        How many of ``old_vocab``'s tokens the old variable has rows for (``-1``: all).
    backup_initializer : callable, optional
        Fills (in place) the rows not found in the old vocabulary; default: keep the fresh initialisation.
    axis : int
        0 (rows, e.g. an embedding table) or 1 (columns, e.g. a classifier's output kernel as ``(in, out)``).

    Examples
    --------
    >>> VocabInfo(["b", "a"], 2, 0, ["a", "b"]).tokens()
    (['b', 'a'], ['a', 'b'])
    """

    new_vocab: str | Sequence[str]
    new_vocab_size: int
    num_oov_buckets: int
    old_vocab: str | Sequence[str]
    old_vocab_size: int = -1
    backup_initializer: Callable[[torch.Tensor], Any] | None = None
    axis: int = 0

    def __post_init__(self) -> None:
        if self.axis not in (0, 1):
            raise ValueError(f"VocabInfo: axis={self.axis!r}; use 0 (rows) or 1 (columns)")

    def tokens(self) -> tuple[list[str], list[str]]:
        """``(new tokens, old tokens)``, cut to ``new_vocab_size`` / ``old_vocab_size``."""
        new = _read_vocab(self.new_vocab)[: self.new_vocab_size]
        old = _read_vocab(self.old_vocab)
        return new, old if self.old_vocab_size < 0 else old[: self.old_vocab_size]


def _read_vocab(vocab: str | Sequence[str]) -> list[str]:
    if isinstance(vocab, str | Path):
        return [line.rstrip("\n") for line in Path(vocab).read_text().splitlines()]
    return [str(token) for token in vocab]


class WarmStartSettings(str):
    """TF's ``tf.estimator.WarmStartSettings``: a checkpoint and which of its variables initialise a new model.

    Parameters
    ----------
    ckpt_to_initialize_from : str
        A model_dir or a checkpoint file.
    vars_to_warm_start : str, sequence of str or None
        A regex, or a list of regexes, matched (``re.match``) against variable names; ``None``: only the
        variables of ``var_name_to_vocab_info``.
    var_name_to_vocab_info : mapping of str to VocabInfo, optional
        Variables whose rows follow a vocabulary that changed.
    var_name_to_prev_var_name : mapping of str to str, optional
        New variable name → its name in the checkpoint.

    Examples
    --------
    >>> WarmStartSettings("/m", ["a.*", "b"]).matches("b.weight"), WarmStartSettings("/m", None).matches("b")
    (True, False)
    """

    ckpt_to_initialize_from: str
    vars_to_warm_start: str | Sequence[str] | None
    var_name_to_vocab_info: dict[str, VocabInfo]
    var_name_to_prev_var_name: dict[str, str]

    def __new__(cls, ckpt_to_initialize_from: str, vars_to_warm_start: str | Sequence[str] | None = ".*",
                var_name_to_vocab_info: Mapping[str, VocabInfo] | None = None,
                var_name_to_prev_var_name: Mapping[str, str] | None = None) -> WarmStartSettings:
        settings = super().__new__(cls, str(ckpt_to_initialize_from))
        settings.ckpt_to_initialize_from = str(ckpt_to_initialize_from)
        settings.vars_to_warm_start = vars_to_warm_start
        settings.var_name_to_vocab_info = dict(var_name_to_vocab_info or {})
        settings.var_name_to_prev_var_name = dict(var_name_to_prev_var_name or {})
        return settings

    def __str__(self) -> str:
        return self  # keeps the settings where a path is taken with str()

    def __repr__(self) -> str:
        return (f"WarmStartSettings({self.ckpt_to_initialize_from!r}, vars_to_warm_start={self.vars_to_warm_start!r}, "
                f"var_name_to_vocab_info={self.var_name_to_vocab_info!r}, "
                f"var_name_to_prev_var_name={self.var_name_to_prev_var_name!r})")

    def matches(self, name: str) -> bool:
        """Whether variable ``name`` is warm-started (by ``vars_to_warm_start`` or a ``VocabInfo``)."""
        if name in self.var_name_to_vocab_info:
            return True
        patterns = self.vars_to_warm_start
        if patterns is None:
            return False
        if isinstance(patterns, str):
            patterns = [patterns]
        return any(re.match(pattern, name) for pattern in patterns)


def remap_vocab(new_value: torch.Tensor, old_value: torch.Tensor, info: VocabInfo) -> torch.Tensor:
    """``new_value`` with each new-vocabulary row (``axis``) taken from the old row of the same token.

    Examples
    --------
    >>> old = torch.tensor([[1.0], [2.0], [3.0]])  # rows of "a", "b", "c"
    >>> remap_vocab(torch.zeros(4, 1), old, VocabInfo(["c", "x", "a"], 3, 1, ["a", "b", "c"])).tolist()
    [[3.0], [0.0], [1.0], [0.0]]
    """
    new_tokens, old_tokens = info.tokens()
    old_index = {token: i for i, token in enumerate(old_tokens)}
    out = new_value.detach().clone()
    view, old_view = (out, old_value) if info.axis == 0 else (out.transpose(0, 1), old_value.transpose(0, 1))
    if view.shape[1:] != old_view.shape[1:]:
        raise ValueError(f"VocabInfo: the new variable {tuple(new_value.shape)} and the old one "
                         f"{tuple(old_value.shape)} differ beyond the vocabulary axis {info.axis}")
    expected = len(new_tokens) + info.num_oov_buckets
    if view.shape[0] != expected:
        raise ValueError(f"VocabInfo: the new variable has {view.shape[0]} rows on axis {info.axis}, but "
                         f"new_vocab_size + num_oov_buckets = {expected}")
    missing = []
    with torch.no_grad():
        for i, token in enumerate(new_tokens):
            j = old_index.get(token)
            if j is not None and j < old_view.shape[0]:
                view[i] = old_view[j].to(view.dtype)
            else:
                missing.append(i)
        missing.extend(range(len(new_tokens), expected))
        if info.backup_initializer is not None:
            for i in missing:
                info.backup_initializer(view[i])
    return out


def apply_warm_start(module: torch.nn.Module, old_state: Mapping[str, torch.Tensor],
                     settings: WarmStartSettings) -> int:
    """Load the selected variables of ``old_state`` into ``module``; returns how many were loaded.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Linear(1, 1))
    >>> old = {k: torch.full_like(v, 7.0) for k, v in net.state_dict().items()}
    >>> apply_warm_start(net, old, WarmStartSettings("/m", r"0\\."))
    2
    >>> net[0].weight.item(), net[1].weight.item() == 7.0
    (7.0, False)
    """
    own = module.state_dict()
    unknown = [name for name in settings.var_name_to_vocab_info if name not in own]
    if unknown:
        raise ValueError(f"WarmStartSettings: var_name_to_vocab_info names {unknown}, which are not variables of "
                         f"this model; its variables are {sorted(own)}")
    updates: dict[str, torch.Tensor] = {}
    for name, value in own.items():
        if name.startswith(_NOT_VARIABLES) or not isinstance(value, torch.Tensor) or not settings.matches(name):
            continue
        old_name = settings.var_name_to_prev_var_name.get(name, name)
        if old_name not in old_state:
            logger.info("warm start: %s has no %s in the checkpoint; kept as initialised", name, old_name)
            continue
        info = settings.var_name_to_vocab_info.get(name)
        if info is not None:
            updates[name] = remap_vocab(value, old_state[old_name], info)
        elif old_state[old_name].shape == value.shape:
            updates[name] = old_state[old_name]
        else:
            logger.info("warm start: %s has shape %s here and %s in the checkpoint; kept as initialised",
                        name, tuple(value.shape), tuple(old_state[old_name].shape))
    module.load_state_dict(updates, strict=False)
    return len(updates)


__all__ = ["VocabInfo", "WarmStartSettings", "apply_warm_start", "remap_vocab"]
