"""``EstimatorJob``: one real training run (registry estimator + ``train_and_evaluate``) for the worker thread.

Imported only when a run starts: this is where torch and the estimators are loaded.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

from estlab.training.events import ORDER, Listener
from estlab.widgets._state import RunSpec

#: Loss values the UI wants: every step at first, then about 40 a second (each one syncs the device).
_LOSS_EVERY_SECONDS = 0.025
_DENSE_KEYS = ("feature_columns", "dnn_feature_columns")
_PREDICTION_ROWS = 20_000


class QueueListener(Listener):
    """Forward every training event to ``emit`` (the lab's queue); ask for the loss about 40 times a second.

    Examples
    --------
    >>> seen = []
    >>> listener = QueueListener(seen.append)
    >>> listener.dispatch({"type": "checkpoint", "global_step": 1, "time": 0.0, "path": "p"})
    >>> seen[0]["path"]
    'p'
    """

    order = ORDER["ui"]

    def __init__(self, emit: Any, stop_flag: threading.Event | None = None) -> None:
        self.emit = emit
        self.stop_flag = stop_flag
        self._last_loss = 0.0
        self.last_eval_step: int | None = None

    def wants_loss(self, global_step: int) -> bool:
        now = time.monotonic()
        if global_step <= 100 or now - self._last_loss >= _LOSS_EVERY_SECONDS:
            self._last_loss = now
            return True
        return False

    def on_train_begin(self, event: dict) -> None:
        if self.stop_flag is not None and self.stop_flag.is_set() and self.control is not None:
            self.control.request_stop("stop requested before the first step")
        self.emit(dict(event))

    def on_step_end(self, event: dict) -> None:
        self.emit(dict(event))

    def on_evaluate(self, event: dict) -> None:
        self.last_eval_step = event["global_step"]
        self.emit(dict(event))

    def on_checkpoint(self, event: dict) -> None:
        self.emit(dict(event))

    def on_train_end(self, event: dict) -> None:
        self.emit(dict(event))


def label_kwargs(labels: pd.Series, task: str) -> dict[str, Any]:
    """``n_classes`` and ``label_vocabulary`` for a classification label column ({} for regression).

    Examples
    --------
    >>> label_kwargs(pd.Series(["b", "a", "b"]), "classification")
    {'n_classes': 2, 'label_vocabulary': ['a', 'b']}
    """
    if task != "classification":
        return {}
    values = sorted(pd.unique(labels.dropna()).tolist(), key=str)
    if pd.api.types.is_numeric_dtype(labels) and all(float(v).is_integer() and v >= 0 for v in values):
        return {"n_classes": max(int(max(values)) + 1, 2)}
    return {"n_classes": max(len(values), 2), "label_vocabulary": [str(v) for v in values]}


class EstimatorJob:
    """Build ``spec.estimator`` from the registry, train it with periodic evaluation, report predictions.

    Parameters
    ----------
    spec
        The run's configuration.
    model_dir
        Where this run writes checkpoints and TensorBoard events.
    train_df, eval_df
        Frames holding the features and ``spec.label``.
    task
        ``"classification"`` or ``"regression"``.
    batch_size
        Training batch size.
    """

    def __init__(self, spec: RunSpec, model_dir: str, train_df: pd.DataFrame, eval_df: pd.DataFrame,
                 task: str, batch_size: int = 256, seed: int = 0) -> None:
        self.spec = spec
        self.model_dir = model_dir
        self.train_df = train_df
        self.eval_df = eval_df
        self.task = task
        self.batch_size = batch_size
        self.seed = seed
        self.estimator: Any = None
        self._stop = threading.Event()

    def build(self) -> Any:
        """Create the estimator (``registry.create``) with the lab-managed arguments filled in."""
        from estlab.estimators import registry
        from estlab.training.config import RunConfig

        spec = self.spec
        accepted = {p.name for p in registry.info(spec.estimator).parameters}
        kwargs = dict(spec.kwargs)
        linear = list(spec.linear_columns or spec.feature_columns)
        dense = list(spec.feature_columns)
        if "feature_columns" in accepted:
            kwargs["feature_columns"] = linear if spec.estimator.startswith("linear") else dense
        if "linear_feature_columns" in accepted:
            kwargs["linear_feature_columns"] = linear
        if "dnn_feature_columns" in accepted:
            kwargs["dnn_feature_columns"] = dense
        kwargs.update({k: v for k, v in label_kwargs(self.train_df[spec.label], self.task).items() if k in accepted})
        checkpoint_every = max(spec.eval_every or spec.max_steps, 1)
        config = RunConfig(model_dir=self.model_dir, save_checkpoints_steps=checkpoint_every,
                           random_seed=self.seed, save_summary_steps=max(1, min(100, spec.max_steps // 20)))
        return registry.create(spec.estimator, config=config, **kwargs)

    def run(self, emit: Any) -> None:
        """Train to ``spec.max_steps`` with an evaluation every ``spec.eval_every`` steps (worker thread)."""
        from estlab.inputs import pandas_input_fn
        from estlab.training.train_and_evaluate import EvalSpec, TrainSpec, train_and_evaluate

        os.makedirs(self.model_dir, exist_ok=True)
        self.estimator = self.build()
        label = self.spec.label
        train_fn = pandas_input_fn(self.train_df.drop(columns=[label]), self.train_df[label],
                                   batch_size=self.batch_size, num_epochs=None, shuffle=True, seed=self.seed)
        eval_fn = pandas_input_fn(self.eval_df.drop(columns=[label]), self.eval_df[label],
                                  batch_size=2048, num_epochs=1, shuffle=False)
        listener = QueueListener(emit, self._stop)
        every = self.spec.eval_every or self.spec.max_steps
        result, _ = train_and_evaluate(
            self.estimator,
            TrainSpec(train_fn, max_steps=self.spec.max_steps, hooks=[listener]),
            EvalSpec(eval_fn, every_n_steps=every),
        )
        if listener.last_eval_step != int(result["global_step"]):  # the final evaluation, unless already seen
            emit({"type": "evaluate", "run": self.model_dir, "global_step": int(result["global_step"]),
                  "time": time.time(), "name": None,
                  "metrics": {k: float(v) for k, v in result.items() if k != "global_step"}})
        emit({"type": "predictions", "predictions": self.predictions()})

    def predictions(self) -> dict[str, Any]:
        """Eval-set labels and predictions as plain arrays (what ``estlab.viz`` plots)."""
        frame = self.eval_df.iloc[:_PREDICTION_ROWS]
        label = self.spec.label
        out = self.estimator.predict_frame(frame.drop(columns=[label]))
        y_true = frame[label].to_numpy()
        if self.task == "regression":
            return {"task": "regression", "y_true": y_true.astype(float), "y_pred": out["predictions"].to_numpy()}
        classes = label_kwargs(self.train_df[label], self.task).get("label_vocabulary")
        prob_columns = sorted((c for c in out.columns if c.startswith("probabilities_")),
                              key=lambda c: int(c.rsplit("_", 1)[1]))
        probabilities = out[prob_columns].to_numpy()
        if classes is None:
            classes = list(range(probabilities.shape[1]))
        y_pred = np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)]
        return {"task": "classification", "y_true": np.asarray([c if isinstance(c, int) else str(c) for c in y_true],
                                                               dtype=object),
                "probabilities": probabilities, "classes": list(classes), "y_pred": y_pred}

    def request_stop(self) -> None:
        """Stop after the current step (the estimator writes a final checkpoint)."""
        self._stop.set()
        if self.estimator is not None:
            self.estimator.request_stop()

    def release(self) -> None:
        """Free the model (``Estimator.close()`` also empties the CUDA cache)."""
        if self.estimator is not None:
            self.estimator.close()
        self.estimator = None
