"""estlab against an *independent* hand-written PyTorch model (the real floor), in one process.

The hand-written model is what a PyTorch user writes, sharing no code with estlab: per-column
``nn.Embedding(n, 8)`` + z-scored numerics -> ``Linear(64) -> ReLU -> Linear(32) -> ReLU -> Linear(1)`` (DNN), or
per-column ``nn.Embedding(n, 1)`` + ``Linear(5, 1)`` (linear), ``torch.optim.Adam(lr=0.001)`` (DNN) /
``torch.optim.Adagrad(lr=0.05)`` (linear) as a PyTorch user writes them, BCE, ``randperm`` batches over tensors
encoded beforehand (not timed). estlab is ``DNNClassifier(hidden_units=[64, 32])`` / ``LinearClassifier`` with the
same columns and the same optimizer by name (``optimizer="Adam"`` / ``"Adagrad"``, same rate), trained with
``train(frame, label=..., batch_size=...)`` from the DataFrame, timed end to end (fit, encode, the epoch, listeners,
checkpoint); the same again with the estimator's TF default optimizer (Adagrad for the DNN, FTRL for the linear
model, which torch lacks) is printed beside it. Both run one epoch, in the same
process, in alternating order (hand, estlab, hand), the hand model with 1 thread and with torch's default:
its fastest figure is the reference.

Usage::

    python benchmarks/bench_floor.py                          # 1,000,000 rows, batch 256 and 4096
    python benchmarks/bench_floor.py --rows 200000 --hog      # and again with a CPU hog on one core

Example
-------
>>> hand_dnn([3, 4], 5)                                        # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from bench_training import LABEL, NUMERIC, adult_frame, split_label  # noqa: E402

CATEGORICAL = ["workclass", "education", "marital_status", "relationship", "race", "gender", "occupation",
               "native_country"]


class HandModel(nn.Module):
    """Per-column embeddings + numerics, then an MLP (``hidden``) or nothing (linear: ``dim=1``, sum)."""

    def __init__(self, sizes: list[int], n_numeric: int, dim: int, hidden: list[int]) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(n, dim) for n in sizes)
        layers: list[nn.Module] = []
        width = n_numeric if not hidden else dim * len(sizes) + n_numeric
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))
        self.linear = not hidden

    def forward(self, cats: torch.Tensor, nums: torch.Tensor) -> torch.Tensor:
        embs = [e(cats[:, i]) for i, e in enumerate(self.embeddings)]
        if self.linear:
            return torch.stack(embs, 0).sum(0) + self.mlp(nums)
        return self.mlp(torch.cat([*embs, nums], dim=1))


def hand_encode(frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    codes, sizes = [], []
    for c in CATEGORICAL:
        values, uniques = pd.factorize(frame[c])
        codes.append(np.where(values < 0, len(uniques), values))
        sizes.append(len(uniques) + 1)
    nums = frame[NUMERIC].to_numpy(np.float32)
    nums = (nums - nums.mean(0)) / nums.std(0)
    labels = frame[LABEL].to_numpy(np.float32)
    return (torch.from_numpy(np.stack(codes, 1).astype(np.int64)), torch.from_numpy(nums),
            torch.from_numpy(labels).unsqueeze(1), sizes)


def hand_epoch(kind: str, cats: torch.Tensor, nums: torch.Tensor, labels: torch.Tensor, sizes: list[int],
               batch: int) -> float:
    torch.manual_seed(0)
    model = HandModel(sizes, nums.shape[1], 8 if kind == "dnn" else 1, [64, 32] if kind == "dnn" else [])
    opt = (torch.optim.Adam(model.parameters(), lr=0.001) if kind == "dnn"
           else torch.optim.Adagrad(model.parameters(), lr=0.05))
    loss_fn = nn.BCEWithLogitsLoss()
    start = time.perf_counter()
    order = torch.randperm(len(labels))
    for i in range(0, len(labels), batch):
        idx = order[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(cats[idx], nums[idx]), labels[idx])
        loss.backward()
        opt.step()
    return len(labels) / (time.perf_counter() - start)


#: the hand model's optimizers, which estlab is given by name for the like-for-like ratio
HAND_OPTIMIZER = {"dnn": ("Adam", 0.001), "linear": ("Adagrad", 0.05)}


def estlab_epoch(kind: str, frame: pd.DataFrame, batch: int, threads: int | None = None,
                 optimizer: tuple[str, float] | None = None) -> float:
    """estlab's ex/s over one epoch from the DataFrame; ``optimizer=None``: the estimator's TF default."""
    import estlab.estimator as est
    from estlab import feature_column as fc

    numeric = [fc.numeric_column(c, normalizer="zscore") for c in NUMERIC]
    cats = [fc.categorical_column_with_learned_vocabulary(c) for c in CATEGORICAL]
    config = est.RunConfig(random_seed=0, save_checkpoints_steps=10**9, tensorboard=False, num_threads=threads)
    chosen: dict[str, Any] = {} if optimizer is None else {"optimizer": optimizer[0], "learning_rate": optimizer[1]}
    with tempfile.TemporaryDirectory() as model_dir:
        if kind == "dnn":
            model: Any = est.DNNClassifier(hidden_units=[64, 32], model_dir=model_dir, config=config,
                                           feature_columns=numeric + [fc.embedding_column(c, 8) for c in cats],
                                           **chosen)
        else:
            model = est.LinearClassifier(feature_columns=numeric + cats, model_dir=model_dir, config=config, **chosen)
        start = time.perf_counter()
        model.train(frame, label=LABEL, batch_size=batch, shuffle=True)
        return len(frame) / (time.perf_counter() - start)


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(rows: int, batches: list[int], kinds: list[str], label: str) -> list[dict]:
    features, y = split_label(adult_frame(rows, seed=0))
    frame = features.assign(**{LABEL: y})
    cats, nums, labels, sizes = hand_encode(frame)
    out = []
    for kind in kinds:
        for batch in batches:
            hands = []
            for threads in (1, torch.get_num_threads()):  # the hand model at its best thread count
                with _threads(threads):
                    hands.append(hand_epoch(kind, cats, nums, labels, sizes, batch))
            e = estlab_epoch(kind, frame, batch, optimizer=HAND_OPTIMIZER[kind])
            default = estlab_epoch(kind, frame, batch)
            for threads in (1, torch.get_num_threads()):
                with _threads(threads):
                    hands.append(hand_epoch(kind, cats, nums, labels, sizes, batch))
            hand = max(hands)
            row = {"run": label, "model": kind, "batch": batch, "estlab": e, "hand": hand, "ratio": e / hand,
                   "estlab_tf_default_optimizer": default}
            print(f"{label:6s} {kind:6s} batch {batch:5d}: estlab {e:9,.0f} ex/s  hand {hand:9,.0f} ex/s  "
                  f"ratio {e / hand:.2f}   (estlab with TF's default optimizer "
                  f"{ {'dnn': 'Adagrad', 'linear': 'Ftrl'}[kind]}: {default:9,.0f} ex/s, {default / hand:.2f})",
                  flush=True)
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--models", nargs="+", default=["dnn", "linear"])
    parser.add_argument("--hog", action="store_true", help="run again with `yes > /dev/null` on one core")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"threads now {torch.get_num_threads()} (estlab chooses its own; the hand model keeps torch's)")
    quiet = run(args.rows, args.batch_sizes, args.models, "quiet")
    if args.hog:
        hog = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
        try:
            time.sleep(2)
            busy = run(args.rows, args.batch_sizes, args.models, "hog")
        finally:
            hog.terminate()
            hog.wait()
        for q, b in zip(quiet, busy, strict=True):
            print(f"hog/quiet {q['model']:6s} batch {q['batch']:5d}: estlab {b['estlab'] / q['estlab']:.2f}x "
                  f"of its quiet figure")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
