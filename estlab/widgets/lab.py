"""``Lab``: the composed notebook app (columns, estimators, training, runs, TensorBoard) in tabs."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
import weakref
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

from estlab._util import MAX_STEPS_ENV, env_max_steps
from estlab.widgets._html import esc, message, with_fallback
from estlab.widgets._state import RunSpec, RunState
from estlab.widgets.columns import ColumnBuilder
from estlab.widgets.leaderboard import RunsView
from estlab.widgets.picker import EstimatorPicker
from estlab.widgets.runs import Job, RunManager
from estlab.widgets.tensorboard import TensorBoardPanel
from estlab.widgets.training import TrainingPanel

TAB_TITLES = ("1 · Columns", "2 · Estimators", "3 · Train", "4 · Runs", "5 · TensorBoard")
_LABS: weakref.WeakSet = weakref.WeakSet()


def step_cap_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """The ``ESTLAB_MAX_STEPS`` step cap, or None (``estlab._util.env_max_steps``, which the estimator reads too).

    Examples
    --------
    >>> step_cap_from_env({"ESTLAB_MAX_STEPS": "50"}), step_cap_from_env({})
    (50, None)
    """
    return env_max_steps(environ)


def default_device() -> str:
    """The device runs will use (``RunConfig(device="auto")``: CUDA, then MPS, then CPU), or ``"auto"``.

    The lab never imports torch for this: until torch is loaded (by the first run) the answer is ``"auto"``,
    and each run reports the device it trained on.

    Examples
    --------
    >>> default_device() in ("auto", "cpu", "cuda", "mps")
    True
    """
    if sys.modules.get("torch") is None:
        return "auto"
    from estlab.training.config import resolve_device

    return str(resolve_device("auto"))


class Lab:
    """Build feature columns, queue premade estimators, train them in the background and compare them.

    Parameters
    ----------
    train_df, eval_df
        Training and evaluation frames (with the label column).
    label
        The label column.
    model_dir_root
        One ``model_dir`` per run is created below it (a temporary directory by default).
    batch_size, seed
        Training batch size and random seed of every run.

    Examples
    --------
    >>> from estlab.datasets import load_adult
    >>> train, test = load_adult()
    >>> lab = Lab(train, test, label="income_bracket")  # doctest: +SKIP
    >>> lab.queue("dnn_classifier", hidden_units=[32, 16]); lab.train()  # doctest: +SKIP
    """

    def __init__(self, train_df: pd.DataFrame, eval_df: pd.DataFrame, label: str,
                 model_dir_root: str | None = None, batch_size: int = 256, seed: int = 0) -> None:
        for name, frame in (("train_df", train_df), ("eval_df", eval_df)):
            if not isinstance(frame, pd.DataFrame) or label not in frame.columns:
                got = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
                raise ValueError(f"{name}: expected a DataFrame with the label column {label!r}, got {got}")
        busy = [name for lab in list(_LABS) for name in lab.manager.runs if lab.manager.is_active(name)]
        if busy:
            warnings.warn(f"another Lab is still training {busy}; stop or close it (old_lab.close()) unless both "
                          "should train at once", stacklevel=2)
        self.train_df, self.eval_df = train_df, eval_df
        self.model_dir_root = str(model_dir_root or tempfile.mkdtemp(prefix="estlab-lab-"))
        os.makedirs(self.model_dir_root, exist_ok=True)
        self.batch_size, self.seed = batch_size, seed
        self.step_cap = step_cap_from_env()
        self.columns = ColumnBuilder(train_df, label=label)
        self.picker = EstimatorPicker(self.columns.task, validation_kwargs=self._validation_kwargs)
        if self.step_cap is not None:
            self.picker.max_steps.value = min(self.picker.max_steps.value, self.step_cap)
            self.picker.eval_every.value = max(1, min(self.picker.eval_every.value, self.step_cap // 2))
        self.manager = RunManager(job_factory=self._make_job)
        self.training = TrainingPanel(self.manager, plan=self.plan, device=default_device())
        self.runs_view = RunsView(self.manager)
        self.tensorboard = TensorBoardPanel(self.model_dir_root, manager=self.manager)
        self.columns.on_change(self._on_columns)
        cap_note = (message(f"{MAX_STEPS_ENV}={self.step_cap}: every run stops at step {self.step_cap} "
                            "at most", "warning")
                    if self.step_cap is not None else "")
        header = widgets.HTML(
            f'<div style="font-size:14px"><b>estlab lab</b> · {len(train_df):,} training rows, {len(eval_df):,} '
            f"evaluation rows · device <b>{esc(self.training.device)}</b> · runs in "
            f"<code>{esc(self.model_dir_root)}</code></div>"
            + cap_note)
        self.tabs = widgets.Tab(children=[self.columns.box, self.picker.box, self.training.box, self.runs_view.box,
                                          self.tensorboard.box], titles=TAB_TITLES)
        self.tabs.add_class("estlab-tabs")
        self.box = widgets.VBox([header, self.tabs])
        self.box.add_class("estlab-lab")
        _LABS.add(self)

    # ---- public API ------------------------------------------------------------------------
    @property
    def runs(self) -> dict[str, RunState]:
        """Every run of this lab by name (status, device, metrics, curves)."""
        return dict(self.manager.runs)

    @property
    def device(self) -> str:
        """The device runs use (:func:`default_device`: ``"auto"`` until a run has loaded torch)."""
        return default_device()

    @property
    def feature_columns(self) -> list[Any]:
        """The column builder's dense feature columns."""
        return self.columns.feature_columns

    def leaderboard(self, sort_by: str | None = None, baseline: str | None = None) -> pd.DataFrame:
        """Every run with params, feature set, status, device, wall time and metrics."""
        return self.manager.leaderboard(sort_by=sort_by, baseline=baseline)

    def queue(self, estimator: str, **params: Any) -> None:
        """Add ``estimator`` with ``params`` to the comparison (validated like the form; raises on error)."""
        self.picker.select(estimator)
        for name, value in params.items():
            self.picker.set_value(name, value)
        if not self.picker.add():
            raise ValueError(self.picker.last_error)

    def plan(self) -> list[RunSpec]:
        """One spec per queued estimator, with the current feature columns and step settings."""
        if self.columns.label is None:
            raise ValueError("label: pick the label column in the Columns tab first")
        max_steps = self.picker.max_steps.value
        if self.step_cap is not None:  # the estimator caps at ESTLAB_MAX_STEPS too; say so once, here
            max_steps = min(max_steps, self.step_cap)
        eval_every = min(self.picker.eval_every.value, max_steps)
        dense, linear = tuple(self.columns.feature_columns), tuple(self.columns.linear_columns)
        feature_set = self.columns.describe()
        return [RunSpec.create(name, params, feature_columns=dense, linear_columns=linear, label=self.columns.label,
                               max_steps=max_steps, eval_every=eval_every, feature_set=feature_set)
                for name, params in self.picker.queue]

    def train(self) -> list[str]:
        """Queue every planned run (as the Train button); returns at once with the new run names.

        A configuration that is already queued or running is not started again: a warning says so.
        """
        queued, refused = self.training.launch_plan()
        for text in refused:
            warnings.warn(text, stacklevel=2)
        return queued

    def stop(self, name: str | None = None) -> None:
        """Stop run ``name`` (default: the running one) after its current step, with a checkpoint."""
        self.manager.stop(name)

    def release(self, name: str) -> None:
        """Free the model of a finished run (its record stays)."""
        self.manager.release(name)

    def wait(self, name: str | None = None, timeout: float = 600.0) -> RunState | None:
        """Block until run ``name`` (default: all) ended and the widgets caught up."""
        return self.manager.wait(name, timeout=timeout)

    def close(self) -> None:
        """Stop training and TensorBoard, end the lab's threads, close the widgets."""
        _LABS.discard(self)
        self.tensorboard.close()
        self.training.close()
        self.runs_view.close()
        self.manager.close()
        self.columns.close()
        self.picker.close()
        self.box.close()

    # ---- wiring ----------------------------------------------------------------------------
    def _make_job(self, spec: RunSpec, name: str) -> Job:
        from estlab.widgets._estimator_job import EstimatorJob

        return EstimatorJob(spec, os.path.join(self.model_dir_root, name), self.train_df, self.eval_df,
                            task=self.columns.task, batch_size=self.batch_size, seed=self.seed)

    def _validation_kwargs(self, estimator: str) -> dict[str, Any]:
        from estlab.widgets._estimator_job import lab_managed_kwargs

        label = self.columns.label
        return lab_managed_kwargs(estimator, self.picker.parameter_names(estimator), self.columns.feature_columns,
                                  self.columns.linear_columns, None if label is None else self.train_df[label],
                                  self.columns.task)

    def _on_columns(self, builder: ColumnBuilder) -> None:
        if builder.label is not None and builder.task != self.picker.task:
            self.picker.set_task(builder.task)
            self.picker.clear()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        static = self.training.static_html() + self.runs_view._table_html(
            self.runs_view.leaderboard(), self.runs_view._metric_columns(self.runs_view.leaderboard()))
        return with_fallback(self.box, static, **kwargs)
