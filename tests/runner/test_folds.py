"""k-fold cross-validation as an option of a run: one run, k models, mean ± std in the leaderboard."""

from __future__ import annotations

import numpy as np
import pytest

from estlab.runner import Experiment, RunSpec, ThreadExecutor, run_fingerprint
from estlab.runner.job import EstimatorJob
from estlab.runner.predictions import load_predictions
from estlab.widgets.runs import RunManager


def test_folds_leave_runs_without_cross_validation_as_they_were():
    plain = RunSpec.create("linear_classifier", {"learning_rate": 0.1}, max_steps=5)
    assert "folds" not in plain.to_dict() and plain.total_steps == 5
    cv = RunSpec.create("linear_classifier", {"learning_rate": 0.1}, max_steps=5, folds=3)
    assert cv.to_dict()["folds"] == 3 and RunSpec.from_dict(cv.to_dict()) == cv and cv.total_steps == 15
    assert run_fingerprint(cv, "d") != run_fingerprint(plain, "d") and cv.key() != plain.key()
    for bad in (1, -2, 2.5, True):
        with pytest.raises(ValueError, match="folds"):
            RunSpec.create("linear_classifier", folds=bad)


def test_a_cross_validated_run_trains_each_fold_and_reports_mean_and_std(small_adult, spec_of, tmp_path):
    import dataclasses

    train, evaluation = small_adult
    spec = dataclasses.replace(spec_of(max_steps=10), folds=3, eval_every=5)
    events = []
    EstimatorJob(spec, str(tmp_path / "run"), train, evaluation).run(events.append)
    kinds = [e["type"] for e in events]
    assert kinds.count("train_begin") == 1 and kinds.count("train_end") == 1 and kinds[-2:] == ["predictions", "train_end"]
    assert events[kinds.index("train_begin")]["target_step"] == 30
    end = events[kinds.index("train_end")]
    assert end["status"] == "finished" and end["global_step"] == 30
    steps = [e["global_step"] for e in events if e["type"] == "step_end"]
    assert steps == sorted(steps) and steps[-1] == 30  # folds follow each other on one step axis
    folds = [e for e in events if e["type"] == "evaluate" and e["name"] and e["name"].startswith("fold-")]
    assert [(e["name"], e["global_step"]) for e in folds] == [
        ("fold-0", 5), ("fold-0", 10), ("fold-1", 15), ("fold-1", 20), ("fold-2", 25), ("fold-2", 30)]
    summary = next(e for e in events if e["type"] == "evaluate" and e["name"] is None)
    accuracies = [e["metrics"]["accuracy"] for e in folds if e["global_step"] % 10 == 0]
    assert summary["fold_metrics"][1]["accuracy"] == accuracies[1]
    assert summary["metrics"]["accuracy"] == float(np.mean(accuracies))
    assert summary["metrics"]["accuracy_std"] == float(np.std(accuracies))
    for fold in range(3):
        assert (tmp_path / "run" / f"fold-{fold}" / "model.ckpt-10.pt").exists()
    oof = load_predictions(str(tmp_path / "run" / "eval_predictions.npz"))
    assert len(oof["y_true"]) == len(train) and sorted(oof["y_true"]) == sorted(train["income_bracket"])


def test_stop_ends_a_cross_validated_run_in_its_current_fold(small_adult, spec_of, tmp_path):
    import dataclasses

    spec = dataclasses.replace(spec_of(max_steps=10), folds=4)
    job = EstimatorJob(spec, str(tmp_path / "run"), *small_adult)
    job.request_stop()
    events = []
    job.run(events.append)
    end = [e for e in events if e["type"] == "train_end"]
    assert len(end) == 1 and end[0]["status"] == "stopped" and end[0]["reason"].startswith("fold 1 of 4")
    assert not [e for e in events if e["type"] == "evaluate" and e["name"] is None]
    assert not (tmp_path / "run" / "fold-1").exists()


def test_the_leaderboard_shows_mean_and_std_of_a_cross_validated_run(small_adult, spec_of, tmp_path,
                                                                      monkeypatch):
    import dataclasses

    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    experiment = Experiment.create(str(tmp_path / "exp"), *small_adult, label="income_bracket")
    train, evaluation = small_adult

    def job_factory(spec, name):
        return EstimatorJob(spec, experiment.run_dir(name), train, evaluation)

    manager = RunManager(executor=ThreadExecutor(job_factory), experiment=experiment)
    try:
        cv = manager.launch(dataclasses.replace(spec_of(max_steps=10), folds=2))
        plain = manager.launch(spec_of(max_steps=10))
        manager.wait(timeout=300)
    finally:
        manager.close(timeout=5)
    board = Experiment.open(experiment.path).leaderboard().set_index("run")
    record = experiment.record(cv.name)
    assert record.status == "finished" and record.global_step == 20 and record.spec.folds == 2
    assert board.loc[cv.name, "folds"] == 2 and np.isnan(board.loc[plain.name, "folds"])
    assert board.loc[cv.name, "accuracy"] == record.metrics["accuracy"]
    assert board.loc[cv.name, "accuracy_std"] == record.metrics["accuracy_std"] >= 0.0
    assert np.isnan(board.loc[plain.name, "accuracy_std"])
    text = Experiment.open(experiment.path).leaderboard(plus_minus=True).set_index("run")
    assert text.loc[cv.name, "accuracy"] == (f"{record.metrics['accuracy']:.4f} ± "
                                             f"{record.metrics['accuracy_std']:.4f}")
    assert "accuracy_std" not in text.columns
