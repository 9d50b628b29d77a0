"""Streaming throughput from parquet: read, read + encode, and training, against reading the file whole.

Writes an Adult-shaped parquet file (``--rows`` rows, row groups of ``--row-group-rows``), then times

* ``pandas.read_parquet`` of the whole file (the in-memory reference),
* raw batches from ``parquet_input_fn`` (one pass, rows/s),
* chunks encoded by the fitted ``FeatureTransformer`` (what a training loop does per row group),
* ``fit_stream`` (one streaming pass) and fitting on a sample,
* one epoch of ``LinearClassifier.train`` streamed from parquet, when the estimator accepts a
  ``StreamingInput``, next to the same epoch from the in-memory DataFrame,

and the peak RSS growth of a streaming pass in a fresh process against the file's in-memory size.

Usage::

    python benchmarks/bench_parquet.py                 # 1,000,000 rows, row groups of 50,000
    python benchmarks/bench_parquet.py --rows 200000

Example
-------
>>> main(["--rows", "20000"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_training as bench  # noqa: E402


def write_parquet(path: str, rows: int, row_group_rows: int) -> pd.DataFrame:
    """The resampled Adult frame (label as 0/1) written with the given row-group size; returns the frame."""
    frame = bench.adult_frame(rows)
    features, labels = bench.split_label(frame)
    data = features.assign(**{bench.LABEL: labels})
    data.to_parquet(path, row_group_size=row_group_rows)
    return data


def timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def streaming_rss_child(path: str, batch_size: int) -> dict:
    """In a fresh process: RSS growth over one streamed pass that encodes every chunk."""
    from estlab.features import FeatureTransformer
    from estlab.inputs import parquet_input_fn

    source = parquet_input_fn(path, label=bench.LABEL, batch_size=batch_size)
    sample = source.sample(20_000, seed=0)
    transformer = FeatureTransformer(bench.feature_columns("dnn", sample)).fit(sample)
    transformer.transform(next(source.chunks()).features)  # warm-up: lazy imports, allocator pools
    del sample
    base = bench.rss_bytes()
    bench.reset_peak_rss()
    rows = 0
    for chunk in source.chunks():
        encoded = transformer.transform(chunk.features)
        rows += len(next(iter(encoded.values())))
    return {"rows": rows, "base_rss": base, "peak_rss": bench.peak_rss_bytes()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="parquet streaming throughput")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--row-group-rows", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from estlab.estimators import LinearClassifier
    from estlab.features import FeatureTransformer
    from estlab.inputs import pandas_input_fn, parquet_input_fn
    from estlab.inputs.parquet import fit_transformer

    print(f"machine: {bench.machine()}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "adult.parquet")
        data = write_parquet(path, args.rows, args.row_group_rows)
        in_memory = int(data.memory_usage(deep=True).sum())
        print(f"rows: {args.rows:,}; file {os.path.getsize(path) / 2**20:,.1f} MiB on disk, "
              f"{in_memory / 2**20:,.0f} MiB as a DataFrame; row groups of {args.row_group_rows:,}; "
              f"batch {args.batch_size}")
        rows = args.rows
        results: dict[str, float] = {}

        _, seconds = timed(lambda: pd.read_parquet(path))
        results["read_parquet whole file"] = rows / seconds
        source = parquet_input_fn(path, label=bench.LABEL, batch_size=args.batch_size)
        _, seconds = timed(lambda: sum(len(x) for x, _ in source()))
        results["parquet_input_fn raw batches"] = rows / seconds

        columns = bench.feature_columns("linear", data)
        _, seconds = timed(lambda: fit_transformer(FeatureTransformer(columns), source, how="stream"))
        results["fit_stream (one pass)"] = rows / seconds
        transformer, seconds = timed(lambda: fit_transformer(FeatureTransformer(columns), source, how="sample",
                                                             sample_rows=100_000))
        results["fit on a 100,000-row sample (rows of data/s)"] = rows / seconds

        def encode_all() -> int:
            return sum(len(next(iter(transformer.transform(c.features).values()))) for c in source.chunks())

        _, seconds = timed(encode_all)
        results["chunks read + encoded"] = rows / seconds

        features, labels = data.drop(columns=[bench.LABEL]), data[bench.LABEL]
        with tempfile.TemporaryDirectory() as model_dir:
            estimator = LinearClassifier(columns, model_dir=model_dir)
            _, seconds = timed(lambda: estimator.train(pandas_input_fn(
                features, labels, batch_size=args.batch_size, num_epochs=1, shuffle=True)))
            results["train 1 epoch from the DataFrame"] = rows / seconds
        with tempfile.TemporaryDirectory() as model_dir:
            estimator = LinearClassifier(columns, model_dir=model_dir)
            streamed = parquet_input_fn(path, label=bench.LABEL, batch_size=args.batch_size, shuffle=True)
            try:
                _, seconds = timed(lambda: estimator.train(streamed))
                results["train 1 epoch streamed from parquet"] = rows / seconds
            except (AttributeError, TypeError) as error:
                print(f"(streamed training skipped: this Estimator does not accept a StreamingInput: {error})")

        code = (f"import json, sys; sys.path.insert(0, {HERE!r}); import bench_parquet as b; "
                f"print(json.dumps(b.streaming_rss_child({path!r}, {args.batch_size})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        memory = json.loads(out.stdout.strip().splitlines()[-1])

    width = max(len(k) for k in results)
    print(f"{'what':{width}}  rows/s")
    for name, rate in results.items():
        print(f"{name:{width}}  {rate:>12,.0f}")
    growth = memory["peak_rss"] - memory["base_rss"]
    print(f"memory: streaming + encoding every chunk grew RSS by {growth / 2**20:,.0f} MiB "
          f"({growth / in_memory:.2f} x the DataFrame's {in_memory / 2**20:,.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
