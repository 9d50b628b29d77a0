"""``train()``'s tqdm bar (estlab.training.progress) as a notebook shows it: how it ends for each outcome."""

from __future__ import annotations

import pytest

from estlab.training.progress import ProgressBar

tqdm_notebook = pytest.importorskip("tqdm.notebook").tqdm


def _run(begin: dict, steps: list[int], status: str) -> tuple[ProgressBar, object]:
    bar = ProgressBar(bar_class=tqdm_notebook)
    bar.on_train_begin({"type": "train_begin", "global_step": 0, "time": 0.0, "start_step": 0, **begin})
    widget = bar._bar.container.children[1]
    for step in steps:
        bar.on_step_end({"type": "step_end", "global_step": step, "time": 0.0, "loss": 0.5})
    bar.on_train_end(
        {
            "type": "train_end",
            "global_step": steps[-1] if steps else 0,
            "time": 0.0,
            "status": status,
            "reason": "",
            "error": None,
            "final_loss": None,
        }
    )
    return bar, widget


def test_a_full_batch_fit_counts_one_fit_and_ends_green():
    bar = ProgressBar(bar_class=tqdm_notebook)  # the session's events of a full-batch fit: no step_end
    bar.on_train_begin(
        {
            "type": "train_begin",
            "global_step": 0,
            "time": 0.0,
            "start_step": 0,
            "target_step": 200,
            "full_batch": True,
        }
    )
    widget = bar._bar.container.children[1]
    assert widget.max == 1 and bar._bar.desc == "fit (full batch)"
    bar.on_train_end(
        {
            "type": "train_end",
            "global_step": 1,
            "time": 0.0,
            "status": "finished",
            "reason": "full-batch fit",
            "error": None,
            "final_loss": None,
        }
    )
    assert (widget.value, widget.max, widget.bar_style) == (1, 1, "success")  # was 1/200 and red


def test_a_full_batch_fit_that_reports_its_step_ends_complete():
    _, widget = _run({"target_step": 3000, "full_batch": True}, [1], "finished")
    assert (widget.value, widget.max, widget.bar_style) == (1, 1, "success")


def test_a_run_finished_early_ends_green_and_full():
    _, widget = _run({"target_step": 200}, [50, 100, 120], "finished")  # e.g. early stopping at step 120
    assert (widget.value, widget.max, widget.bar_style) == (120, 120, "success")


def test_a_stopped_run_is_amber_and_a_failed_one_red():
    _, stopped = _run({"target_step": 200}, [50], "stopped")
    _, failed = _run({"target_step": 200}, [50], "failed")
    assert (stopped.value, stopped.max, stopped.bar_style) == (50, 200, "warning")
    assert (failed.value, failed.max, failed.bar_style) == (50, 200, "danger")


def test_a_run_reaching_its_target_is_green():
    _, widget = _run({"target_step": 100}, [50, 100], "finished")
    assert (widget.value, widget.max, widget.bar_style) == (100, 100, "success")
