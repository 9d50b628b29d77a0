"""Two gloo ranks launched by torchrun: the collectives give the hand-computed totals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def run_torchrun(script: Path, *args: str, nproc: int = 2, timeout: float = 240) -> subprocess.CompletedProcess:
    """Launch ``script`` on ``nproc`` local CPU ranks with torchrun (standalone rendezvous)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(script), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_collectives_on_two_gloo_ranks(tmp_path):
    run_torchrun(HERE / "collectives_worker.py", str(tmp_path))
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["env"] == [0, 2] and r1["env"] == [1, 2]
    assert r0["backend"] == "gloo"
    assert r0["wrapped"] == "DistributedDataParallel" and r0["unwrapped"] == "Linear"
    assert r0["frozen_wrapped"] == "Linear"  # no trainable parameters: nothing for DDP to synchronise
    assert r0["chief"] is True and r1["chief"] is False
    assert r0["sums"] == r1["sums"] == {"loss": 3.0, "n": 30.0}
    assert r0["gathered"] == r1["gathered"] == [0.0, 10.0, 11.0]
    assert r0["any_true"] is r1["any_true"] is True
    assert r0["any_false"] is r1["any_false"] is False
    assert r0["broadcast"] == r1["broadcast"] == {"from": 0}
    assert r0["shard"] == [0, 2, 4] and r1["shard"] == [1, 3, 0]
