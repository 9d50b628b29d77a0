"""Benchmark: fit and transform 1,000,000 Adult-shaped rows on one core.

Builds a 1M-row frame by resampling the bundled Adult train set (6 numeric + 8 categorical columns),
fits a FeatureTransformer with z-scored numerics, 5 indicator and 3 embedding columns (learned
vocabularies), then prints rows/s for ``fit`` and ``transform``, the cost of gathering every batch of an
epoch by index relative to ``transform``, and the peak memory of ``transform`` (tracemalloc: numpy/torch
allocations; sampled RSS delta: everything, pyarrow buffers included) relative to the frame's own
``memory_usage(deep=True)``.

Run: ``python benchmarks/bench_features.py [--rows 1000000] [--batch-size 1024]``
"""

from __future__ import annotations

import argparse
import threading
import time
import tracemalloc

import psutil
import torch

from estlab import feature_column as fc
from estlab.datasets import load_adult

NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
INDICATOR = ["workclass", "marital_status", "relationship", "race", "gender"]
EMBEDDING = ["education", "occupation", "native_country"]


def columns() -> list:
    cols: list = [fc.numeric_column(k, normalizer="zscore") for k in NUMERIC]
    cols += [fc.indicator_column(fc.categorical_column_with_learned_vocabulary(k)) for k in INDICATOR]
    cols += [fc.embedding_column(fc.categorical_column_with_learned_vocabulary(k), 8) for k in EMBEDDING]
    return cols


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def peak_rss_delta(fn) -> float:
    """Peak resident memory above the starting point while ``fn`` runs (sampled every 2 ms), in MiB."""
    proc = psutil.Process()
    start = proc.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out = fn()
    done.set()
    thread.join()
    del out
    return (peak[0] - start) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    train, _ = load_adult()
    frame = train.sample(args.rows, replace=True, random_state=0).reset_index(drop=True)
    frame = frame[NUMERIC + INDICATOR + EMBEDDING]
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    ft = fc.FeatureTransformer(columns())

    fit_s, _ = best_of(lambda: ft.fit(frame), args.repeats)
    transform_s, encoded = best_of(lambda: ft.transform(frame), args.repeats)

    def gather_epoch() -> int:
        perm = torch.randperm(args.rows, generator=torch.Generator().manual_seed(0))
        n = 0
        for idx in perm.split(args.batch_size):
            batch = {k: v[idx] for k, v in encoded.items()}
            n += len(batch)
        return n

    gather_s, _ = best_of(gather_epoch, args.repeats)

    tracemalloc.start()
    ft.transform(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = peak_rss_delta(lambda: ft.transform(frame))
    encoded_mb = sum(v.numel() * v.element_size() for v in encoded.values()) / 2**20

    layer = fc.DenseFeatures(columns(), ft)
    dense_s, _ = best_of(lambda: layer({k: v[: args.batch_size] for k, v in encoded.items()}), args.repeats)

    print(f"rows: {args.rows:,}  threads: {torch.get_num_threads()}  (best of {args.repeats})")
    print(f"fit:        {fit_s:7.3f} s   {args.rows / fit_s:12,.0f} rows/s")
    print(f"transform:  {transform_s:7.3f} s   {args.rows / transform_s:12,.0f} rows/s")
    print(f"gather one epoch in batches of {args.batch_size}: {gather_s:.3f} s = {gather_s / transform_s:.2f} x transform")
    print(f"DenseFeatures forward, batch {args.batch_size}: {dense_s * 1e3:.2f} ms (width {layer.output_width})")
    print(f"frame memory_usage(deep=True): {frame_mb:8.1f} MiB")
    print(f"encoded tensors:               {encoded_mb:8.1f} MiB ({encoded_mb / frame_mb:.2f} x frame)")
    print(f"transform peak (tracemalloc):  {peak / 2**20:8.1f} MiB ({peak / 2**20 / frame_mb:.2f} x frame)")
    print(f"transform peak RSS delta:      {rss_mb:8.1f} MiB ({rss_mb / frame_mb:.2f} x frame, incl. arrow buffers)")


if __name__ == "__main__":
    main()
