"""A gradient-boosted tree ensemble as a torch module of plain tensors, converted from LightGBM.

Every tree is stored as padded node arrays (``feature``, ``threshold``, ``left``, ``right``,
``value``, missing-value routing), one row per tree; prediction walks all trees for all rows at
once, one level per iteration (``depth`` iterations). Leaves point to themselves, so rows that
reached a leaf stay there. Checkpoints, ``predict`` and export see ordinary buffers. Every node's
value (``node_value``) and every split's gain (``split_gain``) are kept too, for TF's explanations:
:meth:`TreeEnsemble.explain` (directional feature contributions) and :meth:`TreeEnsemble.gain_importances`.
LightGBM's categorical splits (``id in {...}`` goes left) are a row of a membership table (``cat_left``) per
split, looked up by the integer id, so the program stays gathers and comparisons (export, ONNX).

Examples
--------
>>> import torch
>>> ens = TreeEnsemble(logits_dimension=1)
>>> ens(torch.zeros(2, 3)).tolist()  # an unfitted ensemble predicts its bias (0)
[[0.0], [0.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

# missing_type codes (LightGBM's "None", "Zero", "NaN")
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
_BUFFERS = ("feature", "threshold", "left", "right", "value", "default_left", "missing_type", "tree_class",
            "depth_steps", "node_value", "split_gain", "cat_index", "cat_left")
#: buffers a checkpoint written before they existed may lack (filled with NaN: explanations then refuse)
_OPTIONAL = ("node_value", "split_gain")
#: categorical-split buffers a checkpoint from before them lacks (its trees have numerical splits only)
_CATEGORICAL = ("cat_index", "cat_left")


class TreeEnsemble(nn.Module):
    """Sum of regression trees → ``(N, logits_dimension)`` (tree ``t`` adds to output ``tree_class[t]``).

    Buffers (``T`` trees, ``M`` nodes per tree after padding): ``feature`` (T, M) int64,
    ``threshold`` (T, M) float64 (go left when ``x <= threshold``), ``left``/``right`` (T, M) int64,
    ``value`` (T, M) float32 (leaf outputs, shrinkage included), ``default_left`` (T, M) bool and
    ``missing_type`` (T, M) int64 (how NaN/zero route, as LightGBM), ``tree_class`` (T,) int64,
    ``depth_steps`` whose length is the deepest tree's depth (a shape, so exported programs unroll it),
    ``node_value`` (T, M) float64 (each node's output had it been a leaf: LightGBM's ``internal_value``,
    shrinkage and the first tree's initial score included; at leaves, ``value``) and ``split_gain`` (T, M)
    float64 (the loss reduction of each split, 0 at leaves). Categorical splits: ``cat_index`` (T, M) int64,
    the row of ``cat_left`` (S, C) bool a categorical split reads (``-1`` for a numerical split or a leaf);
    a row goes left when its feature is an id ``0 <= id < C`` whose ``cat_left`` entry is True, and right
    otherwise (a negative id, NaN under missing type "NaN", or an id no split saw), as LightGBM decides.

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
    node_value: torch.Tensor
    split_gain: torch.Tensor
    cat_index: torch.Tensor
    cat_left: torch.Tensor

    def __init__(self, logits_dimension: int = 1) -> None:
        super().__init__()
        self.logits_dimension = int(logits_dimension)
        self._set(
            feature=torch.zeros(0, 1, dtype=torch.int64), threshold=torch.zeros(0, 1, dtype=torch.float64),
            left=torch.zeros(0, 1, dtype=torch.int64), right=torch.zeros(0, 1, dtype=torch.int64),
            value=torch.zeros(0, 1), default_left=torch.zeros(0, 1, dtype=torch.bool),
            missing_type=torch.zeros(0, 1, dtype=torch.int64), tree_class=torch.zeros(0, dtype=torch.int64),
            depth_steps=torch.zeros(0), node_value=torch.zeros(0, 1, dtype=torch.float64),
            split_gain=torch.zeros(0, 1, dtype=torch.float64), cat_index=torch.zeros(0, 1, dtype=torch.int64),
            cat_left=torch.zeros(0, 1, dtype=torch.bool),
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
        absent = [name for name in _OPTIONAL + _CATEGORICAL
                  if prefix + name not in state_dict and prefix + "feature" in state_dict]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        shape = tuple(state_dict[prefix + "feature"].shape) if absent else (0, 1)
        for name in absent:  # an older checkpoint: predictions work, explanations say why they cannot
            device = self.feature.device
            if name == "cat_index":  # numerical splits only
                self._buffers[name] = torch.full(shape, -1, dtype=torch.int64, device=device)
            elif name == "cat_left":
                self._buffers[name] = torch.zeros(0, 1, dtype=torch.bool, device=device)
            else:
                self._buffers[name] = torch.full(shape, float("nan"), dtype=torch.float64, device=device)
            missing_keys.remove(prefix + name)

    def _leaves(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, T)``: the node of each tree each row ends in (``x`` float64)."""
        node = torch.zeros(x.shape[0], self.feature.shape[0], dtype=torch.int64, device=x.device)
        for _ in range(self.depth_steps.shape[0]):
            node = self._next(x, node)
        return node

    def _next(self, x: torch.Tensor, node: torch.Tensor) -> torch.Tensor:
        """One level down every tree (rows at a leaf stay there); ``x`` is float64."""
        num_trees, width = self.feature.shape
        flat = node + (torch.arange(num_trees, device=x.device) * width).unsqueeze(0)
        values = torch.gather(x, 1, self.feature.reshape(-1)[flat])
        kind = self.missing_type.reshape(-1)[flat]
        is_nan = torch.isnan(values)
        values = torch.where(is_nan & (kind != 2), torch.zeros_like(values), values)
        use_default = ((kind == 1) & (values.abs() <= 1e-35)) | ((kind == 2) & is_nan)
        go_left = torch.where(use_default, self.default_left.reshape(-1)[flat],
                              values <= self.threshold.reshape(-1)[flat])
        if self.cat_left.shape[0] > 0:  # a shape: ensembles without categorical splits trace as before
            go_left = torch.where(self.cat_index.reshape(-1)[flat] >= 0,
                                  self._categorical_left(values, is_nan & (kind == 2), flat), go_left)
        return torch.where(go_left, self.left.reshape(-1)[flat], self.right.reshape(-1)[flat])

    def _categorical_left(self, values: torch.Tensor, nan_right: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        """LightGBM's categorical decision: left when the (truncated) id is in the split's set.

        NaN goes right under missing type "NaN" and is id 0 otherwise (``values`` already holds 0 there);
        negative ids and ids at or past the table's width go right.
        """
        width = self.cat_left.shape[1]
        ids = torch.where(torch.isnan(values), torch.zeros_like(values), values).trunc()
        known = (ids >= 0) & (ids < width) & ~nan_right
        row = self.cat_index.reshape(-1)[flat].clamp(min=0)
        column = ids.clamp(0, width - 1).to(torch.int64)
        return known & self.cat_left.reshape(-1)[row * width + column]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        num_trees, width = self.feature.shape
        if num_trees == 0:
            return torch.zeros(n, self.logits_dimension, dtype=torch.float32, device=x.device)
        node = self._leaves(x.to(torch.float64))
        offsets = (torch.arange(num_trees, device=x.device) * width).unsqueeze(0)  # (1, T)
        leaf_values = self.value.reshape(-1)[node + offsets].to(torch.float64)  # (N, T)
        out = torch.zeros(n, self.logits_dimension, dtype=torch.float64, device=x.device)
        return out.index_add_(1, self.tree_class, leaf_values).to(torch.float32)  # summed in float64

    def gain_importances(self, num_features: int) -> np.ndarray:
        """Sum of split gains per input feature over all trees (TF's gain-based importances), float64.

        Examples
        --------
        >>> TreeEnsemble().gain_importances(3).tolist()
        [0.0, 0.0, 0.0]
        """
        self._check_explainable()
        width = self.feature.shape[1]
        is_split = self.left != torch.arange(width, device=self.left.device).unsqueeze(0)
        features = self.feature[is_split].cpu().numpy()
        gains = self.split_gain[is_split].cpu().numpy().astype(np.float64)
        return np.bincount(features, weights=gains, minlength=num_features).astype(np.float64)[:num_features]

    def explain(self, x: torch.Tensor, activation: Callable[[torch.Tensor], torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """TF's directional feature contributions: ``(bias (N,), contributions (N, features))``, float64.

        As TF's ``experimental_predict_with_explanations``: each row walks the trees in order; every split
        moves the running output from the parent's value to the child's (the trees before plus the node's
        value), and the change of ``activation`` of it (identity for regression, sigmoid for a binary
        classifier's probability) is credited to the split's feature. ``bias`` is the first tree's root (the
        initial score, with ``center_bias``); a later tree's walk starts from the output of the trees before
        it (its root counts as 0, as in TF), and a tree without splits adds its value to ``bias``. So
        ``bias + contributions.sum(1) == activation(logit)`` up to float64 rounding, the logit being the
        float64 sum of the leaf values (what :meth:`forward` computes before its float32 cast).

        Examples
        --------
        >>> import torch
        >>> bias, dfc = TreeEnsemble().explain(torch.zeros(2, 3), torch.sigmoid)
        >>> bias.tolist(), dfc.shape
        ([0.5, 0.5], torch.Size([2, 3]))
        """
        if self.logits_dimension != 1:
            raise ValueError("explain: directional feature contributions need one output (binary classification "
                             f"or regression, as TF); this ensemble has {self.logits_dimension}.")
        act = activation or (lambda v: v)
        x = x.to(torch.float64)
        n, num_features = x.shape
        contributions = torch.zeros(n, num_features, dtype=torch.float64, device=x.device)
        num_trees, width = self.feature.shape
        if num_trees == 0:
            return act(torch.zeros(n, dtype=torch.float64, device=x.device)), contributions
        self._check_explainable()
        values = self.node_value
        offsets = (torch.arange(num_trees, device=x.device) * width).unsqueeze(0)
        later_single = self.left[:, 0] == 0  # the root is a leaf ...
        later_single[0] = False  # ... of a tree after the first
        extra = (values[:, 0] * later_single).sum()  # those trees' values go into the bias
        reached = values.reshape(-1)[self._leaves(x) + offsets]  # (N, T) leaf values
        reached = torch.where(later_single.unsqueeze(0), torch.zeros_like(reached), reached)
        before = extra + torch.cumsum(reached, dim=1) - reached  # output of the trees before each tree
        previous = before.clone()
        previous[:, 0] = extra + values[0, 0]
        node = torch.zeros(n, num_trees, dtype=torch.int64, device=x.device)
        feature = self.feature.reshape(-1)
        for _ in range(self.depth_steps.shape[0]):
            child = self._next(x, node)
            is_split = child != node
            current = before + values.reshape(-1)[child + offsets]
            delta = torch.where(is_split, act(current) - act(previous), torch.zeros_like(current))
            contributions.scatter_add_(1, feature[node + offsets], delta)
            previous = torch.where(is_split, current, previous)
            node = child
        return act((extra + values[0, 0]).expand(n)), contributions

    def _check_explainable(self) -> None:
        if bool(torch.isnan(self.node_value).any()) or bool(torch.isnan(self.split_gain).any()):
            raise ValueError("this tree ensemble was saved without node values and split gains (a checkpoint "
                             "from before estlab kept them); train it again for explanations and importances.")

    def load_lightgbm(self, booster: Any) -> TreeEnsemble:
        """Replace the trees with those of a trained ``lightgbm.Booster`` (numerical and categorical splits).

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
        # a leaf (or padding) points to itself; its node value is its float32 output, as forward sums it
        leaf = torch.as_tensor(np.asarray([[i >= len(t["left"]) or t["left"][i] == i for i in range(width)]
                                           for t in trees], dtype=np.bool_).reshape(len(trees), width))

        def stack(key: str, dtype: Any, pad: Any) -> torch.Tensor:
            rows = [t[key] + [pad] * (width - len(t[key])) for t in trees]
            return torch.as_tensor(np.asarray(rows, dtype=dtype).reshape(len(trees), width))

        def pointers(key: str) -> torch.Tensor:  # padding nodes point to themselves
            rows = [t[key] + list(range(len(t[key]), width)) for t in trees]
            return torch.as_tensor(np.asarray(rows, dtype=np.int64).reshape(len(trees), width))

        rows: list[set[int]] = []  # each categorical split's left ids, in tree then node order
        cat_index = np.full((len(trees), width), -1, dtype=np.int64)
        for t, tree in enumerate(trees):
            for n, categories in enumerate(tree["categories"]):
                if categories is not None:
                    cat_index[t, n] = len(rows)
                    rows.append(categories)
        cat_left = np.zeros((len(rows), max((max(r, default=-1) + 1 for r in rows), default=1)), dtype=np.bool_)
        for i, categories in enumerate(rows):
            cat_left[i, sorted(categories)] = True
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
            node_value=torch.where(leaf, stack("value", np.float32, 0.0).to(torch.float64),
                                   stack("node_value", np.float64, 0.0)),
            split_gain=stack("split_gain", np.float64, 0.0),
            cat_index=torch.as_tensor(cat_index),
            cat_left=torch.as_tensor(cat_left),
        )
        return self


def _flatten(root: dict) -> dict[str, Any]:
    """LightGBM's nested tree dict → node arrays (node 0 is the root; leaves point to themselves)."""
    nodes: dict[str, list] = {k: [] for k in ("feature", "threshold", "left", "right", "value", "default_left",
                                              "missing_type", "node_value", "split_gain", "categories")}
    depth = 0
    stack: list[tuple[dict, int, int]] = [(root, 0, 0)]  # (node dict, its index, its depth)
    _new(nodes)
    while stack:
        node, index, level = stack.pop()
        if "split_index" not in node:  # leaf
            nodes["value"][index] = nodes["node_value"][index] = float(node.get("leaf_value", 0.0))
            nodes["left"][index] = nodes["right"][index] = index
            depth = max(depth, level)
            continue
        decision = node.get("decision_type", "<=")
        if decision not in ("<=", "=="):
            raise ValueError(f"tree split decision_type={decision!r} is not supported; only numerical ('<=') and "
                             "categorical ('==') splits convert.")
        left, right = _new(nodes), _new(nodes)
        nodes["feature"][index] = int(node["split_feature"])
        if decision == "==":  # categorical: "1||3||5" are the ids that go left
            nodes["categories"][index] = {int(c) for c in str(node["threshold"]).split("||") if c != ""}
        else:
            nodes["threshold"][index] = float(node["threshold"])
        nodes["default_left"][index] = bool(node.get("default_left", True))
        nodes["missing_type"][index] = _MISSING.get(str(node.get("missing_type", "None")), 0)
        nodes["node_value"][index] = float(node.get("internal_value", 0.0))
        nodes["split_gain"][index] = float(node.get("split_gain", 0.0))
        nodes["left"][index], nodes["right"][index] = left, right
        stack.append((node["left_child"], left, level + 1))
        stack.append((node["right_child"], right, level + 1))
    return {**nodes, "depth": depth}


def _new(nodes: dict[str, list]) -> int:
    index = len(nodes["feature"])
    for key, pad in (("feature", 0), ("threshold", 0.0), ("left", index), ("right", index), ("value", 0.0),
                     ("default_left", True), ("missing_type", 0), ("node_value", 0.0), ("split_gain", 0.0),
                     ("categories", None)):
        nodes[key].append(pad)
    return index
