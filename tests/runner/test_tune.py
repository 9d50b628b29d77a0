"""Optuna-backed search: trials are runs, their evaluations reported, bad ones pruned through the runner's stop."""

from __future__ import annotations

import threading
import time

import pytest

from estlab.runner import RunRequest, RunSpec, ThreadExecutor, uniform
from estlab.runner.tune import OptunaSearch, TappedExecutor

optuna = pytest.importorskip("optuna")


class CurveJob:
    """A scripted run: evaluates ``accuracy = quality * step / 10`` at steps 1..10, stops when asked."""

    def __init__(self, spec, name):
        self.quality = spec.kwargs["quality"]
        self.stop_wanted = threading.Event()

    def run(self, emit):
        emit({"type": "train_begin", "global_step": 0, "time": time.time(), "target_step": 10})
        for step in range(1, 11):
            if self.stop_wanted.is_set():
                emit({"type": "train_end", "global_step": step - 1, "time": time.time(), "status": "stopped",
                      "reason": "stop requested", "error": None})
                return
            emit({"type": "evaluate", "global_step": step, "time": time.time(), "name": None,
                  "metrics": {"accuracy": self.quality * step / 10}})
        emit({"type": "train_end", "global_step": 10, "time": time.time(), "status": "finished", "reason": "",
              "error": None})

    def request_stop(self):
        self.stop_wanted.set()

    def release(self):
        pass


def test_an_optuna_search_reports_evaluations_and_prunes_bad_trials_through_stop():
    executor = TappedExecutor(ThreadExecutor(CurveJob))
    ends: dict[str, dict] = {}
    done = threading.Event()
    count = iter(range(1, 100))

    def launch(params):
        name = f"trial-{next(count)}"

        def emit(event):
            if event["type"] == "train_end":
                ends[name] = event

        executor.start(name, RunRequest(RunSpec.create("scripted", params)), emit, lambda n: done.set())
        return name

    search = OptunaSearch({"quality": uniform(0.0, 1.0)}, launch=launch, stop=executor.stop, trials=8,
                          metric="accuracy", parallel=1,
                          pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    assert search.study.direction == optuna.study.StudyDirection.MAXIMIZE  # from the metric's name
    search.attach(executor).start()
    assert search.finished.wait(60), "the search did not end"
    assert not executor.errors
    executor.close(timeout=5)
    trials = search.study.trials
    assert len(trials) == 8 and len(ends) == 8
    states = {t.user_attrs["run"]: t.state for t in trials}
    pruned = [n for n, s in states.items() if s == optuna.trial.TrialState.PRUNED]
    complete = [n for n, s in states.items() if s == optuna.trial.TrialState.COMPLETE]
    assert pruned and len(pruned) + len(complete) == 8
    for name in pruned:  # stopped early through the runner's stop, and the run says why
        assert ends[name]["status"] == "stopped" and ends[name]["global_step"] < 10
        assert ends[name]["reason"].startswith("pruned by optuna at step ")
    for trial in trials:
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert ends[trial.user_attrs["run"]]["status"] == "finished"
            assert trial.value == trial.params["quality"] * 10 / 10  # the final evaluation, at step 10
    assert search.study.best_value == max(t.params["quality"] * 10 / 10 for t in trials
                                          if t.state == optuna.trial.TrialState.COMPLETE)
