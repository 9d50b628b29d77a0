"""GPU check: estlab's training loop on CUDA in fp32 and mixed precision, against a hand-written loop.

Self-contained (bundled Adult data, nothing downloaded), about 1-2 minutes on one GPU::

    python benchmarks/gpu_check.py                  # 500,000 rows, batch 256 and 4096, fp32/bf16/fp16
    python benchmarks/gpu_check.py --rows 200000 --batch-sizes 4096 --compile

For LinearClassifier and DNNClassifier(hidden_units=[64, 32]) and each batch size and precision it prints

* ``estlab loop``: examples/s of ``estimator.train`` steps (CUDA events around the steps, after a warm-up),
* ``estlab e2e``: examples/s of the whole ``train`` call (transform on the CPU, host-to-device copy, loop,
  final checkpoint),
* ``hand``: examples/s of a minimal loop over the same module class, optimizer and batch size on tensors
  already on the GPU (same autocast dtype; fp16 with a GradScaler),
* ``loop/hand`` and ``e2e/hand`` ratios, and each precision's speed-up over fp32 (``x fp32``).

Exit status 0 when it ran, 2 when no CUDA device is visible.

Example
-------
>>> main(["--rows", "20000", "--batch-sizes", "4096"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: estlab importable without installing
sys.path.insert(0, HERE)

import bench_training as bench  # noqa: E402

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def run_one(kind: str, batch_size: int, precision: str, features, labels, frame, args, device) -> dict:
    """One estlab epoch and one hand-written epoch for (model, batch size, precision)."""
    import pandas as pd

    from estlab.inputs import pandas_input_fn

    columns = bench.feature_columns(kind, frame)
    config = {"device": str(device), "mixed_precision": None if precision == "fp32" else precision,
              "tensorboard": False, "compile": args.compile}
    with tempfile.TemporaryDirectory() as model_dir:
        estimator = bench.make_estimator(kind, columns, model_dir, **config)
        timer = bench.step_timer(warmup_steps=10, device=device)
        input_fn = pandas_input_fn(features, pd.Series(labels), batch_size=batch_size, num_epochs=1, shuffle=True)
        bench.sync(device)
        start = time.perf_counter()
        estimator.train(input_fn=input_fn, hooks=[timer])
        bench.sync(device)
        e2e = len(labels) / (time.perf_counter() - start)
        loop = timer.examples_per_sec

        encoded, y = bench.prebuilt(estimator, features, labels)
        module, optimizers = bench.fresh_model(estimator, device)
        if args.compile:
            module = torch.compile(module)
        bench.hand_loop(module, optimizers, encoded, y, batch_size, device, PRECISIONS[precision],
                        max_seconds=1.0)  # warm-up (kernels, autotuning, compilation)
        n, seconds = bench.hand_loop(module, optimizers, encoded, y, batch_size, device, PRECISIONS[precision],
                                     seed=1, max_seconds=args.seconds)
        hand = n / seconds
        del estimator, encoded, y, module, optimizers
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"model": kind, "batch_size": batch_size, "precision": precision, "estlab_loop": loop,
            "estlab_e2e": e2e, "hand": hand, "loop_ratio": loop / hand, "e2e_ratio": e2e / hand}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="estlab GPU check (fp32 and mixed precision vs hand-written loop)")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--models", nargs="+", default=["linear", "dnn"], choices=["linear", "dnn"])
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=list(PRECISIONS))
    parser.add_argument("--seconds", type=float, default=3.0, help="cap on each hand-written timing")
    parser.add_argument("--compile", action="store_true", help="also torch.compile both sides")
    parser.add_argument("--device", default="cuda", help="'cpu' for a dry run of this script without a GPU")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible (torch.cuda.is_available() is False); nothing to check")
        return 2
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        print(f"device: {props.name}, {props.total_memory / 2**30:.0f} GiB, capability {props.major}.{props.minor}; "
              f"torch {torch.__version__}, CUDA {torch.version.cuda}; host: {bench.machine()}")
        precisions = [p for p in args.precisions if p != "bf16" or torch.cuda.is_bf16_supported()]
    else:
        print(f"device: cpu (dry run); host: {bench.machine()}")
        precisions = [p for p in args.precisions if p != "fp16"]
    began = time.perf_counter()
    frame = bench.adult_frame(args.rows)
    features, labels = bench.split_label(frame)
    print(f"rows: {args.rows:,} (Adult resampled), one epoch per estlab run; compile={args.compile}")
    header = (f"{'model':7} {'batch':>6} {'prec':>5} {'estlab loop':>12} {'estlab e2e':>11} {'hand':>12} "
              f"{'loop/hand':>9} {'e2e/hand':>8} {'x fp32':>6}")
    print(header)
    print("-" * len(header), flush=True)
    for kind in args.models:
        for batch_size in args.batch_sizes:
            fp32_loop = None
            for precision in precisions:
                r = run_one(kind, batch_size, precision, features, labels, frame, args, device)
                fp32_loop = r["estlab_loop"] if precision == "fp32" else fp32_loop
                speedup = r["estlab_loop"] / fp32_loop if fp32_loop else float("nan")
                print(f"{kind:7} {batch_size:>6} {precision:>5} {r['estlab_loop']:>12,.0f} {r['estlab_e2e']:>11,.0f} "
                      f"{r['hand']:>12,.0f} {r['loop_ratio']:>9.2f} {r['e2e_ratio']:>8.2f} {speedup:>6.2f}",
                      flush=True)
    print(f"total {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
