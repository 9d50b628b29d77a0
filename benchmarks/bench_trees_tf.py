"""Boosted trees on TF-style programs: estlab's metrics against TF 2.8's on the same data and columns (issue 17).

Each program is what a TF user writes for ``BoostedTreesClassifier/Regressor``: every numeric column in a
``bucketized_column`` at fixed boundaries, every string column in an ``indicator_column`` of a vocabulary list,
``n_trees=100, max_depth=6, learning_rate=0.1`` (TF's defaults otherwise), the whole training split as one batch
(``n_batches_per_layer=1``), trained until TF's own stop (all ``n_trees`` trees grown). Boundaries and
vocabularies come from the training split only.

| program | data | label | numerics (30 buckets each) | indicators |
|---|---|---|---|---|
| ``penguins`` | bundled penguins, rows with numerics | species (3 classes) | bill length/depth, flipper, mass: equal width | island, sex |
| ``diamonds`` | bundled diamonds | ln(price) | carat, depth, table, x: equal width | cut, color, clarity |
| ``diamonds_quantile`` | bundled diamonds | ln(price) | carat, x, y, z: quantiles | cut, color, clarity |
| ``adult`` | bundled Adult (missing -> ``"?"``) | income > 50K | age, education_num, capital gain/loss, hours: equal width | the 8 string columns |

Run ``python benchmarks/bench_trees_tf.py [--programs penguins,diamonds]`` for estlab's figures against
the TF 2.8 figures recorded below. The same file measures TF itself in an environment with TensorFlow 2.8
(Python <= 3.10; it then imports neither torch nor estlab and reads the bundled files directly):
``python3.10 benchmarks/bench_trees_tf.py --tensorflow``.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parent.parent / "estlab" / "datasets" / "data"
TREES = {"n_trees": 100, "max_depth": 6, "learning_rate": 0.1}

#: TF 2.8.4 + tensorflow-estimator 2.8.0 (CPU, Python 3.10) on these exact programs
#: (``--tensorflow``); measured once, recorded here.
TF_28 = {
    "penguins": ("accuracy", 0.9855),
    "diamonds": ("rmse", 0.1173),
    "diamonds_quantile": ("rmse", 0.0987),
    "adult": ("auc", 0.9136),
}


def _read(name: str) -> pd.DataFrame:
    with gzip.open(DATA / name) as handle:
        return pd.read_csv(handle)


def _split(frame: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``estlab.datasets``' split (same permutation), without importing estlab."""
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = int(round(len(frame) * test_fraction))
    test = frame.iloc[np.sort(order[:n_test])].reset_index(drop=True)
    train = frame.iloc[np.sort(order[n_test:])].reset_index(drop=True)
    return train, test


def _width(values: pd.Series, k: int = 30) -> list[float]:
    return [float(e) for e in np.linspace(values.min(), values.max(), k + 1)[1:-1]]


def _quantile(values: pd.Series, k: int = 30) -> list[float]:
    return [float(e) for e in np.unique(np.quantile(values.to_numpy(float), np.linspace(0, 1, k + 1)[1:-1]))]


def program(name: str) -> dict:
    """The data and columns of one program, as plain values (boundaries, vocabularies)."""
    if name == "penguins":
        numerics = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
        train, test = (f.dropna(subset=numerics) for f in _split(_read("penguins.csv.gz")))
        vocab = {c: sorted(train[c].dropna().unique()) for c in ("island", "sex")}
        # a missing sex becomes "" (TF's pandas_input_fn refuses NaN strings): out of vocabulary, no id, as NaN
        train, test = (f.fillna({"sex": ""}) for f in (train, test))
        return {"train": train, "test": test, "label": "species", "task": "multiclass",
                "classes": ["Adelie", "Chinstrap", "Gentoo"],
                "boundaries": {c: _width(train[c]) for c in numerics}, "vocabulary": vocab}
    if name in ("diamonds", "diamonds_quantile"):
        train, test = _split(_read("diamonds.csv.gz"))
        train, test = (f.assign(price=np.log(f["price"].astype(float))) for f in (train, test))
        numerics, edges = (["carat", "depth", "table", "x"], _width) if name == "diamonds" else \
            (["carat", "x", "y", "z"], _quantile)
        vocab = {c: sorted(train[c].unique()) for c in ("cut", "color", "clarity")}
        return {"train": train, "test": test, "label": "price", "task": "regression",
                "boundaries": {c: edges(train[c]) for c in numerics}, "vocabulary": vocab}
    if name == "adult":
        strings = ["workclass", "education", "marital_status", "occupation", "relationship", "race", "gender",
                   "native_country"]
        numerics = ["age", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
        frames = []
        for file in ("adult_train.csv.gz", "adult_test.csv.gz"):
            frame = _read(file)
            frame[strings] = frame[strings].fillna("?")
            frame["income_bracket"] = (frame["income_bracket"] == ">50K").astype(int)
            frames.append(frame[numerics + strings + ["income_bracket"]])
        train, test = frames
        return {"train": train, "test": test, "label": "income_bracket", "task": "binary",
                "boundaries": {c: _width(train[c]) for c in numerics},
                "vocabulary": {c: sorted(train[c].unique()) for c in strings}}
    raise ValueError(f"program {name!r} is unknown; use one of {list(TF_28)}")


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank statistic (ties get average ranks)."""
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metric(spec: dict, outputs: np.ndarray) -> float:
    """The program's metric of model outputs on the test split (class ids, P(class 1) or predictions)."""
    labels = spec["test"][spec["label"]].to_numpy()
    if spec["task"] == "multiclass":
        return float(np.mean(np.asarray(spec["classes"])[outputs.astype(int)] == labels))
    if spec["task"] == "binary":
        return auc(labels, outputs)
    return float(np.sqrt(np.mean((outputs - labels) ** 2)))


def run_estlab(spec: dict, threads: int) -> float:
    """estlab's metric on the program."""
    from estlab import feature_column as fc
    from estlab.estimators import BoostedTreesClassifier, BoostedTreesRegressor
    from estlab.training.config import RunConfig

    columns = [fc.bucketized_column(fc.numeric_column(c), b) for c, b in spec["boundaries"].items()]
    columns += [fc.indicator_column(fc.categorical_column_with_vocabulary_list(c, v))
                for c, v in spec["vocabulary"].items()]
    config = RunConfig(random_seed=0, tensorboard=False)
    features = spec["test"].drop(columns=spec["label"])
    with tempfile.TemporaryDirectory() as model_dir:
        common = {"model_dir": model_dir, "config": config, "num_threads": threads, **TREES}
        if spec["task"] == "regression":
            est = BoostedTreesRegressor(columns, 1, **common)
            est.train(spec["train"], label=spec["label"])
            return metric(spec, np.array([p["predictions"][0] for p in est.predict(features)]))
        if spec["task"] == "multiclass":
            est = BoostedTreesClassifier(columns, 1, n_classes=3, label_vocabulary=spec["classes"], **common)
            est.train(spec["train"], label=spec["label"])
            return metric(spec, np.array([p["class_ids"][0] for p in est.predict(features)]))
        est = BoostedTreesClassifier(columns, 1, **common)
        est.train(spec["train"], label=spec["label"])
        return metric(spec, np.array([p["probabilities"][1] for p in est.predict(features)]))


def run_tensorflow(spec: dict) -> float:  # pragma: no cover - needs TensorFlow 2.8 (Python <= 3.10)
    """TF 2.8's metric on the same program (``--tensorflow``)."""
    import tensorflow as tf

    fcs = tf.feature_column
    columns = [fcs.bucketized_column(fcs.numeric_column(c), b) for c, b in spec["boundaries"].items()]
    columns += [fcs.indicator_column(fcs.categorical_column_with_vocabulary_list(c, v))
                for c, v in spec["vocabulary"].items()]
    train, label = spec["train"], spec["label"]
    x = train.drop(columns=label)
    input_fn = tf.compat.v1.estimator.inputs.pandas_input_fn(x, train[label], batch_size=len(x), num_epochs=None,
                                                             shuffle=False)
    test_x = spec["test"].drop(columns=label)
    predict_fn = tf.compat.v1.estimator.inputs.pandas_input_fn(test_x, batch_size=len(test_x), num_epochs=1,
                                                               shuffle=False)
    with tempfile.TemporaryDirectory() as model_dir:
        common = {"n_batches_per_layer": 1, "model_dir": model_dir, **TREES}
        if spec["task"] == "regression":
            est = tf.estimator.BoostedTreesRegressor(columns, **common)
        elif spec["task"] == "multiclass":
            est = tf.estimator.BoostedTreesClassifier(columns, n_classes=3, label_vocabulary=spec["classes"],
                                                      **common)
        else:
            est = tf.estimator.BoostedTreesClassifier(columns, **common)
        est.train(input_fn, max_steps=10 * TREES["n_trees"] * TREES["max_depth"])  # TF stops at n_trees itself
        predictions = list(est.predict(predict_fn))
    if spec["task"] == "regression":
        return metric(spec, np.array([p["predictions"][0] for p in predictions]))
    if spec["task"] == "multiclass":
        return metric(spec, np.array([p["class_ids"][0] for p in predictions]))
    return metric(spec, np.array([p["probabilities"][1] for p in predictions]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", default=",".join(TF_28))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tensorflow", action="store_true", help="measure TF 2.8 instead of estlab")
    args = parser.parse_args()
    print(f"{'program':18s} {'metric':8s} {'TF 2.8':>8s} {'estlab' if not args.tensorflow else 'measured':>9s} "
          f"{'diff':>8s} {'seconds':>8s}")
    for name in args.programs.split(","):
        spec = program(name)
        start = time.perf_counter()
        value = run_tensorflow(spec) if args.tensorflow else run_estlab(spec, args.threads)
        seconds = time.perf_counter() - start
        kind, reference = TF_28[name]
        diff = "" if reference is None else f"{(value - reference) / reference:+.1%}"
        shown = "-" if reference is None else f"{reference:.4f}"
        print(f"{name:18s} {kind:8s} {shown:>8s} {value:9.4f} {diff:>8s} {seconds:8.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
