from __future__ import annotations

import pytest

from estlab.training.checkpoints import CheckpointSaver
from estlab.training.events import ORDER, Control, Listener, sort_listeners
from estlab.training.history import History
from estlab.training.logging_listener import LoggingListener
from estlab.training.summaries import TensorBoardWriter


class Recorder(Listener):
    order = ORDER["ui"]

    def __init__(self, log, name):
        self.log, self.name = log, name

    def on_step_end(self, event):
        self.log.append(self.name)


def test_order_is_metrics_monitors_loggers_ui(tmp_path):
    ui = Recorder([], "ui")
    listeners = sort_listeners([ui, LoggingListener(), TensorBoardWriter(tmp_path), CheckpointSaver(5), History()])
    assert [type(x).__name__ for x in listeners] == [
        "History", "CheckpointSaver", "LoggingListener", "TensorBoardWriter", "Recorder"]
    assert ORDER == {"metrics": 0, "evaluation": 50, "monitors": 100, "loggers": 200, "ui": 300}


def test_estimator_dispatches_in_that_order(make_estimator, binary_frame):
    seen = []

    class Spy(Listener):
        def __init__(self, order):
            self.order = order

        def on_step_end(self, event):
            seen.append((event["global_step"], self.order))

    make_estimator().train(binary_frame, label="y", steps=2, hooks=[Spy(300), Spy(0), Spy(150)])
    assert seen == [(1, 0), (1, 150), (1, 300), (2, 0), (2, 150), (2, 300)]


def test_hooks_must_be_listeners():
    with pytest.raises(TypeError, match="expected estlab.training.Listener instances, got function"):
        sort_listeners([lambda e: None])


def test_control_emits_plain_events_and_keeps_the_first_stop_reason():
    log = []
    control = Control([Recorder(log, "a")], {"run": "r"})
    control.global_step = 3
    event = control.emit("step_end", loss=None)
    assert log == ["a"] and event["type"] == "step_end" and event["global_step"] == 3 and event["run"] == "r"
    control.request_stop("first")
    control.request_stop("second")
    assert control.stop_requested and control.stop_reason == "first"
