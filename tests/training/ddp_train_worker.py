"""One training script, run alone or under ``torchrun``: used by test_torchrun_training.py.

``python ddp_train_worker.py OUT_DIR MODEL_DIR MAX_STEPS [PARQUET]`` trains a small custom estimator on
a 600-row frame (label = x1 + x2 > 0), or streamed from PARQUET (the same frame written to parquet),
records which ``row_id``s this rank trained on, evaluates, and writes ``OUT_DIR/rank<r>-<max_steps>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from estlab import features as fc
from estlab.estimators.custom import ModelSpec
from estlab.estimators.estimator import Estimator
from estlab.estimators.heads import make_head
from estlab.inputs import parquet_input_fn
from estlab.training import distributed
from estlab.training.config import RunConfig

COLUMNS = [
    fc.numeric_column("x1"),
    fc.numeric_column("x2"),
    fc.indicator_column(fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"])),
]


def frame(n_rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=n_rows), rng.normal(size=n_rows)
    return pd.DataFrame({"row_id": np.arange(n_rows, dtype=np.float64), "x1": x1, "x2": x2,
                         "color": rng.choice(["red", "green", "blue"], size=n_rows),
                         "label": (x1 + x2 > 0).astype(np.int64)})


class RecordingModel(nn.Module):
    """A logistic model over ``COLUMNS`` that remembers the ``row_id``s it trained on."""

    def __init__(self) -> None:
        super().__init__()
        self.features = DenseFeaturesOf(COLUMNS)
        self.out = nn.Linear(5, 1)
        self.seen: list[torch.Tensor] = []
        self.evaluated: list[torch.Tensor] = []

    def forward(self, encoded: dict[str, torch.Tensor]) -> torch.Tensor:
        (self.seen if self.training else self.evaluated).append(encoded["row_id"].reshape(-1).long().cpu())
        return self.out(self.features({k: v for k, v in encoded.items() if k != "row_id"}))


def DenseFeaturesOf(columns: list) -> nn.Module:  # noqa: N802  (reads like the layer it builds)
    return fc.DenseFeatures(columns)


def model_fn(params: dict) -> ModelSpec:
    return ModelSpec(module=RecordingModel(), head=make_head(2), feature_columns=[*COLUMNS, fc.numeric_column("row_id")],
                     optimizer="Adam", learning_rate=0.05)


def main(out_dir: str, model_dir: str, max_steps: int, parquet: str | None = None) -> None:
    data = frame()
    config = RunConfig(model_dir=model_dir, random_seed=0, device="cpu", save_checkpoints_steps=10,
                       log_step_count_steps=10)
    estimator = Estimator(model_fn, config=config)
    if parquet is None:
        estimator.train(data, label="label", max_steps=max_steps, batch_size=30, num_epochs=None, shuffle=True)
    else:
        source = parquet_input_fn(parquet, label="label", batch_size=30, num_epochs=None, shuffle=True, seed=0)
        estimator.train(source, max_steps=max_steps)
    module = estimator._models.state.module
    seen = torch.cat(module.seen).tolist() if module.seen else []
    if parquet is None:
        metrics = estimator.evaluate(data, label="label")
    else:
        metrics = estimator.evaluate(parquet_input_fn(parquet, label="label", batch_size=100))
    evaluated = torch.cat(module.evaluated).tolist()
    rank = distributed.get_rank()
    result = {"rank": rank, "world_size": distributed.get_world_size(), "pid": os.getpid(),
              "seen": seen, "evaluated": evaluated, "metrics": metrics, "global_step": estimator.global_step}
    Path(out_dir, f"rank{rank}-{max_steps}.json").write_text(json.dumps(result))
    estimator.close()  # frees the DDP wrapper before its process group goes
    distributed.barrier()
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
