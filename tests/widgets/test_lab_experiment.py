"""Lab on an experiment directory with worker processes: a sweep fills the board; a new Lab shows every run."""

from __future__ import annotations

import pytest

from estlab.datasets import load_adult
from estlab.runner import loguniform
from estlab.widgets import Lab

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def adult():
    train, test = load_adult()
    columns = ["age", "hours_per_week", "education", "income_bracket"]
    return train[columns].sample(500, random_state=0), test[columns].sample(200, random_state=0)


def test_sweep_of_eight_trials_then_a_new_lab_shows_every_run(adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    path = str(tmp_path / "adult")
    lab = Lab(*adult, label="income_bracket", experiment=path, workers=2, batch_size=32)
    try:
        lab.picker.max_steps.value = 6
        lab.picker.eval_every.value = 6
        names = lab.sweep("dnn_classifier", hidden_units=[[8], [8, 4]], learning_rate=loguniform(1e-3, 1e-1),
                          trials=8, seed=3)
        assert names == [f"dnn_classifier-{i}" for i in range(1, 9)]
        lab.wait(timeout=600)
        board = lab.leaderboard(sort_by="accuracy")
        assert sorted(board["run"]) == sorted(names)
        assert board["status"].tolist() == ["finished"] * 8 and board["steps"].tolist() == [6] * 8
        assert board["accuracy"].between(0, 1).all() and board["accuracy"].is_monotonic_decreasing
        rates = {lab.runs[n].spec.kwargs["learning_rate"] for n in names}
        assert len(rates) == 8 and all(1e-3 <= r <= 1e-1 for r in rates)
        curves = {n: lab.runs[n].curves[("eval", "accuracy")].points() for n in names}
    finally:
        lab.close()

    again = Lab(*adult, label="income_bracket", experiment=path, workers=1, batch_size=32)  # "kernel restart"
    try:
        assert list(again.runs) == names
        assert [again.runs[n].status for n in names] == ["finished"] * 8
        assert {n: again.runs[n].curves[("eval", "accuracy")].points() for n in names} == curves
        assert again.leaderboard(sort_by="accuracy")["run"].tolist() == board["run"].tolist()
        again.manager.flush()
        assert "8 earlier run(s)" in again.training.message.value
        trial = again.runs[names[0]].spec.kwargs
        again.picker.max_steps.value = 6
        again.picker.eval_every.value = 6
        with pytest.warns(UserWarning, match="already trained this configuration on the same data"):
            assert again.sweep("dnn_classifier", hidden_units=[list(trial["hidden_units"])],
                               learning_rate=[trial["learning_rate"]]) == []
    finally:
        again.close()


def test_a_cross_validated_sweep_shows_mean_and_std_per_trial(adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    lab = Lab(*adult, label="income_bracket", experiment=str(tmp_path / "cv"), workers=2, batch_size=32)
    try:
        lab.picker.max_steps.value = 4
        lab.picker.eval_every.value = 4
        names = lab.sweep("linear_classifier", learning_rate=[0.05, 0.2], folds=2)
        lab.wait(timeout=600)
        board = lab.leaderboard()
        assert sorted(board["run"]) == sorted(names) and board["status"].tolist() == ["finished"] * 2
        assert board["accuracy"].between(0, 1).all() and (board["accuracy_std"] >= 0).all()
        assert {lab.runs[n].spec.folds for n in names} == {2}
    finally:
        lab.close()


def test_train_starts_only_configurations_not_run_yet(adult, tmp_path, monkeypatch):
    import html
    import warnings

    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    lab = Lab(*adult, label="income_bracket", experiment=str(tmp_path / "exp"), executor="thread", batch_size=32)
    try:
        lab.picker.max_steps.value = 4
        lab.picker.eval_every.value = 4
        lab.queue("linear_classifier")
        lab.queue("baseline_classifier")
        assert "2 runs: 1 × 4 steps (evaluated every 4), 1 one-step fit" in lab.picker.plan_text.value
        lab.training.train_button.click()
        lab.wait(timeout=300)
        lab.queue("linear_classifier", learning_rate=0.2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lab.training.train_button.click()  # a UI action: UI feedback, no Python warning
            lab.wait(timeout=300)
        assert [str(w.message) for w in caught if issubclass(w.category, UserWarning)] == []
        assert list(lab.runs) == ["linear_classifier-1", "baseline_classifier-2", "linear_classifier-3"]
        assert [s.status for s in lab.runs.values()] == ["finished"] * 3
        text = html.unescape(lab.training.note.value)  # what was not started stays; "queued" went with the run
        assert "not started again: linear_classifier (same settings as linear_classifier-1, finished); " \
               "baseline_classifier (same settings as baseline_classifier-2, finished)" in text
        assert "queued" not in text
        assert "stop(" not in text
    finally:
        lab.close()


def test_tune_runs_optuna_trials_as_lab_runs(adult, tmp_path, monkeypatch):
    optuna = pytest.importorskip("optuna")
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    lab = Lab(*adult, label="income_bracket", experiment=str(tmp_path / "tune"), executor="thread", batch_size=32)
    try:
        lab.picker.max_steps.value = 6
        lab.picker.eval_every.value = 2
        search = lab.tune("linear_classifier", {"learning_rate": loguniform(1e-3, 1.0)}, n_trials=4, seed=1)
        assert search.finished.wait(300), "the search did not end"
        lab.wait(timeout=300)
        trials = search.study.trials
        assert len(trials) == 4 and sorted(search.runs) == sorted(lab.runs)
        assert {t.state for t in trials} <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
        for trial in trials:
            state = lab.runs[trial.user_attrs["run"]]
            assert state.spec.kwargs["learning_rate"] == trial.params["learning_rate"]
            if trial.state == optuna.trial.TrialState.COMPLETE:
                assert state.status == "finished" and trial.value == state.metrics["accuracy"]
            else:
                assert state.status == "stopped" and state.reason.startswith("pruned by optuna at step ")
        assert search.study.direction == optuna.study.StudyDirection.MAXIMIZE
        with pytest.raises(ValueError, match="n_trials: must be a positive int, got 0"):
            lab.tune("linear_classifier", {"learning_rate": [0.1]}, n_trials=0)
    finally:
        lab.close()
