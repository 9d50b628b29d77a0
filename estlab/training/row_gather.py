"""A batch's rows of many same-length tensors with one ``index_select`` per dtype and device.

A training step of a tabular model takes the same rows of a dozen or more encoded columns (one tensor per
feature, the labels, the weights). One gather per tensor costs a dispatch each, which for small models is a
large share of the step. :class:`RowGather` packs the tensors of one dtype and device side by side once, at the
start of training, and then gathers each batch with one ``index_select`` per pack; every tensor comes back as
a view of its pack's rows with its original shape (columns wider than one value as a contiguous copy, as a
plain ``tensor[rows]`` would give).

Packing copies the tensors once (the originals are not changed); tensors that cannot be packed (no rows, a
length other than the first tensor's, the only one of their dtype) are gathered alone.

Examples
--------
>>> import torch
>>> gather = RowGather([torch.tensor([1.0, 2.0, 3.0]), torch.tensor([[4.0], [5.0], [6.0]]),
...                     torch.tensor([7, 8, 9])]).pack()
>>> [t.tolist() for t in gather(torch.tensor([2, 0]))]
[[3.0, 1.0], [[6.0], [4.0]], [9, 7]]
>>> gather.index_ops
2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class _Member:
    """Where one tensor lies in its pack: ``position`` in the caller's list, columns ``start:start+width``."""

    position: int
    start: int
    width: int
    shape: tuple[int, ...]  # the tensor's shape after its first dimension


class RowGather:
    """Gather the same rows of many tensors with one index op per dtype and device (see the module docstring).

    Parameters
    ----------
    tensors : sequence of torch.Tensor
        Tensors whose first dimension is the row (all of the same length to be packed together).

    Examples
    --------
    >>> import torch
    >>> gather = RowGather([torch.arange(4), torch.arange(8).reshape(4, 2)]).pack()
    >>> [t.tolist() for t in gather(torch.tensor([3, 1]))]
    [[3, 1], [[6, 7], [2, 3]]]
    """

    def __init__(self, tensors: Sequence[torch.Tensor]) -> None:
        self._tensors = list(tensors)
        rows = tensors[0].shape[0] if tensors and tensors[0].dim() else -1
        self._rows = rows
        groups: dict[object, list[int]] = {}
        for i, t in enumerate(tensors):
            packable = (t.layout == torch.strided and t.dim() >= 1 and t.shape[0] == rows and not t.requires_grad
                        and t.numel() > 0)
            groups.setdefault((t.dtype, t.device) if packable else i, []).append(i)
        self._groups = list(groups.values())
        self._packs: list[tuple[torch.Tensor, list[_Member]]] | None = None
        self._alone = [(g[0], tensors[g[0]]) for g in self._groups if len(g) == 1]

    @property
    def index_ops(self) -> int:
        """How many index operations one call makes once packed (one per pack, one per tensor gathered alone)."""
        return len(self._groups)

    @property
    def packed(self) -> bool:
        """True once :meth:`pack` has finished; until then calls gather tensor by tensor (same values)."""
        return self._packs is not None

    def pack(self) -> RowGather:
        """Copy the tensors of each dtype side by side (once; safe to run on another thread while calls go on).

        Examples
        --------
        >>> import torch
        >>> RowGather([torch.zeros(3), torch.ones(3)]).pack().packed
        True
        """
        packs = []
        for positions in self._groups:
            if len(positions) == 1:
                continue
            members, start = [], 0
            for i in positions:
                shape = tuple(self._tensors[i].shape[1:])
                width = math.prod(shape)
                members.append(_Member(i, start, width, shape))
                start += width
            block = torch.cat([self._tensors[i].reshape(self._rows, -1) for i in positions], dim=1)
            packs.append((block, members))
        self._packs = packs  # one assignment: a concurrent call sees all packs or none
        return self

    def __call__(self, rows: torch.Tensor) -> list[torch.Tensor]:
        """The ``rows`` of every tensor, in the order given to the constructor."""
        packs = self._packs
        if packs is None:
            return [t[rows] for t in self._tensors]
        out: list[torch.Tensor | None] = [None] * len(self._tensors)
        for position, tensor in self._alone:
            out[position] = tensor[rows]
        n = rows.shape[0]
        for block, members in packs:
            taken = block.index_select(0, rows)
            for m in members:
                if not m.shape:  # (N,): one column of the pack
                    out[m.position] = taken.select(1, m.start)
                elif m.shape == (1,):  # (N, 1)
                    out[m.position] = taken.narrow(1, m.start, 1)
                else:
                    out[m.position] = taken.narrow(1, m.start, m.width).contiguous().reshape(n, *m.shape)
        return out  # type: ignore[return-value]


__all__ = ["RowGather"]
