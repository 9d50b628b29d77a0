"""The TF user's Adult program run by estlab and by tf.estimator: examples/s side by side (issue 16).

The program (:data:`PROGRAM`) is what a TF user writes for Adult: the five numeric columns z-scored by a
``normalizer_fn`` (mean and standard deviation of the training split), the eight vocabulary columns as 8-d
``embedding_column``\\ s, ``DNNClassifier(hidden_units=[64, 32])`` with its defaults (Adam, a temporary
``model_dir``), trained on Adult's training split (32,561 rows) through
``pandas_input_fn(batch_size=128, num_epochs=10, shuffle=True)``: about 2,544 steps. The very same text runs
with ``fc, estimator, inputs`` bound to ``tf.feature_column, tf.estimator, tf.compat.v1.estimator.inputs`` or
to ``estlab.feature_column, estlab.estimator, estlab.estimator.inputs``.

Each run is a fresh subprocess (the user's experience of running the program once): it reads the prepared
data (a CSV and a JSON of the statistics, written by this script), imports its library, then times the
program. Reported per run:

* **ex/s**: 10 epochs x 32,561 rows over the program's wall time (building the estimator and the whole
  ``train`` call: graph/model building, every step, listeners or hooks, the final checkpoint). The headline.
  Imports are not in it: each side loads its estimator and feature-column modules before the clock starts.
* **steps ex/s**: the steps after the first 100 alone (a hook/listener clocks every step): the per-step rate
  without one-off costs.
* **load**: the 1-minute load average when the run started (the hog's runs include the hog).

With ``--repeats N`` each configuration runs N times (interleaved); the table shows the fastest and, last,
every run's ex/s (under the hog the spread is the point: a collapse shows there).

Goals (issue 16): estlab >= 1.5x TF 2.15's ex/s on a quiet machine; with a CPU hog (``yes > /dev/null``
pinned to one of two cores) estlab's ex/s >= 0.4x its quiet figure and no worse than with
``torch.set_num_threads(1)``. TF's reference figure and where it comes from is ``tf_reference.json`` (next to
this file); ``--tensorflow-python PATH`` also measures TF in that interpreter (it needs ``tensorflow`` with
``tf.estimator``, i.e. <= 2.15, and pandas; neither is an estlab dependency) in the same run. Such an
interpreter: ``python3 -m venv /tmp/tf215 && /tmp/tf215/bin/pip install "tensorflow-cpu==2.15.*" "numpy<2"
"pandas<2.3"``.

    python benchmarks/bench_tf_twin.py [--tensorflow-python /tmp/tf215/bin/python] [--hog] [--repeats 2]
    python benchmarks/bench_tf_twin.py --profile 25       # cProfile of estlab's run, one thread
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT / "estlab" / "datasets" / "data" / "adult_train.csv.gz"
REFERENCE = HERE / "tf_reference.json"

NUMERIC = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
VOCABULARY = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "gender",
    "native_country",
]
LABEL = "income_bracket"
EPOCHS = 10
BATCH = 128
WARMUP_STEPS = 100

#: The TF user's program. It runs unchanged with TF's or estlab's modules (``fc``, ``estimator``, ``inputs``).
PROGRAM = '''
def adult_program(fc, estimator, inputs, train, spec, model_dir, hooks):
    """Adult: z-scored numerics, 8-d embeddings of the vocabulary columns, DNNClassifier([64, 32])."""
    columns = []
    for name in spec["numeric"]:
        mean, std = spec["mean"][name], spec["std"][name]
        columns.append(fc.numeric_column(name, normalizer_fn=lambda x, m=mean, s=std: (x - m) / s))
    for name in spec["vocabulary"]:
        ids = fc.categorical_column_with_vocabulary_list(name, spec["vocabulary"][name])
        columns.append(fc.embedding_column(ids, dimension=8))
    classifier = estimator.DNNClassifier(hidden_units=[64, 32], feature_columns=columns, model_dir=model_dir)
    input_fn = inputs.pandas_input_fn(train.drop(columns=spec["label"]), train[spec["label"]], batch_size=128,
                                      num_epochs=10, shuffle=True)
    classifier.train(input_fn, hooks=hooks)
    return classifier
'''

#: What a child process runs (``python -c DRIVER side data_dir threads profile warmup``): import the side's library,
#: read the data, time :data:`PROGRAM`, print one ``RESULT {json}`` line. Python 3.10-compatible.
DRIVER = (
    PROGRAM
    + """
import json, os, sys, tempfile, time
side, data_dir, threads, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
start_import = time.perf_counter()
import pandas as pd
if side == "tensorflow":
    import tensorflow as tf
    fc, estimator, inputs = tf.feature_column, tf.estimator, tf.compat.v1.estimator.inputs
    class Clock(tf.estimator.SessionRunHook):
        def __init__(self):
            self.times, self.threads = [], None
        def after_run(self, run_context, run_values):
            self.times.append(time.perf_counter())
    version = "tensorflow " + tf.__version__
else:
    import torch
    if threads:
        torch.set_num_threads(threads)  # the user's explicit setting, made before train
    import estlab
    import estlab.estimator as estimator
    import estlab.feature_column as fc
    inputs = estimator.inputs
    class Clock(estimator.Listener):
        def __init__(self):
            self.times, self.threads = [], None
        def on_step_end(self, event):
            self.times.append(time.perf_counter())
            if len(self.times) == 2:
                self.threads = torch.get_num_threads()  # what the steps run with
    version = "estlab " + estlab.__version__ + ", torch " + torch.__version__
estimator.DNNClassifier, fc.embedding_column  # both load these lazily: load them before the clock starts
import_seconds = time.perf_counter() - start_import
with open(os.path.join(data_dir, "spec.json")) as handle:
    spec = json.load(handle)
train = pd.read_csv(os.path.join(data_dir, "train.csv"), dtype={c: "float32" for c in spec["numeric"]})
clock = Clock()
with tempfile.TemporaryDirectory() as model_dir:
    if profile:
        import cProfile, pstats
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(adult_program, fc, estimator, inputs, train, spec, model_dir, [clock])
        seconds = time.perf_counter() - start
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(profile)
        stats.sort_stats("cumulative").print_stats(profile)
    else:
        start = time.perf_counter()
        adult_program(fc, estimator, inputs, train, spec, model_dir, [clock])
        seconds = time.perf_counter() - start
times = clock.times
steady = None
warmup = int(sys.argv[5])
if len(times) > warmup:
    steady = (len(times) - warmup) / (times[-1] - times[warmup - 1])
print("RESULT " + json.dumps({"version": version, "rows": len(train), "steps": len(times),
                              "seconds": seconds, "import_seconds": import_seconds,
                              "steady_steps_per_second": steady, "threads": clock.threads}))
"""
)


def prepare(directory: Path, rows: int | None = None) -> dict:
    """Write the training split (``train.csv``) and the program's statistics (``spec.json``) to ``directory``.

    Missing strings become ``"?"`` (TF's ``pandas_input_fn`` refuses NaN in string columns), numerics are float
    (TF's ``normalizer_fn`` gets the column's own dtype), the label is 1 for ">50K". ``rows``: only the first
    rows (quick checks; ``None``: the whole split).

    Examples
    --------
    >>> import tempfile
    >>> prepare(Path(tempfile.mkdtemp()))["rows"]  # doctest: +SKIP
    32561
    """
    frame = pd.read_csv(DATA)
    frame[VOCABULARY] = frame[VOCABULARY].fillna("?")
    frame[NUMERIC] = frame[NUMERIC].astype("float32")
    frame[LABEL] = (frame[LABEL] == ">50K").astype("int64")
    frame = frame[NUMERIC + VOCABULARY + [LABEL]].head(rows)
    spec = {
        "numeric": NUMERIC,
        "label": LABEL,
        "rows": len(frame),
        "mean": {c: float(frame[c].mean()) for c in NUMERIC},
        "std": {c: float(frame[c].std()) for c in NUMERIC},
        "vocabulary": {c: sorted(str(v) for v in frame[c].unique()) for c in VOCABULARY},
    }
    frame.to_csv(directory / "train.csv", index=False)
    (directory / "spec.json").write_text(json.dumps(spec))
    return spec


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_child(
    python: str, side: str, data_dir: Path, threads: int = 0, profile: int = 0, timeout: float = 1800.0
) -> dict:
    """Run :data:`DRIVER` in a fresh ``python`` process; return its ``RESULT`` (raises with its stderr)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    load = os.getloadavg()[0]
    done = subprocess.run(
        [python, "-c", DRIVER, side, str(data_dir), str(threads), str(profile), str(WARMUP_STEPS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(data_dir),
    )
    if profile:
        print(done.stderr[-60000:], file=sys.stderr)
    results = [line[len("RESULT ") :] for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not results:
        raise RuntimeError(
            f"{side} run failed (exit {done.returncode}) with {python}:\n{done.stderr[-4000:]}"
        )
    return {**json.loads(results[-1]), "load_before": load}


class Hog:
    """``yes > /dev/null`` pinned to one core for the duration of a ``with`` block."""

    def __enter__(self) -> Hog:
        self.process = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        if cores and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.process.pid, {cores[0]})
        time.sleep(1.0)  # let it take its core
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def examples_per_second(result: dict) -> float:
    """Examples of the program (10 epochs of the rows) over its wall time."""
    return EPOCHS * result["rows"] / result["seconds"]


def steady_examples_per_second(result: dict) -> float | None:
    """Examples per second over the steps after the first :data:`WARMUP_STEPS` (average rows per step)."""
    rate = result["steady_steps_per_second"]
    return None if rate is None else rate * EPOCHS * result["rows"] / result["steps"]


def best(results: list[dict]) -> dict:
    """The fastest of repeated runs of one configuration."""
    return min(results, key=lambda r: r["seconds"])


def load_reference() -> dict:
    """TF 2.15's recorded figure for this program (``tf_reference.json``)."""
    return json.loads(REFERENCE.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tensorflow-python",
        metavar="PATH",
        help="an interpreter with tensorflow (tf.estimator, <= 2.15) and pandas: measure TF too",
    )
    parser.add_argument(
        "--hog",
        action="store_true",
        help="run again with `yes > /dev/null` on one core: estlab's default and one thread",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs of each configuration; the fastest counts"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="only profile estlab's run (one thread, cProfile); print the top N functions",
    )
    parser.add_argument("--rows", type=int, default=None, help="only the first N rows (quick checks)")
    parser.add_argument("--json", metavar="PATH", help="also write every result to this JSON file")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.tensorflow_python and not Path(args.tensorflow_python).exists():
        parser.error(
            f"--tensorflow-python {args.tensorflow_python!r} does not exist; give a Python interpreter"
        )

    reference = load_reference()
    print(
        f"machine: {cpu_name()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load average at start {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as directory:
        data_dir = Path(directory)
        spec = prepare(data_dir, args.rows)
        print(f"program: Adult train split, {spec['rows']:,} rows x {EPOCHS} epochs, batch {BATCH}")
        if args.profile:
            result = run_child(sys.executable, "estlab", data_dir, threads=1, profile=args.profile)
            print(
                f"profiled estlab run (one thread, with cProfile's overhead): {result['steps']} steps, "
                f"{result['seconds']:.1f} s"
            )
            return
        configs: list[tuple[str, str, int, bool]] = [("estlab", sys.executable, 0, False)]
        if args.tensorflow_python:
            configs.append(("tensorflow", args.tensorflow_python, 0, False))
        hog_configs: list[tuple[str, str, int, bool]] = []
        if args.hog:
            hog_configs = [("estlab", sys.executable, 0, True), ("estlab", sys.executable, 1, True)]
            if args.tensorflow_python:
                hog_configs.append(("tensorflow", args.tensorflow_python, 0, True))
        runs: dict[tuple[str, int, bool], list[dict]] = {}
        for _ in range(args.repeats):
            for side, python, threads, _hog in configs:
                runs.setdefault((side, threads, False), []).append(run_child(python, side, data_dir, threads))
            if hog_configs:
                with Hog():
                    for side, python, threads, _hog in hog_configs:
                        result = run_child(python, side, data_dir, threads)
                        runs.setdefault((side, threads, True), []).append(result)
        load_end = os.getloadavg()[0]

    header = (
        f"{'run':34s} {'threads':>8s} {'hog':>4s} {'steps':>6s} {'import s':>9s} {'program s':>10s} "
        f"{'ex/s':>9s} {'steps ex/s':>11s} {'load':>5s}  every run's ex/s"
    )
    print(header)
    print("-" * len(header))
    figures: dict[tuple[str, int, bool], float] = {}
    for (side, threads, hog), results in runs.items():
        result = best(results)
        figures[(side, threads, hog)] = examples_per_second(result)
        steady = steady_examples_per_second(result)
        shown_threads = (
            ("default" if side == "tensorflow" else f"auto:{result['threads']}")
            if not threads
            else str(threads)
        )
        print(
            f"{result['version'][:34]:34s} {shown_threads:>8s} {'yes' if hog else 'no':>4s} {result['steps']:6d} "
            f"{result['import_seconds']:9.1f} {result['seconds']:10.2f} {figures[(side, threads, hog)]:9,.0f} "
            f"{'-' if steady is None else f'{steady:,.0f}':>11s} {result['load_before']:5.2f}  "
            + " ".join(f"{examples_per_second(r) / 1000:.1f}k" for r in results)
        )
    quiet = figures[("estlab", 0, False)]
    figure = reference["examples_per_second"]
    print(
        f"estlab / TF {reference['tensorflow']} reference ({figure:,} ex/s, {reference['source']}): "
        f"{quiet / figure:.2f}x (goal >= 1.5)"
    )
    if ("tensorflow", 0, False) in figures:
        print(
            f"estlab / TF measured in this run: {quiet / figures[('tensorflow', 0, False)]:.2f}x (goal >= 1.5)"
        )
    if args.hog:
        hogged, one = figures[("estlab", 0, True)], figures[("estlab", 1, True)]
        print(
            f"hog / quiet (estlab default): {hogged / quiet:.2f} (goal >= 0.4); "
            f"default / one thread under the hog: {hogged / one:.2f} (goal >= 1.0 within noise)"
        )
        if ("tensorflow", 0, True) in figures:
            tf_quiet = figures.get(("tensorflow", 0, False))
            if tf_quiet:
                print(f"TF hog / quiet: {figures[('tensorflow', 0, True)] / tf_quiet:.2f}")
    print(f"load average at end {load_end:.2f}" + (" (the hog adds ~1 while it runs)" if args.hog else ""))
    if args.json:
        out = {
            f"{side}/{threads or 'default'}/{'hog' if hog else 'quiet'}": results
            for (side, threads, hog), results in runs.items()
        }
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
