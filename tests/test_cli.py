"""``estlab demo`` trains premade estimators and prints a leaderboard."""

from __future__ import annotations

import re

import pytest
import torch

from estlab.cli import main


def test_demo_quick_prints_a_leaderboard(capsys) -> None:
    threads = str(torch.get_num_threads())  # leave this process's setting as it is
    assert main(["demo", "--dataset", "penguins", "--max-steps", "20", "--models", "baseline,linear",
                 "--threads", threads]) == 0
    out = capsys.readouterr().out
    assert "penguins: 275 train / 69 test rows, label 'species' (multiclass)" in out
    board = out.split("leaderboard (test split)")[1]
    assert "LinearClassifier" in board and "BaselineClassifier" in board
    assert board.index("LinearClassifier") < board.index("BaselineClassifier")  # sorted by accuracy


@pytest.mark.slow
def test_demo_regression_quick(capsys) -> None:
    pytest.importorskip("lightgbm")
    threads = str(torch.get_num_threads())
    assert main(["demo", "--dataset", "diamonds", "--quick", "--models", "baseline,boosted_trees",
                 "--threads", threads]) == 0
    board = capsys.readouterr().out.split("leaderboard (test split)")[1]
    assert board.index("BoostedTreesRegressor") < board.index("BaselineRegressor")  # sorted by rmse
    assert re.search(r"\d{4,}\.\d", board) is None  # large losses print as 15,986,829, not 15986828.5169
    assert re.search(r"\d,\d{3}", board)


def test_demo_rejects_unknown_models() -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--models", "forest"])
