"""A gradient-boosted tree ensemble as a torch module of plain tensors, converted from LightGBM.

Every tree is stored as padded node arrays (``feature``, ``threshold``, ``left``, ``right``,
``value``, missing-value routing), one row per tree; prediction walks all trees for all rows at
once, one level per iteration (``depth`` iterations). Leaves point to themselves, so rows that
reached a leaf stay there. Checkpoints, ``predict`` and export see ordinary buffers.

Examples
--------
>>> import torch
>>> ens = TreeEnsemble(logits_dimension=1)
>>> ens(torch.zeros(2, 3)).tolist()  # an unfitted ensemble predicts its bias (0)
[[0.0], [0.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

# missing_type codes (LightGBM's "None", "Zero", "NaN")
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_BUFFERS = ("feature", "threshold", "left", "right", "value", "default_left", "missing_type", "tree_class",
            "depth_steps")


class TreeEnsemble(nn.Module):
    """Sum of regression trees → ``(N, logits_dimension)`` (tree ``t`` adds to output ``tree_class[t]``).

    Buffers (``T`` trees, ``M`` nodes per tree after padding): ``feature`` (T, M) int64,
    ``threshold`` (T, M) float64 (go left when ``x <= threshold``), ``left``/``right`` (T, M) int64,
    ``value`` (T, M) float32 (leaf outputs, shrinkage included), ``default_left`` (T, M) bool and
    ``missing_type`` (T, M) int64 (how NaN/zero route, as LightGBM), ``tree_class`` (T,) int64 and
    ``depth_steps`` whose length is the deepest tree's depth (a shape, so exported programs unroll it).

    Examples
    --------
    >>> TreeEnsemble(logits_dimension=3).num_trees
    0
    """

    # Buffers (registered in ``_set``), declared so the type checkers see tensors, not ``Tensor | Module``.
    feature: torch.Tensor
    threshold: torch.Tensor
    left: torch.Tensor
    right: torch.Tensor
    value: torch.Tensor
    default_left: torch.Tensor
    missing_type: torch.Tensor
    tree_class: torch.Tensor
    depth_steps: torch.Tensor

    def __init__(self, logits_dimension: int = 1) -> None:
        super().__init__()
        self.logits_dimension = int(logits_dimension)
        self._set(
            feature=torch.zeros(0, 1, dtype=torch.int64), threshold=torch.zeros(0, 1, dtype=torch.float64),
            left=torch.zeros(0, 1, dtype=torch.int64), right=torch.zeros(0, 1, dtype=torch.int64),
            value=torch.zeros(0, 1), default_left=torch.zeros(0, 1, dtype=torch.bool),
            missing_type=torch.zeros(0, 1, dtype=torch.int64), tree_class=torch.zeros(0, dtype=torch.int64),
            depth_steps=torch.zeros(0),
        )

    def _set(self, **buffers: torch.Tensor) -> None:
        for name, tensor in buffers.items():
            self.register_buffer(name, tensor)

    @property
    def num_trees(self) -> int:
        """Number of trees held."""
        return int(self.feature.shape[0])

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # A fitted ensemble's buffers are larger than a fresh module's: take the checkpoint's shapes.
        for name in _BUFFERS:
            key = prefix + name
            if key in state_dict:
                stored, current = state_dict[key], self._buffers[name]
                assert current is not None  # every name in _BUFFERS is registered as a tensor in __init__
                self._buffers[name] = torch.empty(stored.shape, dtype=stored.dtype, device=current.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        out = torch.zeros(n, self.logits_dimension, dtype=torch.float32, device=x.device)
        num_trees, width = self.feature.shape
        if num_trees == 0:
            return out
        x = x.to(torch.float64)
        offsets = (torch.arange(num_trees, device=x.device) * width).unsqueeze(0)  # (1, T)
        node = torch.zeros(n, num_trees, dtype=torch.int64, device=x.device)
        feature, threshold = self.feature.reshape(-1), self.threshold.reshape(-1)
        left, right = self.left.reshape(-1), self.right.reshape(-1)
        default_left, missing = self.default_left.reshape(-1), self.missing_type.reshape(-1)
        for _ in range(self.depth_steps.shape[0]):
            flat = node + offsets
            values = torch.gather(x, 1, feature[flat])
            kind = missing[flat]
            is_nan = torch.isnan(values)
            values = torch.where(is_nan & (kind != 2), torch.zeros_like(values), values)
            use_default = ((kind == 1) & (values.abs() <= 1e-35)) | ((kind == 2) & is_nan)
            go_left = torch.where(use_default, default_left[flat], values <= threshold[flat])
            node = torch.where(go_left, left[flat], right[flat])
        leaf_values = self.value.reshape(-1)[node + offsets]  # (N, T)
        return out.index_add_(1, self.tree_class, leaf_values)

    def load_lightgbm(self, booster: Any) -> TreeEnsemble:
        """Replace the trees with those of a trained ``lightgbm.Booster`` (numerical splits only).

        Examples
        --------
        >>> import lightgbm as lgb, numpy as np  # doctest: +SKIP
        >>> booster = lgb.train({"verbose": -1}, lgb.Dataset(np.random.rand(50, 2), np.random.rand(50)),
        ...                     3)  # doctest: +SKIP
        >>> TreeEnsemble().load_lightgbm(booster).num_trees  # doctest: +SKIP
        3
        """
        dump = booster.dump_model()
        num_class = int(dump.get("num_tree_per_iteration", 1))
        trees = [_flatten(info["tree_structure"]) for info in dump["tree_info"]]
        width = max((len(t["feature"]) for t in trees), default=1)
        depth = max((t["depth"] for t in trees), default=0)

        def stack(key: str, dtype: Any, pad: Any) -> torch.Tensor:
            rows = [t[key] + [pad] * (width - len(t[key])) for t in trees]
            return torch.as_tensor(np.asarray(rows, dtype=dtype).reshape(len(trees), width))

        def pointers(key: str) -> torch.Tensor:  # padding nodes point to themselves
            rows = [t[key] + list(range(len(t[key]), width)) for t in trees]
            return torch.as_tensor(np.asarray(rows, dtype=np.int64).reshape(len(trees), width))

        self._set(
            feature=stack("feature", np.int64, 0),
            threshold=stack("threshold", np.float64, 0.0),
            left=pointers("left"),
            right=pointers("right"),
            value=stack("value", np.float32, 0.0),
            default_left=stack("default_left", np.bool_, True),
            missing_type=stack("missing_type", np.int64, 0),
            tree_class=torch.arange(len(trees), dtype=torch.int64) % max(num_class, 1),
            depth_steps=torch.zeros(depth),
        )
        return self


def _flatten(root: dict) -> dict[str, Any]:
    """LightGBM's nested tree dict → node arrays (node 0 is the root; leaves point to themselves)."""
    nodes: dict[str, list] = {k: [] for k in ("feature", "threshold", "left", "right", "value", "default_left",
                                              "missing_type")}
    depth = 0
    stack: list[tuple[dict, int, int]] = [(root, 0, 0)]  # (node dict, its index, its depth)
    _new(nodes)
    while stack:
        node, index, level = stack.pop()
        if "split_index" not in node:  # leaf
            nodes["value"][index] = float(node.get("leaf_value", 0.0))
            nodes["left"][index] = nodes["right"][index] = index
            depth = max(depth, level)
            continue
        if node.get("decision_type", "<=") != "<=":
            raise ValueError(
                f"tree split decision_type={node.get('decision_type')!r} is not supported; only numerical "
                "('<=') splits convert (train without LightGBM categorical_feature)."
            )
        left, right = _new(nodes), _new(nodes)
        nodes["feature"][index] = int(node["split_feature"])
        nodes["threshold"][index] = float(node["threshold"])
        nodes["default_left"][index] = bool(node.get("default_left", True))
        nodes["missing_type"][index] = _MISSING.get(str(node.get("missing_type", "None")), 0)
        nodes["left"][index], nodes["right"][index] = left, right
        stack.append((node["left_child"], left, level + 1))
        stack.append((node["right_child"], right, level + 1))
    return {**nodes, "depth": depth}


def _new(nodes: dict[str, list]) -> int:
    index = len(nodes["feature"])
    for key, pad in (("feature", 0), ("threshold", 0.0), ("left", index), ("right", index), ("value", 0.0),
                     ("default_left", True), ("missing_type", 0)):
        nodes[key].append(pad)
    return index
