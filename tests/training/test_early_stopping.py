"""EarlyStopping reads each metric's direction from the heads' declarations (``metric_info``)."""

from __future__ import annotations

import pytest

from estlab.training.early_stopping import EarlyStopping


@pytest.mark.parametrize(
    ("metric", "mode"),
    [("accuracy", "max"), ("auc_precision_recall", "max"), ("recall/class_2", "max"), ("eval_val/auc", "max"),
     ("loss", "min"), ("rmse", "min"), ("mae", "min"), ("label/mean", "min"), ("my_custom_metric", "min")],
)
def test_auto_mode_follows_the_declared_direction(metric: str, mode: str) -> None:
    assert EarlyStopping(metric).mode == mode


def test_explicit_mode_wins_and_max_mode_stops_on_no_increase() -> None:
    stop = EarlyStopping("rmse", mode="max", patience=1)
    assert stop.mode == "max"
    assert [stop.observe(v) for v in (1.0, 2.0, 1.5)] == [False, False, True]
    with pytest.raises(ValueError, match=r"mode must be 'min', 'max' or 'auto', got 'up'"):
        EarlyStopping("auc", mode="up")
