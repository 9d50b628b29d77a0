"""``EstimatorJob``: one real training run (registry estimator + ``train_and_evaluate``), run by a worker.

Torch and the estimators are imported only inside :meth:`EstimatorJob.run`. What reaches the lab is the
training session's plain events, forwarded as they are, plus one plain record: the path of the eval-set
predictions file the job writes into the run's model_dir (see ``_predictions.py``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from estlab._util import frame_rows
from estlab.runner.predictions import PREDICTIONS_FILE, load_predictions, save_predictions
from estlab.runner.spec import RunSpec
from estlab.training.events import ORDER, Listener

#: Loss values the UI wants: every step at first, then about 20 a second (each one syncs the device).
_LOSS_EVERY_SECONDS = 0.05
_PREDICTION_ROWS = 20_000


class QueueListener(Listener):
    """Forward every training event, as it is, to ``emit`` (the lab's queue); ask for the loss ~20 times a second.

    Examples
    --------
    >>> seen = []
    >>> listener = QueueListener(seen.append)
    >>> listener.dispatch({"type": "checkpoint", "global_step": 1, "time": 0.0, "path": "p"})
    >>> seen[0]["path"]
    'p'
    """

    order = ORDER["ui"]

    def __init__(self, emit: Callable[[dict[str, Any]], None]) -> None:
        self.emit = emit
        self._last_loss = 0.0

    def wants_loss(self, global_step: int) -> bool:
        now = time.monotonic()
        if global_step <= 100 or now - self._last_loss >= _LOSS_EVERY_SECONDS:
            self._last_loss = now
            return True
        return False

    def dispatch(self, event: dict[str, Any]) -> None:
        """Send a copy of ``event`` to the lab (every type: the bus only carries plain events)."""
        self.emit(dict(event))


class EndGate:
    """Pass events on to ``emit`` until ``train_end``; hold that one and every later one until :meth:`release`.

    A run's eval-set predictions are written after training returns; holding its end back until they are
    means the lab never sees a finished or stopped run without them (the ``predictions`` record comes first).

    Examples
    --------
    >>> seen = []
    >>> gate = EndGate(seen.append)
    >>> gate({"type": "step_end"}); gate({"type": "train_end"}); gate({"type": "evaluate"})
    >>> [e["type"] for e in seen]
    ['step_end']
    >>> seen.append({"type": "predictions"}); gate.release(); [e["type"] for e in seen]
    ['step_end', 'predictions', 'train_end', 'evaluate']
    """

    def __init__(self, emit: Callable[[dict[str, Any]], None]) -> None:
        self.emit = emit
        self._held: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self._held is None and event.get("type") == "train_end":
                self._held = []
            if self._held is not None:
                self._held.append(event)
                return
        self.emit(event)

    def release(self) -> None:
        """Send the held events, in order; later ones pass straight through."""
        with self._lock:
            held, self._held = self._held or [], None
        for event in held:
            self.emit(event)


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


def lab_managed_kwargs(estimator: str, accepted: Sequence[str] | set[str], dense: Sequence[Any],
                       linear: Sequence[Any], labels: pd.Series | None = None,
                       task: str = "classification") -> dict[str, Any]:
    """The arguments the lab fills in for ``estimator``: its feature columns and label settings, if it takes them.

    Linear models (and the wide part) read ``linear`` columns, everything else ``dense`` ones; only names in
    ``accepted`` (the constructor's parameters) are returned.

    Examples
    --------
    >>> lab_managed_kwargs("linear_classifier", {"feature_columns", "n_classes"}, ["d"], ["l"],
    ...                    pd.Series([0, 1, 2]))
    {'feature_columns': ['l'], 'n_classes': 3}
    """
    kwargs: dict[str, Any] = {
        "feature_columns": list(linear if estimator.startswith("linear") else dense),
        "linear_feature_columns": list(linear),
        "dnn_feature_columns": list(dense),
    }
    if labels is not None:
        kwargs.update(label_kwargs(labels, task))
    return {k: v for k, v in kwargs.items() if k in accepted}


class EstimatorJob:
    """Build ``spec.estimator`` from the registry, train it with periodic evaluation, write its predictions.

    Parameters
    ----------
    spec
        The run's configuration.
    model_dir
        Where this run writes checkpoints, TensorBoard events and ``eval_predictions.npz``.
    train_df, eval_df
        Frames holding the features and ``spec.label``.
    task, batch_size, seed
        Override the spec's ``task``, ``batch_size`` and ``seed`` (None: the spec's).

    Examples
    --------
    >>> job = EstimatorJob(RunSpec.create("linear_classifier", label="y"), "/tmp/run", pd.DataFrame({"y": [0]}),
    ...                    pd.DataFrame({"y": [0]}))
    >>> job.request_stop()  # before the estimator exists: the run stops before its first step
    >>> job.stop_requested
    True
    """

    def __init__(self, spec: RunSpec, model_dir: str, train_df: pd.DataFrame, eval_df: pd.DataFrame,
                 task: str | None = None, batch_size: int | None = None, seed: int | None = None) -> None:
        self.spec = spec
        self.model_dir = model_dir
        self.train_df = train_df
        self.eval_df = eval_df
        self.task = spec.task if task is None else task
        self.batch_size = spec.batch_size if batch_size is None else batch_size
        self.seed = spec.seed if seed is None else seed
        self.estimator: Any = None
        self.stop_requested = False  # a request, handed to the estimator (whose session holds the one flag)
        self._lock = threading.Lock()
        self._fold: EstimatorJob | None = None  # cross-validation: the fold training now

    def build(self) -> Any:
        """Create the estimator (``registry.create``) with the lab-managed arguments filled in."""
        from estlab.estimators import registry
        from estlab.training.config import RunConfig

        spec = self.spec
        accepted = {p.name for p in registry.info(spec.estimator).parameters}
        kwargs = dict(spec.kwargs)
        kwargs.update(lab_managed_kwargs(spec.estimator, accepted, spec.feature_columns,
                                         spec.linear_columns or spec.feature_columns,
                                         self.train_df[spec.label], self.task))
        checkpoint_every = max(spec.eval_every or spec.max_steps, 1)
        config = RunConfig(model_dir=self.model_dir, save_checkpoints_steps=checkpoint_every,
                           random_seed=self.seed, save_summary_steps=max(1, min(100, spec.max_steps // 20)))
        return registry.create(spec.estimator, config=config, **kwargs)

    def run(self, emit: Callable[[dict[str, Any]], None]) -> None:
        """Train to ``spec.max_steps`` with an evaluation every ``spec.eval_every`` steps (in a worker).

        ``emit`` receives the session's events as they are (the final evaluation included) and
        ``{"type": "predictions", "path": ...}``: where the eval-set predictions were written. That record
        comes before the run's ``train_end`` (held back by :class:`EndGate` until the file is written), so a
        finished or stopped run is never shown without its predictions.
        """
        from estlab.inputs import pandas_input_fn
        from estlab.training.train_and_evaluate import EvalSpec, TrainSpec, train_and_evaluate

        os.makedirs(self.model_dir, exist_ok=True)
        if self.spec.folds:
            self._cross_validate(emit)
            return
        estimator = self.build()
        with self._lock:
            self.estimator = estimator
            stop_first = self.stop_requested
        if stop_first:  # requested while the estimator was being built: stop before the first step
            estimator.request_stop()
        label = self.spec.label
        train_fn = pandas_input_fn(self.train_df.drop(columns=[label]), self.train_df[label],
                                   batch_size=self.batch_size, num_epochs=None, shuffle=True, seed=self.seed)
        eval_fn = pandas_input_fn(self.eval_df.drop(columns=[label]), self.eval_df[label],
                                  batch_size=2048, num_epochs=1, shuffle=False)
        every = self.spec.eval_every or self.spec.max_steps
        gate = EndGate(emit)  # the run's end reaches the lab after its predictions (finished or stopped alike)
        try:
            train_and_evaluate(
                estimator,
                TrainSpec(train_fn, max_steps=self.spec.max_steps, hooks=[QueueListener(gate)]),
                EvalSpec(eval_fn, every_n_steps=every),
            )
            path = save_predictions(os.path.join(self.model_dir, PREDICTIONS_FILE), self.predictions())
            emit({"type": "predictions", "run": self.model_dir, "time": time.time(), "path": path})
        finally:
            gate.release()

    def _cross_validate(self, emit: Callable[[dict[str, Any]], None]) -> None:
        """k-fold cross-validation over the train set, one fold after another, as one run.

        Fold ``i`` trains a fresh model in ``<model_dir>/fold-<i>`` on the train set less fold ``i`` (folds:
        a permutation by ``seed``, split in k near-equal parts) and evaluates on fold ``i``. Its events reach
        ``emit`` with ``"fold": i`` and steps counted on from the folds before (``i * max_steps + step``), its
        evaluations named ``fold-<i>``; the first ``train_begin`` (target: every fold's steps) and one final
        ``train_end`` frame the run. When every fold finished, an evaluation at the last step carries the mean
        of each metric over the folds, ``<metric>_std`` (standard deviation over folds, ddof=0) and the
        per-fold values; ``eval_predictions.npz`` holds the out-of-fold predictions (each row predicted by the
        model that did not train on it).
        """
        k, spec = self.spec.folds, dataclasses.replace(self.spec, folds=0)
        rows = len(self.train_df)
        if rows < k:
            raise ValueError(f"folds: {k} folds need at least {k} training rows, got {rows}")
        parts = np.array_split(np.random.default_rng(self.seed).permutation(rows), k)
        per_fold: list[dict[str, float]] = []
        prediction_files: list[str] = []
        end: dict[str, Any] = {"status": "finished", "reason": "", "error": None}
        step = 0
        for fold, part in enumerate(parts):
            held = np.zeros(rows, dtype=bool)
            held[part] = True
            job = EstimatorJob(spec, os.path.join(self.model_dir, f"fold-{fold}"), frame_rows(self.train_df, ~held),
                               frame_rows(self.train_df, held), task=self.task, batch_size=self.batch_size, seed=self.seed)
            with self._lock:
                self._fold, stop_first = job, self.stop_requested
            if stop_first:
                job.request_stop()
            tap = _FoldTap(emit, fold, k, offset=fold * spec.max_steps)
            job.run(tap)
            with self._lock:
                self._fold = None
            job.release()
            step = tap.last_step
            if tap.end.get("status", "finished") != "finished":
                end = {"status": tap.end.get("status"), "error": tap.end.get("error"),
                       "reason": f"fold {fold + 1} of {k}: {tap.end.get('reason') or tap.end.get('status')}"}
                break
            per_fold.append(tap.metrics)
            if tap.predictions:
                prediction_files.append(tap.predictions)
        if end["status"] == "finished":
            common = sorted(set.intersection(*(set(m) for m in per_fold))) if per_fold else []
            metrics: dict[str, float] = {}
            for name in common:
                values = np.asarray([m[name] for m in per_fold], dtype=float)
                metrics[name] = float(values.mean())
                metrics[f"{name}_std"] = float(values.std())
            emit({"type": "evaluate", "run": self.model_dir, "global_step": step, "time": time.time(),
                  "name": None, "metrics": metrics, "folds": k, "fold_metrics": per_fold})
        if end["status"] == "finished" and len(prediction_files) == k:  # before the end, as a single run's
            merged = _concat_predictions([load_predictions(p) for p in prediction_files])
            path = save_predictions(os.path.join(self.model_dir, PREDICTIONS_FILE), merged)
            emit({"type": "predictions", "run": self.model_dir, "time": time.time(), "path": path})
        emit({"type": "train_end", "run": self.model_dir, "global_step": step, "time": time.time(), **end})

    def predictions(self) -> dict[str, Any]:
        """Eval-set labels and predictions as plain arrays (what ``estlab.viz`` plots)."""
        frame = self.eval_df.iloc[:_PREDICTION_ROWS]
        label = self.spec.label
        out = self.estimator.predict_frame(frame.drop(columns=[label]))
        y_true = frame[label].to_numpy()
        if self.task == "regression":
            return {"task": "regression", "y_true": y_true.astype(float), "y_pred": out["predictions"].to_numpy()}
        vocabulary = label_kwargs(self.train_df[label], self.task).get("label_vocabulary")
        found = [c for c in out.columns if c.startswith("probabilities_")]
        if vocabulary is None:  # integer labels 0..n-1
            classes: list[Any] = list(range(len(found)))
            y_true = y_true.astype(np.int64)
        else:
            classes = list(vocabulary)
            y_true = y_true.astype(str)
        # columns are named by class (``probabilities_>50K``) or, in older estimators, by class id
        by_class = [f"probabilities_{c}" for c in classes]
        prob_columns = by_class if set(by_class) <= set(found) else [f"probabilities_{i}" for i in range(len(found))]
        probabilities = out[prob_columns].to_numpy()
        y_pred = np.asarray(classes)[probabilities.argmax(axis=1)]
        return {"task": "classification", "y_true": y_true, "probabilities": probabilities, "classes": classes,
                "y_pred": y_pred}

    def request_stop(self) -> None:
        """Stop after the current step (the estimator writes a final checkpoint); before it exists, at its start."""
        with self._lock:
            self.stop_requested = True
            estimator, fold = self.estimator, self._fold
        if estimator is not None:
            estimator.request_stop()
        if fold is not None:
            fold.request_stop()

    def release(self) -> None:
        """Free the model (``Estimator.close()`` also empties the CUDA cache)."""
        with self._lock:
            estimator, self.estimator = self.estimator, None
        if estimator is not None:
            estimator.close()


class _FoldTap:
    """Forward one fold's events as part of a cross-validated run (see ``EstimatorJob._cross_validate``)."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], fold: int, folds: int, offset: int) -> None:
        self.emit, self.fold, self.folds, self.offset = emit, fold, folds, offset
        self.metrics: dict[str, float] = {}
        self.end: dict[str, Any] = {}
        self.predictions = ""
        self.last_step = offset

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        event = {**event, "fold": self.fold}
        if event.get("global_step") is not None:
            event["global_step"] = self.last_step = self.offset + int(event["global_step"])
        if kind == "train_begin":
            if self.fold:
                return
            if event.get("target_step") is not None:
                event["target_step"] = int(event["target_step"]) * self.folds
        elif kind == "train_end":
            self.end = event
            return
        elif kind == "predictions":
            self.predictions = str(event["path"])
            return
        elif kind == "evaluate":
            if event.get("name") is None:
                self.metrics = {k: float(v) for k, v in event.get("metrics", {}).items()
                                if isinstance(v, int | float) and not isinstance(v, bool)}
            name = event.get("name")
            event["name"] = f"fold-{self.fold}" if name is None else f"fold-{self.fold}/{name}"
        self.emit(event)


def _concat_predictions(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One predictions record from the folds' (same task and classes), rows one fold after another."""
    merged = dict(parts[0])
    for key in ("y_true", "y_pred", "probabilities"):
        if key in merged:
            merged[key] = np.concatenate([np.asarray(p[key]) for p in parts])
    return merged
