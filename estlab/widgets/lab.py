"""``Lab``: the composed notebook app (columns, estimators, training, runs, TensorBoard) in tabs."""

from __future__ import annotations

import os
import sys
import warnings
import weakref
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

from estlab._util import MAX_STEPS_ENV, env_max_steps
from estlab.runner.executor import Executor, Job, make_executor
from estlab.runner.experiment import DEFAULT_ROOT, Experiment
from estlab.runner.sweep import trials_of
from estlab.runner.tune import TappedExecutor
from estlab.warnings import LabWarning
from estlab.widgets._format import LeaderboardFrame
from estlab.widgets._html import esc, message, with_fallback
from estlab.widgets._state import RunSpec, RunState
from estlab.widgets.columns import ColumnBuilder
from estlab.widgets.datacheck import DataCheckPanel
from estlab.widgets.leaderboard import RunsView, main_metrics, rank_runs
from estlab.widgets.picker import EstimatorPicker
from estlab.widgets.runs import DuplicateRunError, RunManager
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
    """Build feature columns, queue premade estimators, train them in worker processes and compare them.

    Parameters
    ----------
    train_df, eval_df
        Training and evaluation frames (with the label column).
    label
        The label column.
    experiment
        The experiment directory (default ``estlab-experiments/<label>`` under the working directory): one
        folder per run (its model_dir, ``run.json``, ``events.jsonl``). A new ``Lab`` on the same directory,
        after a kernel restart too, shows every earlier run.
    model_dir_root
        Same as ``experiment`` (the earlier name).
    batch_size, seed
        Training batch size and random seed of every run.
    workers
        Runs that train at once (worker processes); default: CPU cores // ``threads_per_worker``.
    threads_per_worker
        Torch threads of each worker.
    executor
        ``"process"`` (warm worker processes, the default), ``"thread"`` (one run at a time in a thread of
        the kernel, no extra process), ``"ray"`` or a Ray address (``"auto"``, ``"ray://head:10001"``: runs on a
        Ray cluster, ``pip install 'estlab[ray]'``; see ``docs/scaling.md``).

    Examples
    --------
    >>> from estlab.datasets import load_adult
    >>> train, test = load_adult()
    >>> lab = Lab(train, test, label="income_bracket")  # doctest: +SKIP
    >>> lab.queue("dnn_classifier", hidden_units=[32, 16]); lab.train()  # doctest: +SKIP
    """

    def __init__(self, train_df: pd.DataFrame, eval_df: pd.DataFrame, label: str, experiment: str | None = None,
                 model_dir_root: str | None = None, batch_size: int = 256, seed: int = 0,
                 workers: int | None = None, threads_per_worker: int = 1, executor: str = "process") -> None:
        for name, frame in (("train_df", train_df), ("eval_df", eval_df)):
            if not isinstance(frame, pd.DataFrame) or label not in frame.columns:
                got = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
                raise ValueError(f"{name}: expected a DataFrame with the label column {label!r}, got {got}")
        busy = [name for lab in list(_LABS) for name in lab.manager.runs if lab.manager.is_active(name)]
        if busy:
            warnings.warn(f"another Lab is still training {busy}; stop or close it (old_lab.close()) unless both "
                          "should train at once", LabWarning, stacklevel=2)
        self.train_df, self.eval_df = train_df, eval_df
        path = experiment or model_dir_root or os.path.join(DEFAULT_ROOT, str(label))
        self.experiment = Experiment.create(str(path), train_df, eval_df, label)
        self.model_dir_root = self.experiment.path
        self.batch_size, self.seed = batch_size, seed
        self.step_cap = step_cap_from_env()
        self.columns = ColumnBuilder(train_df, label=label)
        self.picker = EstimatorPicker(self.columns.task, validation_kwargs=self._validation_kwargs)
        if self.step_cap is not None:
            self.picker.max_steps.value = min(self.picker.max_steps.value, self.step_cap)
            self.picker.eval_every.value = max(1, min(self.picker.eval_every.value, self.step_cap // 2))
        runner: Executor = make_executor(executor, workers=workers, threads_per_worker=threads_per_worker,
                                         job_factory=self._make_job)
        self._tapped = TappedExecutor(runner)  # lab.tune's searches watch the runs' events through it
        self.manager = RunManager(executor=self._tapped, experiment=self.experiment)
        self.training = TrainingPanel(self.manager, plan=self.plan, device=default_device())
        self.runs_view = RunsView(self.manager)
        self.tensorboard = TensorBoardPanel(self.model_dir_root, manager=self.manager)
        self.datacheck = DataCheckPanel(train_df, eval_df, self.columns.label, columns=self._raw_columns)
        self.columns.on_change(self._on_columns)
        cap_note = (message(f"{MAX_STEPS_ENV}={self.step_cap}: every run stops at step {self.step_cap} "
                            "at most", "warning")
                    if self.step_cap is not None else "")
        header = widgets.HTML(
            f'<div style="font-size:14px"><b>estlab lab</b> · {len(train_df):,} training rows, {len(eval_df):,} '
            f"evaluation rows · device <b>{esc(self.training.device)}</b> · {runner.capacity} run(s) at once · "
            f"experiment <code>{esc(self.model_dir_root)}</code></div>"
            + cap_note)
        self.tabs = widgets.Tab(children=[widgets.VBox([self.datacheck.box, self.columns.box]), self.picker.box, self.training.box, self.runs_view.box,
                                          self.tensorboard.box], titles=TAB_TITLES)
        self.tabs.add_class("estlab-tabs")
        self._on_tab({"new": self.tabs.selected_index})
        self.tabs.observe(self._on_tab, names="selected_index")
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
        """Every run with params, feature set, status, device, wall time and metrics.

        Without ``sort_by``, best first by the task's main metric with a ``rank`` column, as the Runs tab
        ranks them; the notebook shows the numbers as that tab does (the values stay numbers).

        Examples
        --------
        >>> lab.leaderboard()[["rank", "run", "accuracy"]]  # doctest: +SKIP
        """
        frame = self.manager.leaderboard(sort_by=sort_by, baseline=baseline)
        if sort_by is not None:
            return frame
        ranked = rank_runs(frame, main_metrics(frame))
        return LeaderboardFrame(ranked[["rank", *(c for c in ranked.columns if c != "rank")]])

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
        problems = self.datacheck.blocking_message()
        if problems:
            raise ValueError(problems)
        max_steps = self.picker.max_steps.value
        if self.step_cap is not None:  # the estimator caps at ESTLAB_MAX_STEPS too; say so once, here
            max_steps = min(max_steps, self.step_cap)
        eval_every = min(self.picker.eval_every.value, max_steps)
        return [self._spec(name, params, max_steps, eval_every) for name, params in self.picker.queue]

    def _spec(self, estimator: str, params: Mapping[str, Any], max_steps: int, eval_every: int,
              folds: int = 0) -> RunSpec:
        dense, linear = tuple(self.columns.feature_columns), tuple(self.columns.linear_columns)
        return RunSpec.create(estimator, params, feature_columns=dense, linear_columns=linear,
                              label=str(self.columns.label), max_steps=max_steps, eval_every=eval_every,
                              feature_set=self.columns.describe(), task=self.columns.task,
                              batch_size=self.batch_size, seed=self.seed, folds=folds)

    def sweep(self, estimator: str, trials: int | None = None, search: str = "auto", seed: int = 0,
              folds: int = 0, **space: Any) -> list[str]:
        """Queue one run per parameter set of a grid or random search; returns the new run names at once.

        Each keyword is a dimension: a list gives the values to try (write a list-valued parameter as a list
        of lists), :func:`~estlab.runner.sweep.loguniform` / ``uniform`` / ``randint`` are sampled, anything
        else is fixed. Every trial is checked by the estimator before anything is queued; steps come from the
        form (``picker.max_steps``, ``picker.eval_every``). ``folds=k`` (k >= 2) cross-validates each trial on the
        training frame: the leaderboard shows each metric's mean over the folds with ``<metric>_std`` beside it.
        A trial identical to a finished run is not trained again (a warning names it).

        Examples
        --------
        >>> from estlab.runner import loguniform
        >>> lab.sweep("dnn_classifier", hidden_units=[[64, 32], [128, 64]],
        ...           learning_rate=loguniform(1e-4, 1e-2), trials=12)  # doctest: +SKIP
        """
        if self.columns.label is None:
            raise ValueError("label: pick the label column in the Columns tab first")
        problems = self.datacheck.blocking_message()
        if problems:
            raise ValueError(problems)
        parameter_sets = trials_of(space, trials=trials, search=search, seed=seed)
        managed = self._validation_kwargs(estimator)
        for params in parameter_sets:
            try:
                self.picker.registry.validate(estimator, **managed, **params)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"sweep: trial {params} is invalid: {exc}") from exc
        max_steps = self.picker.max_steps.value
        if self.step_cap is not None:
            max_steps = min(max_steps, self.step_cap)
        eval_every = min(self.picker.eval_every.value, max_steps)
        names = []
        for params in parameter_sets:
            try:
                names.append(self.manager.launch(self._spec(estimator, params, max_steps, eval_every, folds)).name)
            except DuplicateRunError as exc:
                warnings.warn(str(exc), LabWarning, stacklevel=2)
        self.manager.notify(f"sweep of {estimator}: queued {len(names)} run(s)")
        return names

    def tune(self, estimator: str, space: Mapping[str, Any] | None = None, n_trials: int = 20,
             metric: str | None = None, direction: str | None = None, parallel: int | None = None,
             seed: int = 0, **params: Any) -> Any:
        """Search ``estimator``'s parameters with Optuna (``pip install 'estlab[tune]'``), pruning bad trials.

        Each trial is a run of this lab (in the leaderboard and curves like any other); its evaluations of
        ``metric`` (default: the task's preferred one, accuracy or average_loss) are reported to the study, and
        a trial the pruner gives up is stopped (with a checkpoint; its reason says ``pruned by optuna``).
        ``space`` (or keywords) is the sweep's: lists are choices, ``loguniform`` / ``uniform`` / ``randint``
        ranges, anything else fixed. Returns the running :class:`~estlab.runner.tune.OptunaSearch` at once:
        ``search.finished.wait()`` blocks until every trial ended, ``search.study.best_params`` is the answer.

        Examples
        --------
        >>> from estlab.runner import loguniform
        >>> search = lab.tune("dnn_classifier", {"learning_rate": loguniform(1e-4, 1e-1),
        ...                   "hidden_units": [[32], [64, 32]]}, n_trials=12)  # doctest: +SKIP
        >>> search.finished.wait(); search.study.best_params  # doctest: +SKIP
        """
        from estlab.runner.tune import OptunaSearch
        from estlab.training.metric_info import preferred_metrics

        if self.columns.label is None:
            raise ValueError("label: pick the label column in the Columns tab first")
        if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
            raise ValueError(f"n_trials: must be a positive int, got {n_trials!r}")
        problems = self.datacheck.blocking_message()
        if problems:
            raise ValueError(problems)
        space = {**(space or {}), **params}
        if not space:
            raise ValueError("space: give at least one parameter to search, e.g. learning_rate=loguniform(1e-4, 1e-1)")
        self.picker.parameter_names(estimator)  # an unknown estimator fails here, before the first trial
        metric = metric or preferred_metrics(self.columns.task)[0]
        max_steps = self.picker.max_steps.value
        if self.step_cap is not None:
            max_steps = min(max_steps, self.step_cap)
        eval_every = min(self.picker.eval_every.value, max_steps)
        managed = self._validation_kwargs(estimator)

        def launch(trial: dict[str, Any]) -> str:
            self.picker.registry.validate(estimator, **managed, **trial)
            return self.manager.launch(self._spec(estimator, trial, max_steps, eval_every)).name

        search = OptunaSearch(space, launch=launch, stop=self.manager.stop, trials=n_trials, metric=metric,
                              direction=direction, parallel=parallel or self._tapped.capacity, seed=seed)
        names = search.attach(self._tapped).start()
        self.manager.notify(f"Optuna search of {estimator}: {n_trials} trial(s) on {metric}, "
                            f"started {', '.join(names)}")
        return search

    def resume(self, name: str) -> RunState:
        """Continue run ``name`` (interrupted by a kernel restart, stopped or failed) from its last checkpoint.

        Same configuration and folder; refused with a ValueError for a finished run, a run still training, or
        when this lab's data is not the data the run trained on (another fingerprint).

        Examples
        --------
        >>> lab = Lab(train, test, label="income_bracket", experiment="runs/adult")  # doctest: +SKIP
        >>> lab.runs["dnn_classifier-2"].status, lab.resume("dnn_classifier-2").status  # doctest: +SKIP
        ('interrupted', 'queued')
        """
        return self.manager.resume(name)

    def train(self) -> list[str]:
        """Queue every planned run (as the Train button); returns at once with the new run names.

        A configuration that is already queued or running is not started again: a warning says so.
        """
        queued, refused = self.training.launch_plan()
        for text in refused:
            warnings.warn(text, LabWarning, stacklevel=2)
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

    def close(self, timeout: float = 1.0) -> None:
        """Stop training and TensorBoard, end the worker processes and the lab's threads, close the widgets.

        Returns within about ``timeout`` seconds (a run still training then is stopped with its worker);
        every run's record stays in the experiment.
        """
        _LABS.discard(self)
        self.manager.close(timeout=timeout)
        self.tensorboard.close()
        self.training.close()
        self.datacheck.close()
        self.runs_view.close()
        self.columns.close()
        self.picker.close()
        self.box.close()

    # ---- wiring ----------------------------------------------------------------------------
    def _make_job(self, spec: RunSpec, name: str) -> Job:
        from estlab.runner.job import EstimatorJob

        return EstimatorJob(spec, self.experiment.run_dir(name), self.train_df, self.eval_df)

    def _validation_kwargs(self, estimator: str) -> dict[str, Any]:
        from estlab.runner.job import lab_managed_kwargs

        label = self.columns.label
        return lab_managed_kwargs(estimator, self.picker.parameter_names(estimator), self.columns.feature_columns,
                                  self.columns.linear_columns, None if label is None else self.train_df[label],
                                  self.columns.task)

    def _raw_columns(self) -> list[str]:
        """The frame columns the current features read (what the data check checks)."""
        return [key for key, column in self.columns.columns.items() if column is not None]

    def _on_columns(self, builder: ColumnBuilder) -> None:
        self.datacheck.refresh(builder.label)
        if builder.label is not None and builder.task != self.picker.task:
            queued, old_task = len(self.picker.queue), self.picker.task
            self.picker.set_task(builder.task)
            self.picker.clear()
            if queued:  # say so where the user is: the queue held estimators of the other task
                builder.notice(f"the task is now {builder.task}: the {queued} queued {old_task} estimator(s) were "
                               f"removed from tab 2; queue {builder.task} estimators there", "warning")

    def _on_tab(self, change: Any) -> None:
        """The tab shown changed: the panels of the hidden tabs skip the redraws nobody sees."""
        self.training.set_visible(change["new"] == TAB_TITLES.index("3 · Train"))
        self.runs_view.set_visible(change["new"] == TAB_TITLES.index("4 · Runs"))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        static = self.training.static_html() + self.runs_view._table_html(
            self.runs_view.leaderboard(), self.runs_view._metric_columns(self.runs_view.leaderboard()))
        return with_fallback(self.box, static, **kwargs)
