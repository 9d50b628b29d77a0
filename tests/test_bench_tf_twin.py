"""``benchmarks/bench_tf_twin.py``: its data preparation and the TF program run by estlab (no timings asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_tf_twin.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_tf_twin", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prepare_writes_the_program_data(tmp_path):
    bench = _bench()
    spec = bench.prepare(tmp_path, rows=300)
    frame = pd.read_csv(tmp_path / "train.csv")
    assert spec["rows"] == 300 and len(frame) == 300
    assert list(frame.columns) == bench.NUMERIC + bench.VOCABULARY + [bench.LABEL]
    assert set(frame[bench.LABEL]) <= {0, 1}
    assert frame[bench.VOCABULARY].isna().sum().sum() == 0  # missing strings became "?"
    for name in bench.NUMERIC:
        assert spec["mean"][name] == pytest.approx(frame[name].mean(), rel=1e-5)
        assert spec["std"][name] == pytest.approx(frame[name].std(), rel=1e-5)
    for name in bench.VOCABULARY:
        assert spec["vocabulary"][name] == sorted(frame[name].astype(str).unique())
    assert json.loads((tmp_path / "spec.json").read_text()) == spec


def test_reference_names_its_provenance():
    reference = _bench().load_reference()
    assert reference["examples_per_second"] == 52000
    assert reference["tensorflow"] == "2.15"
    assert {"program", "machine", "date", "source"} <= set(reference)


@pytest.mark.slow
def test_estlab_runs_the_tf_program(tmp_path):
    bench = _bench()
    bench.prepare(tmp_path, rows=300)
    result = bench.run_child(sys.executable, "estlab", tmp_path, threads=1)
    # 300 rows in batches of 128: 3 batches an epoch (the last one of 44 rows), 10 epochs
    assert result["rows"] == 300
    assert result["steps"] == 30
    assert result["threads"] == 1
    assert result["steady_steps_per_second"] is None  # fewer steps than the warm-up
    assert bench.examples_per_second(result) == pytest.approx(3000 / result["seconds"])
