"""Accuracy of the premade estimators on the bundled Adult split, with default hyper-parameters.

Feature columns: ``estlab.features.infer_columns(train, label="income_bracket")`` (z-scored numeric
columns, indicator columns of learned vocabularies); the wide part of wide-and-deep also gets the
tutorial's crosses. Only the training length is chosen here (``--epochs``, ``--batch-size``);
every model hyper-parameter is the class default.

Run: ``python benchmarks/adult_accuracy.py [--epochs 10] [--models linear,dnn,combined,boosted]``
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from estlab import feature_column as fc
from estlab.datasets import load_adult
from estlab.estimators import (
    BaselineClassifier,
    BoostedTreesClassifier,
    DNNClassifier,
    DNNLinearCombinedClassifier,
    LinearClassifier,
)
from estlab.features import infer_columns
from estlab.training.config import RunConfig

GOALS = {"linear": (0.852, 0.905), "dnn": (0.854, 0.907), "combined": (0.855, 0.908), "boosted": (0.870, 0.925)}


def wide_crosses() -> list:
    """The TF wide-and-deep tutorial's crossed columns (education x occupation, age buckets x both)."""
    age_buckets = fc.bucketized_column(fc.numeric_column("age"), [18, 25, 30, 35, 40, 45, 50, 55, 60, 65])
    return [
        fc.crossed_column(["education", "occupation"], hash_bucket_size=1000),
        fc.crossed_column([age_buckets, "education", "occupation"], hash_bucket_size=1000),
    ]


def build(name: str, columns: list, model_dir: str, seed: int, threads: int):
    """A premade classifier with default hyper-parameters."""
    config = RunConfig(random_seed=seed, tensorboard=False, save_checkpoints_secs=3600)
    common = {"model_dir": model_dir, "config": config, "label_vocabulary": ["<=50K", ">50K"]}
    if name == "baseline":
        return BaselineClassifier(**common)
    if name == "linear":
        return LinearClassifier(columns, **common)
    if name == "dnn":
        return DNNClassifier([128, 64], columns, **common)
    if name == "combined":
        return DNNLinearCombinedClassifier(linear_feature_columns=columns + wide_crosses(),
                                           dnn_feature_columns=columns, **common)
    if name == "boosted":
        return BoostedTreesClassifier(columns, num_threads=threads, **common)
    raise ValueError(f"model {name!r} is unknown; use baseline, linear, dnn, combined or boosted")


def main(argv: list[str] | None = None) -> list[dict]:
    """Train each model, print and return one row per model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="baseline,linear,dnn,combined,boosted")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and LightGBM threads (1 is fastest for these small models on a shared CPU)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    train, test = load_adult()
    label = "income_bracket"
    columns = infer_columns(train, label=label).feature_columns
    rows = []
    print(f"{'model':<10} {'accuracy':>8} {'auc':>6} {'goal acc/auc':>13} {'steps':>6} {'seconds':>8}")
    for name in args.models.split(","):
        est = build(name, columns, tempfile.mkdtemp(prefix=f"adult_{name}_"), args.seed, args.threads)
        start = time.perf_counter()
        est.train(train, label=label, batch_size=args.batch_size, num_epochs=args.epochs)
        seconds = time.perf_counter() - start
        metrics = est.evaluate(test, label=label)
        goal = GOALS.get(name)
        row = {"model": name, "accuracy": metrics["accuracy"], "auc": metrics["auc"],
               "steps": est.global_step, "seconds": seconds}
        rows.append(row)
        goal_text = f"{goal[0]:.3f}/{goal[1]:.3f}" if goal else "-"
        print(f"{name:<10} {row['accuracy']:8.4f} {row['auc']:6.4f} {goal_text:>13} {row['steps']:6d} {seconds:8.1f}",
              flush=True)
    return rows


if __name__ == "__main__":
    main()
