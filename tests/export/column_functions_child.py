"""Child process of ``test_column_functions.py``: builds the same estimator with its own lambda and closure.

Run as ``python column_functions_child.py MODEL_DIR EXPORT_BASE OUT_JSON``: evaluates the checkpoint the
parent wrote, resumes training, evaluates again, exports, and writes the metrics and the estimator's and the
export's predictions to ``OUT_JSON``. The parent's functions are not importable here: the columns come from
this file's code, the learned state from the checkpoint.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd


def make_frame() -> pd.DataFrame:
    """96 rows: two raw-scale numerics, a color, and a label depending on all three."""
    rng = np.random.default_rng(7)
    age = rng.normal(40.0, 12.0, 96).round(1)
    hours = rng.normal(1000.0, 300.0, 96).round(0)
    color = rng.choice(["red", "blue", "green"], 96)
    label = ((age - 40.0) / 12.0 + (hours - 1000.0) / 300.0 + (color == "red") > 0.3).astype(int)
    return pd.DataFrame({"age": age, "hours": hours, "color": color, "label": label})


def build(model_dir: str):
    """The estimator, with a lambda and a closure as normalizer_fn (TF's everyday z-score idiom)."""
    from estlab import feature_column as fc
    from estlab.estimators import DNNClassifier

    frame = make_frame()
    mean, std = float(frame["age"].mean()), float(frame["age"].std())

    def scaler(center: float, scale: float):
        return lambda x: (x - center) / scale

    age = fc.numeric_column("age", normalizer_fn=lambda x: (x - mean) / std)
    hours = fc.numeric_column("hours", normalizer_fn=scaler(1000.0, 300.0))
    columns = [age, hours, fc.bucketized_column(hours, [-1.0, 0.0, 1.0]),
               fc.indicator_column(fc.categorical_column_with_vocabulary_list("color", ["red", "blue", "green"]))]
    return DNNClassifier([8], columns, model_dir=model_dir, optimizer="Adam", learning_rate=0.05)


def main(model_dir: str, export_base: str, out: str) -> None:
    from estlab import export

    frame = make_frame()
    est = build(model_dir)
    restored = est.evaluate(frame, label="label")
    est.train(frame, label="label", steps=10, batch_size=16)
    resumed = est.evaluate(frame, label="label")
    path = est.export_saved_model(export_base, onnx=False)
    features = frame.drop(columns="label")
    ours = est.predict_frame(features)["logistic"].to_numpy()
    served = np.concatenate([row["logistic"] for row in export.load(path).predict(features)])
    with open(out, "w") as f:
        json.dump({"restored": restored, "resumed": resumed, "export": path, "estimator_logistic": ours.tolist(),
                   "export_logistic": served.tolist()}, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
