"""Run by test_parquet_memory_cap.py in a subprocess: train from parquet under an address-space cap.

``python memcap_worker.py PATH MODEL_DIR HEADROOM_MB`` imports and warms everything up, then caps the
address space (``RLIMIT_AS``) at the current size plus ``HEADROOM_MB`` -- less than the parquet data
would take in memory -- trains one epoch streamed from PATH, and checks that reading the file whole
fails under the same cap. Prints one JSON line.
"""

from __future__ import annotations

import json
import resource
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from estlab import features as fc
from estlab.estimators import LinearClassifier
from estlab.features.parallel import PARALLEL_ROWS
from estlab.inputs import parquet_input_fn
from estlab.training.config import RunConfig

N_FEATURES = 10


def vm_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def main(path: str, model_dir: str, headroom_mb: int) -> None:
    torch.set_num_threads(1)
    columns = [fc.numeric_column(f"f{i}", normalizer="zscore") for i in range(N_FEATURES)]
    config = RunConfig(model_dir=model_dir, random_seed=0, device="cpu", save_checkpoints_steps=100_000,
                       tensorboard=False)
    # warm-up on the first row group only (lazy imports, allocator pools, thread pools): enough rows that fitting
    # and encoding run on the encoding threads, whose stacks and malloc arenas are reserved here, not under the cap
    first = pq.ParquetFile(path).read_row_group(0).to_pandas()
    head = first.iloc[:2000]
    warm = LinearClassifier(columns, model_dir=model_dir + "-warm", config=config.replace(model_dir=None))
    warm.train(first.iloc[:PARALLEL_ROWS], label="label", steps=2, batch_size=256)
    warm.evaluate(head, label="label")
    del first

    cap = vm_bytes() + headroom_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    source = parquet_input_fn(path, label="label", batch_size=8192, num_epochs=1, shuffle=True, fit="stream")
    estimator = LinearClassifier(columns, model_dir=model_dir, config=config, optimizer="Adam", learning_rate=0.05)
    estimator.train(source)
    metrics = estimator.evaluate(head, label="label")

    try:
        whole = pd.read_parquet(path)
        whole_read = f"read {len(whole)} rows"
    except MemoryError as error:  # pyarrow's ArrowMemoryError is a MemoryError
        whole_read = f"MemoryError: {type(error).__name__}"
    print(json.dumps({
        "cap_headroom_bytes": headroom_mb * 2**20, "num_rows": source.num_rows,
        "steps_per_epoch": source.steps_per_epoch, "global_step": estimator.global_step,
        "accuracy": metrics["accuracy"], "whole_read": whole_read,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "numpy": np.__version__,
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
