"""A training process killed with SIGKILL resumes from its last checkpoint (real subprocess, real kill)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from estlab.training import checkpoints
from estlab.training.lock import LOCK_NAME

CHILD = textwrap.dedent(
    """
    import importlib.util, sys, time
    import numpy as np, pandas as pd
    spec = importlib.util.spec_from_file_location("estimator_testing", sys.argv[2])
    helpers = importlib.util.module_from_spec(spec); spec.loader.exec_module(helpers)
    from estlab.estimators.estimator import Estimator
    from estlab.training.config import RunConfig
    from estlab.training.events import Listener

    class Slow(Listener):
        def on_step_end(self, event):
            time.sleep(0.01)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype("float32")
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] + x[:, 1] > 0).astype(int)})
    est = Estimator(helpers.linear_model_fn, model_dir=sys.argv[1],
                    config=RunConfig(save_checkpoints_steps=5, random_seed=0))
    est.train(frame, label="y", hooks=[Slow()], batch_size=8, steps=1_000_000)  # until killed
    """
)


@pytest.mark.slow
def test_sigkill_mid_run_resumes_from_the_last_checkpoint(tmp_path, make_estimator, binary_frame):
    model_dir = tmp_path / "run"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    helpers = Path(__file__).parents[1] / "estimator_testing.py"
    child = subprocess.Popen([sys.executable, str(script), str(model_dir), str(helpers)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = checkpoints.list_checkpoints(model_dir)
            if found and checkpoints.step_of(found[-1]) >= 15:
                break
            assert child.poll() is None, child.stderr.read().decode()
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert (model_dir / LOCK_NAME).exists()  # left behind by the killed process
    _, last = checkpoints.load_latest(model_dir)
    resumed = make_estimator(model_dir)
    assert resumed.global_step == last["global_step"] >= 15
    resumed.train(binary_frame, label="y", steps=3, batch_size=8)  # the stale lock is taken over
    assert resumed.global_step == last["global_step"] + 3
    assert not (model_dir / LOCK_NAME).exists()
