"""Training-loop overhead of estlab against a minimal hand-written PyTorch loop, in one process.

For each model (LinearClassifier, DNNClassifier(hidden_units=[64, 32])) and batch size, one epoch over an
Adult-shaped frame (the bundled Adult train split resampled to ``--rows`` rows):

* **estlab**: ``estimator.train(pandas_input_fn(frame, ...))`` timed end to end, *including* fitting and
  applying the feature transformation once, the final checkpoint and the default listeners.
* **hand**: the same ``nn.Module`` class (built by the estimator's own ``_build_module``), the same optimizer
  (``_build_optimizers``), the same batch size, on tensors pre-built by the fitted transformer (not timed):
  ``randperm`` → index → forward → BCE-with-logits → backward → step. Timed before *and* after the estlab
  run; the faster of the two is the reference, so the ratio is conservative.

Also: ``evaluate`` and ``predict`` (dicts, and as a DataFrame) examples/s against encoding the same frame with
the fitted transformer plus a plain ``model(x)`` over the encoded tensors (issue 14's reference; the ratio
against ``model(x)`` alone is printed too), and peak RSS while training (each model in a fresh subprocess) against
``frame + its tensors``. Goals: train ratio >= 0.9, peak training memory <= 2 x (frame + tensors).

Usage::

    python benchmarks/bench_training.py                     # 1,000,000 rows, batch 256 and 4096
    python benchmarks/bench_training.py --rows 200000 --batch-sizes 4096 --skip-memory
    python benchmarks/bench_training.py --json results.json
    python benchmarks/bench_training.py --inference-only --threads 1   # evaluate / predict ratios only

Example
-------
>>> frame = adult_frame(1000, seed=0)          # doctest: +SKIP
>>> frame.shape                                  # doctest: +SKIP
(1000, 15)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch

LABEL = "income_bracket"
NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
VOCAB = ["workclass", "education", "marital_status", "relationship", "race", "gender"]
HASHED = {"occupation": 1000, "native_country": 1000}


# -- data -----------------------------------------------------------------------------------------------


def adult_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """The bundled Adult train split resampled (with replacement) to ``rows`` rows.

    Examples
    --------
    >>> adult_frame(10).shape
    (10, 15)
    """
    from estlab.datasets import load_adult

    train = load_adult().train
    picks = np.random.default_rng(seed).integers(0, len(train), size=rows)
    return train.iloc[picks].reset_index(drop=True)


def split_label(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and a 0/1 float label (``>50K`` → 1)."""
    labels = (frame[LABEL].astype(str).str.strip().str.rstrip(".") == ">50K").to_numpy(np.int64)
    return frame.drop(columns=[LABEL]), labels


def feature_columns(kind: str, frame: pd.DataFrame) -> list:
    """The classic census columns: wide (linear) or deep (indicators, embeddings)."""
    from estlab import features as fc

    numeric = [fc.numeric_column(k, normalizer="zscore") for k in NUMERIC]
    vocab = {
        k: fc.categorical_column_with_vocabulary_list(k, sorted(frame[k].dropna().astype(str).unique()))
        for k in VOCAB
    }
    hashed = {k: fc.categorical_column_with_hash_bucket(k, n) for k, n in HASHED.items()}
    if kind == "linear":
        age_buckets = fc.bucketized_column(fc.numeric_column("age"), [18, 25, 30, 35, 40, 45, 50, 55, 60, 65])
        return [*numeric, *vocab.values(), *hashed.values(), age_buckets]
    if kind == "dnn":
        return [
            *numeric,
            *(fc.indicator_column(c) for c in vocab.values()),
            *(fc.embedding_column(c, dimension=8) for c in hashed.values()),
        ]
    raise ValueError(f"kind must be 'linear' or 'dnn', got {kind!r}")


def make_estimator(kind: str, columns: list, model_dir: str, **config: Any) -> Any:
    """LinearClassifier or DNNClassifier(hidden_units=[64, 32]) with checkpoints only at the end."""
    from estlab.estimators import DNNClassifier, LinearClassifier
    from estlab.training.config import RunConfig

    run_config = RunConfig(model_dir=model_dir, random_seed=0, device=config.pop("device", "cpu"), **config)
    if kind == "linear":
        return LinearClassifier(feature_columns=columns, model_dir=model_dir, config=run_config)
    return DNNClassifier(hidden_units=[64, 32], feature_columns=columns, model_dir=model_dir, config=run_config)


# -- the reference --------------------------------------------------------------------------------------


def prebuilt(estimator: Any, features: pd.DataFrame, labels: np.ndarray) -> tuple[dict, torch.Tensor]:
    """The encoded tensors of ``features`` through the estimator's fitted transformer."""
    transformer = fitted_transformer(estimator)
    encoded = transformer.transform(features)
    return encoded, torch.as_tensor(labels, dtype=torch.float32)


def fitted_transformer(estimator: Any) -> Any:
    """The transformer the estimator fitted in ``train`` (through the public serving seam)."""
    transformer = estimator.serving_model().transformer
    if transformer is None:
        raise AttributeError(f"{type(estimator).__name__} holds no fitted transformer; train it first")
    return transformer


def tensor_bytes(encoded: dict) -> int:
    """Bytes held by a dict of tensors."""
    return sum(t.element_size() * t.nelement() for t in encoded.values())


def hand_loop(
    module: torch.nn.Module,
    optimizers: list,
    encoded: dict,
    labels: torch.Tensor,
    batch_size: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    seed: int = 0,
    max_seconds: float | None = None,
) -> tuple[int, float]:
    """One epoch of the minimal loop; returns (examples, seconds).

    fp16 on CUDA uses a ``GradScaler``, as estlab does; ``max_seconds`` ends the epoch early.
    """
    module.train()
    scaler = torch.amp.GradScaler("cuda") if autocast_dtype == torch.float16 and device.type == "cuda" else None
    loss_fn = torch.nn.BCEWithLogitsLoss()
    encoded = {k: v.to(device) for k, v in encoded.items()}
    labels = labels.to(device)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed)).to(device)
    autocast = (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype
                else contextlib.nullcontext())
    sync(device)
    start = time.perf_counter()
    seen = 0
    for idx in order.split(batch_size):
        with autocast:
            logits = module({k: v[idx] for k, v in encoded.items()})
            loss = loss_fn(logits.reshape(-1).float(), labels[idx])
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
        else:
            scaler.scale(loss).backward()
            for optimizer in optimizers:
                scaler.step(optimizer)
            scaler.update()
        seen += len(idx)
        if max_seconds is not None and seen // batch_size % 20 == 0 and time.perf_counter() - start > max_seconds:
            break
    sync(device)
    return seen, time.perf_counter() - start


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fresh_model(estimator: Any, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, list]:
    """A new module and optimizers of the estimator's own classes (same architecture and optimizer)."""
    module = estimator._build_module(fitted_transformer(estimator)).to(device)
    return module, estimator._build_optimizers(module)


def step_timer(warmup_steps: int = 5, device: torch.device | None = None) -> Any:
    """A listener timing the loop alone (steps after ``warmup_steps``), excluding transform and checkpoint.

    On CUDA it records CUDA events (no synchronisation inside the loop) and reads them at the end.
    """
    from estlab.training.events import Listener

    cuda = device is not None and device.type == "cuda"

    class StepTimer(Listener):
        order = 300

        def __init__(self) -> None:
            self.first_step = 0
            self.start: Any = None
            self.stop: Any = None
            self.start_seen = 0
            self.examples = 0

        def on_train_begin(self, event: dict) -> None:
            self.first_step = event["global_step"]

        def _mark(self) -> Any:
            if cuda:
                mark = torch.cuda.Event(enable_timing=True)
                mark.record()
                return mark
            return time.perf_counter()

        def on_step_end(self, event: dict) -> None:
            step = event["global_step"] - self.first_step
            if step == warmup_steps:
                self.start, self.start_seen = self._mark(), event["examples_seen"]
            elif step > warmup_steps:
                self.stop, self.examples = self._mark(), event["examples_seen"] - self.start_seen

        @property
        def examples_per_sec(self) -> float:
            if self.start is None or self.stop is None:
                return float("nan")
            if cuda:
                self.stop.synchronize()
                return self.examples / (self.start.elapsed_time(self.stop) / 1000.0)
            return self.examples / (self.stop - self.start)

    return StepTimer()


def cold_cache() -> None:
    """Forget encoded frames (``estlab.features.encode_cache``): every timed call encodes, as the reference does."""
    with contextlib.suppress(ImportError):
        from estlab.features import encode_cache

        encode_cache.clear()


def timed(fn: Callable[[], Any], clock: Callable[[], float] = time.perf_counter) -> tuple[Any, float]:
    start = clock()
    result = fn()
    return result, clock() - start


#: ``--clock`` of the evaluate/predict comparison: wall time, or this process's CPU time (all its threads), which
#: other jobs on a shared machine barely move
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


# -- the benchmarks -------------------------------------------------------------------------------------


def bench_train(kind: str, batch_size: int, features: pd.DataFrame, labels: np.ndarray, frame: pd.DataFrame,
                infer_rows: int | None = None, repeats: int = 3, clock: str = "wall") -> dict:
    """Examples/s of estlab's ``train`` (one epoch) and of the hand loop; their ratio."""
    from estlab.inputs import pandas_input_fn

    columns = feature_columns(kind, frame)
    rows = len(labels)
    with tempfile.TemporaryDirectory() as model_dir:
        estimator = make_estimator(kind, columns, model_dir)
        # warm up both paths on a small slice (first-call costs: allocator, kernels, lazy imports)
        small = slice(0, min(rows, 20 * batch_size))
        warm = make_estimator(kind, columns, tempfile.mkdtemp())
        warm.train(input_fn=pandas_input_fn(features.iloc[small], pd.Series(labels[small]), batch_size=batch_size,
                                            num_epochs=1, shuffle=True))
        encoded, y = prebuilt(warm, features, labels)
        hand_before = hand_loop(*fresh_model(warm), encoded, y, batch_size, torch.device("cpu"))
        del encoded, y
        gc.collect()

        input_fn = pandas_input_fn(features, pd.Series(labels), batch_size=batch_size, num_epochs=1, shuffle=True)
        timer = step_timer()
        cold_cache()
        _, seconds = timed(lambda: estimator.train(input_fn=input_fn, hooks=[timer]))
        estlab_eps = rows / seconds

        encoded, y = prebuilt(estimator, features, labels)
        hand_after = hand_loop(*fresh_model(estimator), encoded, y, batch_size, torch.device("cpu"))
        hand_eps = max(n / s for n, s in (hand_before, hand_after))
        result = {
            "model": kind, "batch_size": batch_size, "rows": rows,
            "estlab_examples_per_sec": estlab_eps, "hand_examples_per_sec": hand_eps,
            "train_ratio": estlab_eps / hand_eps, "estlab_seconds": seconds,
            "estlab_loop_examples_per_sec": timer.examples_per_sec, "loop_ratio": timer.examples_per_sec / hand_eps,
        }
        n = len(labels) if infer_rows is None else min(infer_rows, len(labels))
        result.update(bench_inference(estimator, features.iloc[:n], labels[:n],
                                      {k: v[:n] for k, v in encoded.items()}, batch_size, repeats, clock))
    return result


def bench_inference_only(kind: str, batch_size: int, features: pd.DataFrame, labels: np.ndarray,
                         frame: pd.DataFrame, infer_rows: int | None = None, repeats: int = 3,
                         clock: str = "wall") -> dict:
    """:func:`bench_inference` alone: the model is trained on a small slice (20 batches) first, untimed.

    Evaluate/predict speed does not depend on how long the model trained, only on its architecture and fitted
    transformer (the vocabularies are fixed; the numeric statistics come from the slice).
    """
    from estlab.inputs import pandas_input_fn

    columns = feature_columns(kind, frame)
    small = slice(0, min(len(labels), 20 * batch_size))
    with tempfile.TemporaryDirectory() as model_dir:
        estimator = make_estimator(kind, columns, model_dir)
        estimator.train(input_fn=pandas_input_fn(features.iloc[small], pd.Series(labels[small]),
                                                 batch_size=batch_size, num_epochs=1, shuffle=True))
        n = len(labels) if infer_rows is None else min(infer_rows, len(labels))
        encoded, _ = prebuilt(estimator, features.iloc[:n], labels[:n])
        nan = float("nan")
        result = {"model": kind, "batch_size": batch_size, "rows": n, "estlab_examples_per_sec": nan,
                  "hand_examples_per_sec": nan, "train_ratio": nan, "estlab_seconds": nan,
                  "estlab_loop_examples_per_sec": nan, "loop_ratio": nan}
        result.update(bench_inference(estimator, features.iloc[:n], labels[:n], encoded, batch_size, repeats, clock))
    return result


def bench_inference(estimator: Any, features: pd.DataFrame, labels: np.ndarray, encoded: dict,
                    batch_size: int, repeats: int = 3, clock: str = "wall") -> dict:
    """Examples/s of evaluate / predict (dicts, DataFrame) against encode + a plain ``model(x)`` loop.

    Every measurement runs ``repeats`` times, interleaved (reference, evaluate, predict, predict_frame, again),
    and the fastest of each is kept: on a shared machine a run that another job interrupts is discarded on both
    sides alike. ``clock="cpu"`` times by this process's CPU time (every thread's) instead of the wall clock.
    """
    tick = CLOCKS[clock]
    from estlab.inputs import pandas_input_fn

    rows = len(labels)
    module = fresh_model(estimator)[0].eval()
    transformer = fitted_transformer(estimator)

    def plain() -> None:
        with torch.inference_mode():
            for start in range(0, rows, batch_size):
                torch.sigmoid(module({k: v[start:start + batch_size] for k, v in encoded.items()}))

    make_input = lambda: pandas_input_fn(features, pd.Series(labels), batch_size=batch_size, num_epochs=1,  # noqa: E731
                                         shuffle=False)
    predict_input = lambda: pandas_input_fn(features, batch_size=batch_size, num_epochs=1, shuffle=False)  # noqa: E731

    def dicts() -> int:
        return sum(1 for _ in estimator.predict(input_fn=predict_input()))

    def frame() -> Any:
        return estimator.predict_frame(predict_input())

    times: dict[str, list[float]] = {"plain": [], "encode": [], "eval": [], "dicts": [], "frame": []}
    for _ in range(max(1, repeats)):
        times["plain"].append(timed(plain, tick)[1])
        times["encode"].append(timed(lambda: transformer.transform(features), tick)[1])  # what every path must do
        for name, fn in (("eval", lambda: estimator.evaluate(input_fn=make_input())), ("dicts", dicts),
                         ("frame", frame)):
            cold_cache()  # no encoded frame from the previous call: each call encodes, as the reference does
            result, seconds = timed(fn, tick)
            times[name].append(seconds)
            if name == "dicts":
                assert result == rows, f"predict yielded {result} rows for {rows}"
    plain_s, encode_s = min(times["plain"]), min(times["encode"])
    eval_s, dicts_s, frame_s = min(times["eval"]), min(times["dicts"]), min(times["frame"])
    reference_s = encode_s + plain_s
    return {
        "plain_model_examples_per_sec": rows / plain_s,
        "encode_plus_model_examples_per_sec": rows / reference_s,
        "evaluate_examples_per_sec": rows / eval_s,
        "predict_dicts_examples_per_sec": rows / dicts_s,
        "predict_frame_examples_per_sec": rows / frame_s,
        # issue 14's definitions: against encode + plain model(x) over the same frame
        "evaluate_ratio": reference_s / eval_s,
        "predict_dicts_ratio": reference_s / dicts_s,
        "predict_frame_ratio": reference_s / frame_s,
        # against the model alone on pre-encoded tensors (the older column)
        "evaluate_vs_model_ratio": plain_s / eval_s,
        "predict_dicts_vs_model_ratio": plain_s / dicts_s,
        "predict_frame_vs_model_ratio": plain_s / frame_s,
    }


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident set size since start (or since ``reset_peak_rss``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(kind: str, rows: int, batch_size: int) -> dict:
    """Run in a fresh process: peak RSS while training one epoch, against frame + tensors.

    ``base`` is the RSS after imports and a tiny warm-up run (code, not data); the peak is taken
    during ``train`` only (the kernel's mark is reset after the frame is built).
    """
    from estlab.inputs import pandas_input_fn

    warm_frame = adult_frame(2000, seed=1)
    warm_features, warm_labels = split_label(warm_frame)
    with tempfile.TemporaryDirectory() as model_dir:
        make_estimator(kind, feature_columns(kind, warm_frame), model_dir).train(
            input_fn=pandas_input_fn(warm_features, pd.Series(warm_labels), batch_size=256, num_epochs=1,
                                     shuffle=True))
    del warm_frame, warm_features, warm_labels
    gc.collect()
    base = rss_bytes()
    frame = adult_frame(rows)
    columns = feature_columns(kind, frame)
    features, labels = split_label(frame)
    del frame
    gc.collect()
    frame_bytes = int(features.memory_usage(deep=True).sum() + labels.nbytes)
    before_train = rss_bytes()
    exact = reset_peak_rss()
    with tempfile.TemporaryDirectory() as model_dir:
        estimator = make_estimator(kind, columns, model_dir)
        estimator.train(input_fn=pandas_input_fn(features, pd.Series(labels), batch_size=batch_size,
                                                 num_epochs=1, shuffle=True))
        peak = peak_rss_bytes()
        encoded, y = prebuilt(estimator, features, labels)
        data_bytes = frame_bytes + tensor_bytes(encoded) + y.element_size() * y.nelement()
    return {"model": kind, "rows": rows, "base_rss": base, "rss_before_train": before_train, "peak_rss": peak,
            "peak_is_training_only": exact, "frame_bytes": frame_bytes, "frame_plus_tensors_bytes": data_bytes,
            "memory_ratio": (peak - base) / data_bytes}


def bench_memory(kind: str, rows: int, batch_size: int) -> dict:
    """``memory_child`` in a fresh interpreter (peak RSS is per process)."""
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import bench_training as b; print(json.dumps(b.memory_child({kind!r}, {rows}, {batch_size})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"memory run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    """One line describing where the figures come from."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}")


def print_table(results: list[dict], memory: list[dict]) -> None:
    header = (f"{'model':7} {'batch':>6} {'estlab ex/s':>12} {'hand ex/s':>12} {'train':>6} {'loop':>6} "
              f"{'eval':>6} {'pred':>6} {'predDF':>6}")
    print(header)
    print("-" * len(header))
    for r in results:
        print(f"{r['model']:7} {r['batch_size']:>6} {r['estlab_examples_per_sec']:>12,.0f} "
              f"{r['hand_examples_per_sec']:>12,.0f} {r['train_ratio']:>6.2f} {r['loop_ratio']:>6.2f} "
              f"{r['evaluate_ratio']:>6.2f} "
              f"{r['predict_dicts_ratio']:>6.2f} {r['predict_frame_ratio']:>6.2f}")
    print("ratios: train = estlab end to end (transform + loop + checkpoint) / hand-written loop, goal >= 0.90;\n"
          "        loop = estlab's steps alone / hand-written;\n"
          "        eval, pred, predDF = vs (encode the frame + plain model(x)), goals >= 0.8, 0.5, 0.7 (issue 14)")
    for r in results:
        print(f"  {r['model']} bs={r['batch_size']}: plain model(x) {r['plain_model_examples_per_sec']:,.0f} ex/s, "
              f"encode + model(x) {r['encode_plus_model_examples_per_sec']:,.0f}, "
              f"evaluate {r['evaluate_examples_per_sec']:,.0f}, predict dicts {r['predict_dicts_examples_per_sec']:,.0f},"
              f" predict DataFrame {r['predict_frame_examples_per_sec']:,.0f}; vs model(x) alone: "
              f"eval {r['evaluate_vs_model_ratio']:.2f}, pred {r['predict_dicts_vs_model_ratio']:.2f}, "
              f"predDF {r['predict_frame_vs_model_ratio']:.2f}")
    for m in memory:
        print(f"memory {m['model']}: base {m['base_rss'] / 2**20:,.0f} MiB (imports), "
              f"{m['rss_before_train'] / 2**20:,.0f} MiB with the frame, peak during train "
              f"{m['peak_rss'] / 2**20:,.0f} MiB; frame {m['frame_bytes'] / 2**20:,.0f} MiB + tensors = "
              f"{m['frame_plus_tensors_bytes'] / 2**20:,.0f} MiB; (peak - base) / (frame + tensors) = "
              f"{m['memory_ratio']:.2f} (goal <= 2)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--models", nargs="+", default=["linear", "dnn"], choices=["linear", "dnn"])
    parser.add_argument("--infer-rows", type=int, default=200_000,
                        help="rows for the evaluate/predict comparison (ratios barely depend on it)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="evaluate/predict and their reference: best of this many interleaved runs")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="evaluate/predict comparison timed by wall time, or by this process's CPU time (all "
                             "threads; other jobs on a shared machine barely move it)")
    parser.add_argument("--inference-only", action="store_true",
                        help="only evaluate/predict against encode + model(x) (no training timing, no memory run)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine()}")
    print(f"rows: {args.rows:,} (Adult resampled), one epoch per run; evaluate/predict on "
          f"{min(args.infer_rows, args.rows):,} rows, {args.clock} clock; load average at start "
          f"{os.getloadavg()[0]:.1f}")
    frame = adult_frame(args.rows)
    features, labels = split_label(frame)
    results = []
    for kind in args.models:
        for batch_size in args.batch_sizes:
            bench = bench_inference_only if args.inference_only else bench_train
            results.append(bench(kind, batch_size, features, labels, frame, args.infer_rows, args.repeats, args.clock))
            r = results[-1]
            print(f"  done {kind} bs={batch_size}: train {r['train_ratio']:.2f}, loop {r['loop_ratio']:.2f}, "
                  f"eval {r['evaluate_ratio']:.2f}, pred {r['predict_dicts_ratio']:.2f}, "
                  f"predDF {r['predict_frame_ratio']:.2f}", flush=True)
    memory = []
    for kind in [] if args.skip_memory or args.inference_only else args.models:
        memory.append(bench_memory(kind, args.rows, max(args.batch_sizes)))
        print(f"  done memory {kind}: ratio {memory[-1]['memory_ratio']:.2f}", flush=True)
    print_table(results, memory)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"machine": machine(), "rows": args.rows, "clock": args.clock, "train": results, "memory": memory},
                      out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
