"""The fused forward of ``DenseFeatures`` and ``LinearFeatures``: one op per column *kind*, not per column.

Per-column layers run a block of 5-10 small ops for every column on every step; on a tabular model with a
dozen columns that Python and dispatch overhead costs more than the MLP. The fused forward reads the same
encoded dict and gives the same output (to float rounding, in TF's name order) with:

* **indicator and bucketized columns** (``layer_role == "ids"``): their ids shifted by per-column offsets into
  one ``(N, sum of widths)`` block, filled by **one** ``scatter_add_``;
* **embedding columns** (``"table"``), grouped by dimension: the group's tables (a shared table once) and one
  zero row concatenated into one table; single-valued unweighted columns (``K == 1``, the common case) are
  **one** lookup (``index_select`` on the CPU, ``F.embedding`` elsewhere) whose ``-1`` ids read the zero row; multivalent or weighted columns are **one**
  ``F.embedding_bag`` (``mode="sum"``, ``per_sample_weights``) with the ``mean`` / ``sqrtn`` denominators of
  all of them computed together. A table with ``max_norm`` keeps the per-column path. Tables whose rows add up
  to more than ``MAX_FUSED_ROWS`` are not concatenated (the copy would cost more than it saves);
* **numeric columns** (``"values"``): their value blocks, placed directly in the one final ``torch.cat``;
* ``LinearFeatures`` with the ``"sum"`` combiner: all its id columns' weights in **one** lookup summed over the
  columns (unweighted) or **one** ``F.embedding_bag`` (weighted columns).

Each column's ``tensor_stage`` (``normalizer_fn``, in-model bucketizing) still runs on its own tensor first,
so any callable works and ``torch.export`` captures it. The plan (keys, offsets, groups) is made once when the
layer is bound; nothing of it is a parameter or a persistent buffer, so checkpoints are unchanged.

Examples
--------
>>> from estlab.features import DenseFeatures, categorical_column_with_identity as ident, indicator_column
>>> layer = DenseFeatures([indicator_column(ident("a", 2)), indicator_column(ident("b", 3))])
>>> layer({"a": [1], "b": [0]}).tolist()
[[0.0, 1.0, 1.0, 0.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from estlab.features.dense import _EmbeddingKind

if TYPE_CHECKING:
    from estlab.features._base import FeatureColumn
    from estlab.features.transformer import FeatureTransformer

#: Tables of one dimension are concatenated (every step) only while their rows add up to at most this many.
MAX_FUSED_ROWS = 1 << 16

_WEIGHTS_SUFFIX = "/weights"  # estlab.features.transformer.WEIGHTS_SUFFIX (not imported: no cycle)


@dataclass
class _Slot:
    """One column of the output: where its encoding is, how wide it is."""

    index: int
    column: Any
    key: str
    width: int
    offset: int = 0  # ids: first bucket in the fused block; table: first row in the fused table


@dataclass
class _TableGroup:
    """Embedding columns of one dimension whose tables are looked up together."""

    dimension: int
    tables: list[str] = field(default_factory=list)  # parameter names, each once, in offset order
    rows: int = 0
    slots: list[_Slot] = field(default_factory=list)


@dataclass
class DensePlan:
    """How ``DenseFeatures`` computes its output with one op per kind (made once, when the layer is bound)."""

    n_columns: int
    values: list[_Slot]
    ids: list[_Slot]
    ids_width: int
    groups: list[_TableGroup]
    per_column: list[_Slot]  # columns that keep the per-column block (max_norm tables, oversized groups)


def dense_plan(columns: list[FeatureColumn], transformer: FeatureTransformer, param_name: Any) -> DensePlan:
    """Group ``columns`` (sorted, as ``DenseFeatures`` keeps them) by kind into a :class:`DensePlan`."""
    values: list[_Slot] = []
    ids: list[_Slot] = []
    per_column: list[_Slot] = []
    by_dim: dict[int, list[_Slot]] = {}
    ids_width = 0
    for i, c in enumerate(columns):
        key = transformer.encoded_key(c)
        width = transformer.column_width(c)
        slot = _Slot(i, c, key, width)
        if c.layer_role == "values":
            values.append(slot)
        elif c.layer_role == "ids":
            slot.offset, ids_width = ids_width, ids_width + width
            ids.append(slot)
        elif getattr(c, "max_norm", None) is not None:
            per_column.append(slot)
        elif isinstance(c, _EmbeddingKind):  # layer_role "table"
            by_dim.setdefault(c.dimension, []).append(slot)
        else:
            raise TypeError(f"{type(c).__name__}: layer_role {c.layer_role!r} is not a dense input")
    groups: list[_TableGroup] = []
    for dim, slots in by_dim.items():
        group = _TableGroup(dim)
        starts: dict[str, int] = {}
        for s in slots:
            name = param_name(s.column.table_name)
            if name not in starts:
                starts[name] = group.rows
                group.tables.append(name)
                group.rows += transformer.num_buckets(s.column.leaf)
            s.offset = starts[name]
            group.slots.append(s)
        if group.rows > MAX_FUSED_ROWS:
            per_column.extend(slots)
        else:
            groups.append(group)
    return DensePlan(len(columns), values, ids, ids_width, groups, per_column)


def _staged(slot: _Slot, encoded: dict[str, torch.Tensor], fitted: Any) -> torch.Tensor:
    value = encoded[slot.key]
    if value.dim() == 1:  # a hand-made (N,) tensor: one value per row
        value = value.unsqueeze(1)
    return slot.column.leaf.tensor_stage(value, fitted)  # normalizer_fn / in-model bucketizing, as in TF


def _ids_and_weights(slots: list[_Slot], encoded: dict[str, torch.Tensor], fitted: Any,
                     n: int) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
    ids, weights = [], []
    for s in slots:
        v = _staged(s, encoded, fitted)
        ids.append(v.reshape(n, -1))
        weights.append(encoded.get(s.key + _WEIGHTS_SUFFIX))
    return ids, weights


def _multi_hot(plan: DensePlan, encoded: dict[str, torch.Tensor], fitted: Any, n: int,
               device: torch.device) -> torch.Tensor:
    """All indicator / bucketized columns as one ``(N, ids_width)`` block: one scatter of offset ids."""
    ids, weights = _ids_and_weights(plan.ids, encoded, fitted, n)
    shifted, ws = [], []
    for s, v, w in zip(plan.ids, ids, weights, strict=True):
        mask = v >= 0
        shifted.append(v.clamp(min=0) + s.offset)
        ws.append(mask.float() if w is None else w.reshape(n, -1).float() * mask)
    index = shifted[0] if len(shifted) == 1 else torch.cat(shifted, dim=1)
    src = ws[0] if len(ws) == 1 else torch.cat(ws, dim=1)
    out = torch.zeros(n, plan.ids_width, dtype=torch.float32, device=device)
    return out.scatter_add_(1, index, src)


def _lookup(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``table[ids]``, shaped ``(*ids.shape, table.shape[1])``. On the CPU by ``index_select``, whose backward
    (``index_add``) is 3-10x faster than ``F.embedding``'s sorting one for these small tables; on other devices
    ``F.embedding`` (deterministic gradients on CUDA)."""
    if table.device.type != "cpu":
        return F.embedding(ids, table)
    return table.index_select(0, ids.reshape(-1)).reshape(*ids.shape, table.shape[1])


def _table_group(group: _TableGroup, tables: Any, encoded: dict[str, torch.Tensor], fitted: Any,
                 n: int) -> list[torch.Tensor]:
    """One group's embeddings, one ``(N, dimension)`` tensor per slot (in ``group.slots`` order)."""
    parts = [tables[name] for name in group.tables]
    pad = group.rows  # the zero row: where ids -1 (no id) look up
    table = torch.cat([*parts, parts[0].new_zeros(1, group.dimension)])
    ids, weights = _ids_and_weights(group.slots, encoded, fitted, n)
    simple = [i for i, (v, w) in enumerate(zip(ids, weights, strict=True)) if v.shape[1] == 1 and w is None]
    bagged = [i for i in range(len(group.slots)) if i not in set(simple)]
    out: list[torch.Tensor | None] = [None] * len(group.slots)
    d = group.dimension
    if simple:
        offsets = [group.slots[i].offset for i in simple]
        raw = torch.cat([ids[i] for i in simple], dim=1) if len(simple) > 1 else ids[simple[0]]
        off = torch.tensor(offsets, dtype=raw.dtype, device=raw.device)
        gid = torch.where(raw >= 0, raw + off, pad)
        emb = _lookup(table, gid).reshape(n, len(simple) * d)  # mean/sum/sqrtn of one id: the vector itself
        # split, not slices: one backward node concatenating the pieces' gradients (slices would each fill a
        # zero gradient of the whole block)
        for i, piece in zip(simple, emb.split(d, dim=1), strict=True):
            out[i] = piece
    if bagged:
        for i, e in zip(bagged, _bags(group, bagged, ids, weights, table, pad, n), strict=True):
            out[i] = e
    return [o for o in out if o is not None]


def _bags(group: _TableGroup, bagged: list[int], ids: list[torch.Tensor], weights: list[torch.Tensor | None],
          table: torch.Tensor, pad: int, n: int) -> list[torch.Tensor]:
    """Multivalent / weighted columns: one ``embedding_bag`` (sum of ``w * e`` per row and column), then the
    ``mean`` / ``sqrtn`` denominators of all columns at once."""
    gids, ws, sizes = [], [], []
    for i in bagged:
        v, w = ids[i], weights[i]
        mask = v >= 0
        gids.append(torch.where(mask, v + group.slots[i].offset, pad))
        ws.append(mask.to(table.dtype) if w is None else w.reshape(n, -1).to(table.dtype) * mask)
        sizes.append(v.shape[1])
    gid = torch.cat(gids, dim=1) if len(gids) > 1 else gids[0]
    w = torch.cat(ws, dim=1) if len(ws) > 1 else ws[0]
    k_total, c = gid.shape[1], len(bagged)
    starts = torch.tensor([sum(sizes[:j]) for j in range(c)], dtype=torch.int64, device=gid.device)
    offsets = (torch.arange(n, device=gid.device).unsqueeze(1) * k_total + starts).reshape(-1)
    total = F.embedding_bag(gid.reshape(-1), table, offsets, mode="sum",
                            per_sample_weights=w.reshape(-1)).reshape(n, c, group.dimension)
    result = []
    for j, i in enumerate(bagged):
        combiner = group.slots[i].column.combiner
        t = total[:, j]
        if combiner == "sum":
            result.append(t)
            continue
        wj = ws[j]
        denom = wj.sum(dim=1, keepdim=True) if combiner == "mean" else (wj * wj).sum(dim=1, keepdim=True).sqrt()
        result.append(torch.where(denom > 0, t / denom.clamp_min(1e-12), torch.zeros_like(t)))
    return result


def dense_forward(layer: Any, plan: DensePlan, encoded: dict[str, torch.Tensor]) -> torch.Tensor:
    """``DenseFeatures``' output from ``encoded`` with one op per kind (see the module docstring)."""
    transformer = layer._bound()
    for key in {s.key for s in (*plan.values, *plan.ids, *plan.per_column)} | {
            s.key for g in plan.groups for s in g.slots}:
        if key not in encoded:
            from estlab.features.errors import FeatureColumnError

            column = next(c for c in layer.feature_columns if transformer.encoded_key(c) == key)
            raise FeatureColumnError(f"DenseFeatures: encoded features lack {key!r} (column {column.name!r}); "
                                     f"got keys {sorted(encoded)}.")
    first = next(iter(encoded.values()))
    n, device = first.shape[0], first.device
    fitted = transformer._fitted
    pieces: list[torch.Tensor | None] = [None] * plan.n_columns
    for s in plan.values:
        pieces[s.index] = _staged(s, encoded, fitted).reshape(n, -1).float()
    if plan.ids:
        block = _multi_hot(plan, encoded, fitted, n, device)
        if len(plan.ids) == 1:
            pieces[plan.ids[0].index] = block
        else:
            for s, piece in zip(plan.ids, block.split([s.width for s in plan.ids], dim=1), strict=True):
                pieces[s.index] = piece
    for group in plan.groups:
        for s, e in zip(group.slots, _table_group(group, layer.embedding_weights, encoded, fitted, n), strict=True):
            pieces[s.index] = e
    for s in plan.per_column:
        pieces[s.index] = layer._block(s.column, encoded)
    blocks = [p for p in pieces if p is not None]
    return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=1)


@dataclass
class LinearPlan:
    """``LinearFeatures``' id columns summed by one lookup over one table (the ``"sum"`` combiner only)."""

    slots: list[_Slot]
    rows: int
    names: list[str]


def linear_plan(columns: list[FeatureColumn], transformer: FeatureTransformer, param_name: Any) -> LinearPlan:
    """The id columns of a ``LinearFeatures`` layer, each with the offset of its weights in the fused table."""
    slots, rows, names = [], 0, []
    for i, c in enumerate(columns):
        if c.layer_role == "ids":
            slot = _Slot(i, c, transformer.encoded_key(c), transformer.num_buckets(c), rows)
            rows += slot.width
            slots.append(slot)
            names.append(param_name(c.name))
    return LinearPlan(slots, rows, names)


def linear_ids_sum(plan: LinearPlan, weights: Any, encoded: dict[str, torch.Tensor], fitted: Any,
                   n: int) -> torch.Tensor:
    """Sum over all id columns of ``sum_k w_k * weight[id_k]``: one lookup (or one ``embedding_bag`` with weights) over one table."""
    parts = [weights[name] for name in plan.names]
    table = torch.cat([*parts, parts[0].new_zeros(1, parts[0].shape[1])])
    ids, ws = _ids_and_weights(plan.slots, encoded, fitted, n)
    if all(w is None for w in ws):  # unweighted: all ids shifted at once; -1 reads the zero row
        raw = torch.cat(ids, dim=1) if len(ids) > 1 else ids[0]
        shift = [s.offset for s, v in zip(plan.slots, ids, strict=True) for _ in range(v.shape[1])]
        gid = torch.where(raw >= 0, raw + torch.tensor(shift, dtype=raw.dtype, device=raw.device), plan.rows)
        return _lookup(table, gid).sum(dim=1)
    gids, bag_w = [], []
    for s, v, w in zip(plan.slots, ids, ws, strict=True):
        mask = v >= 0
        gids.append(torch.where(mask, v + s.offset, plan.rows))
        bag_w.append(mask.to(table.dtype) if w is None else w.reshape(n, -1).to(table.dtype) * mask)
    gid = torch.cat(gids, dim=1) if len(gids) > 1 else gids[0]
    w = torch.cat(bag_w, dim=1) if len(bag_w) > 1 else bag_w[0]
    return F.embedding_bag(gid, table, mode="sum", per_sample_weights=w)


__all__ = ["MAX_FUSED_ROWS", "DensePlan", "LinearPlan", "dense_forward", "dense_plan", "linear_ids_sum",
           "linear_plan"]
