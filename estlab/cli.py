"""The ``estlab`` command line: ``estlab demo`` trains the premade estimators on a bundled dataset.

``estlab demo`` (Adult by default) infers feature columns, trains baseline, linear, DNN, wide-and-deep
and boosted-trees models with their default hyper-parameters and prints a leaderboard on the test split.
``estlab serve`` serves an export over TensorFlow Serving's REST API; ``estlab --version`` prints the version.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

FAMILIES = ("baseline", "linear", "dnn", "dnn_linear_combined", "boosted_trees")
QUICK_ROWS = 3000
QUICK_STEPS = 200
MIN_STEPS = 300
BATCH_SIZE = 128
#: model families that need an extra, with the module that extra provides
EXTRA_OF = {"boosted_trees": ("lightgbm", "boosted")}

DESCRIPTION = """\
TensorFlow's Estimator workflow on PyTorch.

commands:
  demo    train the premade estimators on a bundled dataset and print a leaderboard
  serve   serve an export over TensorFlow Serving's REST API

examples:
  estlab demo                                   # Adult, every premade estimator, about 10 s
  estlab demo --dataset penguins --quick        # multi-class, a run of seconds
  estlab serve exports/adult --model-name adult --port 8501
  estlab --version
"""

DEMO_DESCRIPTION = f"""\
Infer feature columns from a bundled dataset, train the premade estimators with their default
hyper-parameters (at least {MIN_STEPS} steps, batch {BATCH_SIZE}) and print a leaderboard on its test split.
A model whose extra is not installed (boosted trees need `pip install estlab[boosted]`) is skipped with a note.

examples:
  estlab demo
  estlab demo --dataset diamonds --epochs 2
  estlab demo --quick --models linear,dnn
"""


def _estimator(family: str, task: str, columns: list, vocabulary: list[str] | None, model_dir: str,
               quick: bool) -> Any:
    from estlab.estimators import create
    from estlab.training.config import RunConfig

    suffix = "classifier" if task != "regression" else "regressor"
    kwargs: dict[str, Any] = {"model_dir": model_dir,
                              "config": RunConfig(random_seed=0, save_checkpoints_secs=3600)}
    if task != "regression":
        assert vocabulary is not None  # a classification dataset names its classes
        kwargs.update(n_classes=len(vocabulary), label_vocabulary=vocabulary)
    if family in ("linear", "boosted_trees"):
        kwargs["feature_columns"] = columns
    if family == "dnn":
        kwargs.update(hidden_units=[128, 64], feature_columns=columns)
    if family == "dnn_linear_combined":
        kwargs.update(linear_feature_columns=columns, dnn_feature_columns=columns)
    if family == "boosted_trees" and quick:
        kwargs["n_trees"] = 50
    return create(f"{family}_{suffix}", **kwargs)


def readable_number(value: object) -> str:
    """A metric for a printed table: 4 decimals below 1,000, whole numbers with separators above.

    Examples
    --------
    >>> readable_number(0.87654), readable_number(15986828.5169), readable_number(1234.5)
    ('0.8765', '15,986,829', '1,234')
    """
    number = float(value)  # type: ignore[arg-type]
    return f"{number:,.0f}" if abs(number) >= 1000 else f"{number:.4f}"


def _score_columns(task: str) -> tuple[list[str], list[bool]]:
    """The leaderboard's metrics (as the task's head declares them, the first is the sort key) and their
    sort orders (``ascending``: lower is better)."""
    from estlab.training.metric_info import higher_is_better, preferred_metrics

    shown = list(preferred_metrics(task))
    return shown, [not higher_is_better(k) for k in shown]


def _demo(args: argparse.Namespace) -> int:
    import pandas as pd
    import torch

    from estlab import datasets
    from estlab.features import infer_columns

    torch.set_num_threads(args.threads)
    data = datasets.load(args.dataset)
    train, test = data.train, data.test
    if args.quick:
        train = train.sample(n=min(QUICK_ROWS, len(train)), random_state=0).reset_index(drop=True)
    max_steps = args.max_steps if args.max_steps is not None else (QUICK_STEPS if args.quick else None)
    print(f"{data.name}: {len(train)} train / {len(test)} test rows, label {data.label!r} ({data.task})")
    columns = infer_columns(train, label=data.label).feature_columns
    print(f"feature columns (infer_columns): {', '.join(c.name for c in columns)}")
    epochs = max(args.epochs, math.ceil(MIN_STEPS * BATCH_SIZE / len(train)))  # small sets: >= MIN_STEPS steps
    schedule = f"max_steps={max_steps}" if max_steps is not None else f"{epochs} epoch(s)"
    models = _available(args.models)
    if not models:
        print("no model to train: install the extras named above")
        return 1
    print(f"training {len(models)} premade estimators with default hyper-parameters, {schedule}, batch {BATCH_SIZE}\n")
    shown, ascending = _score_columns(data.task)
    key = shown[0]
    rows = []
    root = tempfile.mkdtemp(prefix="estlab_demo_")
    for family in models:
        est = _estimator(family, data.task, columns, data.label_vocabulary, f"{root}/{family}", args.quick)
        start = time.perf_counter()
        if max_steps is not None:
            est.train(train, label=data.label, max_steps=max_steps, batch_size=BATCH_SIZE)
        else:
            est.train(train, label=data.label, num_epochs=epochs, batch_size=BATCH_SIZE)
        seconds = time.perf_counter() - start
        metrics = est.evaluate(test, label=data.label)
        rows.append({"model": type(est).__name__, **{k: metrics[k] for k in shown},
                     "steps": est.global_step, "train_s": seconds})
        print(f"  {type(est).__name__:<30} {key}={metrics[key]:.4f}  ({seconds:.1f} s)", flush=True)
    board = pd.DataFrame(rows)
    board = board.sort_values(shown, ascending=ascending).reset_index(drop=True)
    board.index = board.index + 1
    print("\nleaderboard (test split)")
    formats: dict[str | int, Callable[[object], str]] = {k: readable_number for k in shown}
    formats["train_s"] = "{:.1f}".format
    print(board.to_string(formatters=formats))
    print(f"\nmodel_dirs under {root} (tensorboard --logdir {root})")
    return 0


def _available(families: list[str], quiet: bool = False) -> list[str]:
    """The families whose extra is installed; each one skipped gets a one-line note (unless ``quiet``)."""
    kept = []
    for family in families:
        module, extra = EXTRA_OF.get(family, (None, None))
        if module is not None and importlib.util.find_spec(module) is None:
            if not quiet:
                print(f"  skipping {family}: needs {module} (pip install 'estlab[{extra}]')")
            continue
        kept.append(family)
    return kept


def _version() -> str:
    from estlab import __version__

    return f"estlab {__version__}"


def _models(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in names if m not in FAMILIES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown model(s) {unknown}; choose from {list(FAMILIES)}")
    return names


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``estlab`` console script.

    Examples
    --------
    >>> main(["demo", "--dataset", "penguins", "--quick"])  # doctest: +SKIP
    """
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] in (["--version"], ["-V"]):  # answered before the serve command's imports (torch)
        print(_version())
        return 0
    parser = argparse.ArgumentParser(prog="estlab", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-V", "--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", required=True, metavar="{demo,serve}")
    demo = commands.add_parser("demo", help="train and compare the premade estimators on a bundled dataset",
                               description=DEMO_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--dataset", default="adult", help="adult (default), penguins or diamonds")
    demo.add_argument("--max-steps", type=int, default=None,
                      help="train each model to this global step (default: --epochs over the data)")
    demo.add_argument("--epochs", type=int, default=3, help=f"epochs when --max-steps is not given (default 3, more on small sets to reach {MIN_STEPS} steps)")
    demo.add_argument("--quick", action="store_true",
                      help=f"{QUICK_ROWS} training rows, {QUICK_STEPS} steps, 50 trees: a run of seconds")
    demo.add_argument("--threads", type=int, default=1,
                      help="torch threads (default 1: fastest for these small models, kind to shared CPUs)")
    demo.add_argument("--models", type=_models, default=list(FAMILIES),
                      help=f"comma-separated subset of {','.join(FAMILIES)}")
    demo.set_defaults(handler=_demo)
    from estlab.export.cli import add_serve_command

    add_serve_command(commands)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
