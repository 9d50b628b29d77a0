"""Sweep spaces: grid order, random draws in range, loguniform in log scale, bad input refused."""

from __future__ import annotations

import math

import pytest

from estlab.runner.sweep import grid, loguniform, randint, sample, trials_of, uniform


def test_grid_is_every_combination_in_keyword_order():
    assert grid({"hidden_units": [[64, 32], [128, 64]], "dropout": [0.0, 0.5], "optimizer": "Adam"}) == [
        {"hidden_units": [64, 32], "dropout": 0.0, "optimizer": "Adam"},
        {"hidden_units": [64, 32], "dropout": 0.5, "optimizer": "Adam"},
        {"hidden_units": [128, 64], "dropout": 0.0, "optimizer": "Adam"},
        {"hidden_units": [128, 64], "dropout": 0.5, "optimizer": "Adam"},
    ]


def test_random_search_draws_in_range_and_is_reproducible():
    space = {"hidden_units": [[8], [16]], "learning_rate": loguniform(1e-4, 1e-2), "dropout": uniform(0.0, 0.5),
             "n": randint(1, 3)}
    trials = sample(space, trials=200, seed=7)
    assert trials == sample(space, trials=200, seed=7) and trials != sample(space, trials=200, seed=8)
    rates = [t["learning_rate"] for t in trials]
    assert all(1e-4 <= r <= 1e-2 for r in rates)
    below = sum(r < 1e-3 for r in rates)  # log scale: about half the draws fall in the lower decade
    assert 60 <= below <= 140
    assert {tuple(t["hidden_units"]) for t in trials} == {(8,), (16,)}
    assert {t["n"] for t in trials} == {1, 2, 3}
    assert all(0.0 <= t["dropout"] <= 0.5 for t in trials)


def test_auto_search_and_trial_counts():
    assert len(trials_of({"a": [1, 2, 3], "b": [4, 5]})) == 6
    assert trials_of({"a": [1, 2, 3]}, trials=2, search="grid") == [{"a": 1}, {"a": 2}]
    drawn = trials_of({"a": [1, 2, 3], "b": [4, 5]}, trials=4, seed=0)
    assert len(drawn) == 4 and len({(t["a"], t["b"]) for t in drawn}) == 4  # no repeats below the grid size
    assert len(trials_of({"lr": loguniform(0.1, 1.0)})) == 10
    assert math.isclose(trials_of({"lr": loguniform(0.5, 0.5000001)}, trials=1)[0]["lr"], 0.5, rel_tol=1e-6)


def test_bad_spaces_are_refused():
    with pytest.raises(ValueError, match=r"grid: \['lr'\] are distributions"):
        grid({"lr": loguniform(1e-3, 1e-1)})
    with pytest.raises(ValueError, match="loguniform: need 0 < low < high, got low=0, high=1"):
        loguniform(0, 1)
    with pytest.raises(ValueError, match="trials: must be a positive int, got 0"):
        sample({"a": [1]}, trials=0)
    with pytest.raises(ValueError, match="dropout: an empty list leaves nothing to try"):
        grid({"dropout": []})
    with pytest.raises(ValueError, match="search: must be 'auto', 'grid' or 'random', got 'bayes'"):
        trials_of({"a": [1]}, search="bayes")
