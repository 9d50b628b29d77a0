"""Lab with the real premade estimators on a small Adult sample: runs start, finish, stop, fail, fill the board."""

from __future__ import annotations

import os
import time

import pytest

from estlab.datasets import load_adult
from estlab.widgets import Lab
from estlab.widgets.lab import step_cap_from_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def adult():
    train, test = load_adult()
    return train.sample(600, random_state=0), test.sample(300, random_state=0)


@pytest.fixture
def lab(adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    lab = Lab(*adult, label="income_bracket", model_dir_root=str(tmp_path), batch_size=64)
    yield lab
    lab.close()


def test_queue_train_compare(lab, tmp_path):
    lab.queue("linear_classifier")
    lab.queue("dnn_classifier", hidden_units=[8])
    lab.picker.max_steps.value = 12
    lab.picker.eval_every.value = 6
    lab.training.train_button.click()
    lab.wait(timeout=120)
    board = lab.leaderboard(sort_by="accuracy")
    assert sorted(board["run"]) == ["dnn_classifier-2", "linear_classifier-1"]
    assert board["status"].tolist() == ["finished", "finished"]
    assert board["steps"].tolist() == [12, 12]
    assert board["device"].tolist() == [lab.device, lab.device]
    assert board["accuracy"].between(0, 1).all() and board["accuracy"].is_monotonic_decreasing
    state = lab.runs["dnn_classifier-2"]
    assert state.curves[("eval", "accuracy")].points()[0] == [6, 12]
    assert state.predictions["classes"] == ["<=50K", ">50K"]
    assert os.path.isdir(tmp_path / "dnn_classifier-2" / "eval")  # TensorBoard events per run
    assert [c.name for c in lab.feature_columns] == [c.name for c in lab.columns.feature_columns]
    assert set(lab.training.chart.last_steps()) == {"dnn_classifier-2", "linear_classifier-1"}
    ranked = lab.leaderboard()  # the cell-level table: best first, as the Runs tab
    assert ranked["run"].tolist() == lab.runs_view.leaderboard()["run"].tolist()
    assert ranked.columns[0] == "rank" and ranked["rank"].tolist()[0] == 1
    shown = ranked._repr_html_()
    assert "<td>defaults</td>" in shown and "wall time" in shown and "wall_time_s" not in shown


def test_stop_duplicate_release(lab):
    lab.queue("dnn_classifier", hidden_units=[8])
    lab.picker.max_steps.value = 1_000_000
    first = lab.train()
    with pytest.warns(UserWarning, match="with the same configuration is still"):
        assert lab.train() == []  # same configuration while running: refused, with a message
    lab.manager.flush()
    assert "not started again" in lab.training.note.value and "same settings as" in lab.training.note.value
    state = lab.runs[first[0]]
    deadline = time.monotonic() + 60
    while state.global_step < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    lab.training.stop_button.click()
    lab.wait(timeout=60)
    assert state.status == "stopped" and 5 <= state.global_step < 1_000_000
    assert state.checkpoint and os.path.exists(state.checkpoint)
    lab.release(first[0])  # the worker process dropped the model when the run ended; the record says so
    assert lab.runs[first[0]].released
    assert lab.leaderboard()["status"].tolist() == ["stopped (released)"]


def test_failure_shows_in_the_panel(adult, tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    train, test = adult
    lab = Lab(train, test.drop(columns=["age"]).assign(age="not a number"), label="income_bracket",
              model_dir_root=str(tmp_path))
    try:
        lab.queue("linear_classifier")
        lab.picker.max_steps.value = 4
        lab.picker.eval_every.value = 2
        with pytest.warns(UserWarning, match=r"data check found 1 blocking problem: age: int64 in train but"):
            assert lab.train() == []  # refused before any run starts
        assert lab.runs == {}
        monkeypatch.setattr(lab.datacheck, "blocking_message", lambda: "")  # past the check, the run fails
        lab.train()
        state = lab.wait(timeout=60)
        assert state.status == "failed" and state.error
        assert "failed" in lab.training.header.value
        assert "estlab-msg-error" in lab.training.message.value
    finally:
        lab.close()


def test_queue_raises_the_estimators_own_message(lab):
    with pytest.raises(ValueError, match=r"dnn_classifier: dropout must be None or a drop probability in \[0, 1\)"):
        lab.queue("dnn_classifier", hidden_units=[8], dropout=1.5)
    with pytest.raises(ValueError, match="param: dnn_classifier has no form field 'dropuot'. Did you mean 'dropout'"):
        lab.queue("dnn_classifier", dropuot=0.1)
    assert lab.picker.queue == []


def test_env_cap_limits_steps(monkeypatch):
    assert step_cap_from_env({"ESTLAB_MAX_STEPS": "7"}) == 7
    with pytest.raises(ValueError, match="ESTLAB_MAX_STEPS must be a positive int, got 'x'"):
        step_cap_from_env({"ESTLAB_MAX_STEPS": "x"})


def test_data_check_refuses_nan_labels_and_a_missing_eval_column(adult, tmp_path):
    train, test = adult
    train = train.copy()
    train.loc[train.index[:3], "income_bracket"] = None
    train["leak"] = (train["income_bracket"] == ">50K").astype(int)
    lab = Lab(train, test.drop(columns=["hours_per_week"]).assign(leak=0), label="income_bracket",
              model_dir_root=str(tmp_path), executor="thread")
    try:
        report = lab.datacheck.wait()
        found = set(zip(report["severity"], report["check"], report["column"]))
        assert {("error", "label_nan", "income_bracket"), ("error", "missing_in_eval", "hours_per_week"),
                ("warning", "leakage", "leak")} <= found
        assert "2 blocking problems" in lab.datacheck.html.value
        lab.queue("linear_classifier")
        with pytest.raises(ValueError, match="the data check found 2 blocking problems"):
            lab.plan()
        lab.columns.set_transform("hours_per_week", "drop")  # leaving the column out lifts that error
        lab.datacheck.wait()
        assert lab.datacheck.blocking()["check"].tolist() == ["label_nan"]
    finally:
        lab.close()


def test_the_tab_shown_tells_the_panels_whether_they_are_seen(lab):
    assert lab.tabs.selected_index == 0
    assert not lab.training.visible and not lab.runs_view.visible  # hidden tabs skip their live redraws
    lab.tabs.selected_index = 2  # 3 · Train
    assert lab.training.visible and not lab.runs_view.visible
    lab.tabs.selected_index = 3  # 4 · Runs
    assert lab.runs_view.visible and not lab.training.visible
