"""estlab.check: each rule on a small frame, exact values; torch-free."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from estlab.datacheck import blocking, check, ks_statistic, psi


def _frames(n=400, seed=0):
    rng = np.random.default_rng(seed)
    train = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n),
                          "y": rng.choice(["no", "yes"], n)})
    return train, train.copy()


def _found(report):
    return sorted(zip(report["severity"], report["check"], report["column"]))


def test_clean_frames_have_no_problems():
    train, test = _frames()
    report = check(train, test, label="y")
    assert list(report.columns) == ["severity", "check", "column", "value", "message", "fix"]
    assert len(report) == 0


def test_label_nan_missing_column_dtype_and_leak():
    train, test = _frames()
    train.loc[:4, "y"] = None
    train["leak"] = (train["y"] == "yes").astype(int)
    test["leak"] = 0
    test = test.drop(columns="c").assign(x=test["x"].astype(str))
    report = check(train, test, label="y")
    assert _found(report) == [("error", "dtype_mismatch", "x"), ("error", "label_nan", "y"),
                              ("error", "missing_in_eval", "c"), ("warning", "drift", "leak"),
                              ("warning", "leakage", "leak")]  # eval's constant leak column drifted too
    assert report.loc[report["check"] == "label_nan", "value"].item() == 5 / 400
    assert report.loc[report["check"] == "leakage", "value"].item() == 1.0
    assert list(blocking(report)["check"]) == ["label_nan", "dtype_mismatch", "missing_in_eval"]
    assert report["fix"].str.len().gt(0).all()


def test_drift_unseen_categories_constant_duplicate_and_balance():
    rng = np.random.default_rng(1)
    n = 1000
    train = pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], n), "k": 1.0,
                          "y": np.where(np.arange(n) < 20, "rare", "common")})
    train["x2"] = train["x"]
    test = train.copy()
    test["x"] = rng.normal(2.0, size=n)
    test["c"] = np.where(np.arange(n) < 300, "z", test["c"])
    report = check(train, test, label="y")
    assert _found(report) == [("warning", "class_balance", "y"), ("warning", "constant", "k"),
                              ("warning", "drift", "x"), ("warning", "duplicate", "x2"),
                              ("warning", "unseen_categories", "c")]
    row = report.set_index("check").loc
    assert row["unseen_categories", "value"] == 0.3
    assert row["class_balance", "value"] == 0.02
    assert row["drift", "value"] > 0.2 and "KS D =" in row["drift", "message"]


def test_regression_leak_by_correlation_and_thresholds():
    rng = np.random.default_rng(2)
    train = pd.DataFrame({"x": rng.normal(size=500)})
    train["y"] = train["x"] * 3 + rng.normal(scale=0.01, size=500)
    train["noise"] = rng.normal(size=500)
    report = check(train, None, label="y")
    assert _found(report) == [("warning", "leakage", "x")]
    assert check(train, None, label="y", leak_accuracy=1.01).empty


def test_psi_and_ks():
    a = np.arange(1000, dtype=float)
    assert psi(a, a) == pytest.approx(0.0)
    assert ks_statistic(a, a + 500) == 0.5


def test_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None; import estlab.datacheck as c, pandas as pd; "
            "print(len(c.check(pd.DataFrame({'a': [1, 2], 'y': [0, 1]}), label='y')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_drift_on_random_splits_of_a_small_frame_is_as_rare_as_the_ks_tests_level():
    from estlab.datacheck import psi

    values = np.random.default_rng(3).normal(size=369)  # penguins-sized: 300 train / 69 eval, one distribution
    psi_alone = alarms = 0
    for seed in range(400):
        shuffled = np.random.default_rng(seed).permutation(values)
        train, test = pd.DataFrame({"x": shuffled[:300]}), pd.DataFrame({"x": shuffled[300:]})
        psi_alone += psi(shuffled[:300], shuffled[300:]) > 0.2
        alarms += "drift" in set(check(train, test)["check"])
    assert (psi_alone, alarms) == (140, 15)  # PSI > 0.2 alone: 35 % false alarms; with the KS test: under 5 %
    train, test = pd.DataFrame({"x": values[:300]}), pd.DataFrame({"x": values[300:] + 1.5})
    shifted = check(train, test)
    assert list(shifted["check"]) == ["drift"]
    assert "KS D = " in shifted["message"].item() and "300 train / 69 eval values" in shifted["message"].item()
