"""``train_and_evaluate`` under ``torchrun --nproc_per_node=2`` (gloo): evaluation decided together, chief-only exports.

Both runs must finish: a rank left waiting in a collective (the chief evaluating a checkpoint alone, or one rank
building a DDP-wrapped serving copy) would hang, so the launcher is polled and, past a generous deadline, it
and both ranks are killed, which fails the test instead of hanging CI.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).parent
DEADLINE_S = 300.0  # the runs take ~10-20 s on an idle machine


def run_torchrun_or_kill(
    script: Path, out_dir: Path, *args: str, nproc: int = 2, deadline_s: float = DEADLINE_S
) -> str:
    """Launch ``script out_dir *args`` on ``nproc`` CPU ranks; poll until it ends, kill it past ``deadline_s``.

    Each rank writes its pid to ``out_dir/pid<rank>`` (torchrun starts every rank in a session of its own, so
    killing the launcher's group does not reach them). Returns the launcher's output; fails when it exits
    non-zero or has to be killed.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(script),
        str(out_dir),
        *args,
    ]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        end = time.monotonic() + deadline_s
        while proc.poll() is None and time.monotonic() < end:
            time.sleep(0.2)
        hung = proc.poll() is None
        if hung:
            kill_run(proc, out_dir)
        log.seek(0)
        output = log.read()
    assert not hung, f"torchrun did not finish within {deadline_s:.0f} s (killed):\n{output[-4000:]}"
    assert proc.returncode == 0, f"torchrun failed:\n{output[-4000:]}"
    return output


def kill_run(proc: subprocess.Popen, out_dir: Path) -> None:
    """Stop a hung launcher (SIGTERM lets it stop its ranks; then SIGKILL) and every rank that wrote its pid."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for pid_file in out_dir.glob("pid*"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text())
            if str(out_dir) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(
                errors="replace"
            ):  # still that rank
                os.kill(pid, signal.SIGKILL)


def run_both_ranks(tmp_path: Path, mode: str) -> tuple[dict, dict, Path]:
    out, model_dir = tmp_path / "out", tmp_path / "model"
    out.mkdir()
    run_torchrun_or_kill(HERE / "tae_torchrun_worker.py", out, str(model_dir), mode)
    r0, r1 = (json.loads((out / f"rank{rank}.json").read_text()) for rank in (0, 1))
    assert (r0["world_size"], r1["world_size"]) == (2, 2)
    return r0, r1, model_dir


def worker_module():
    sys.path.insert(0, str(HERE))
    import tae_torchrun_worker

    return tae_torchrun_worker


@pytest.mark.slow
def test_checkpoint_driven_evaluation_is_decided_by_every_rank_together(tmp_path):
    from estlab.training.loop import DISTRIBUTED_STOP_CHECK_STEPS

    worker = worker_module()
    r0, r1, model_dir = run_both_ranks(tmp_path, "throttle")
    # checkpoints every 10 steps are the chief's; each becomes an evaluation of every rank at the next multiple
    # of the agreement cadence (8): 10 -> 16, 20 -> 24, 30 -> 32; the final one at step 40 (train_end)
    assert (DISTRIBUTED_STOP_CHECK_STEPS, worker.CHECKPOINT_STEPS, worker.MAX_STEPS) == (8, 10, 40)
    steps = [e["global_step"] for e in r0["evaluations"]]
    assert steps == [16, 24, 32, 40]
    assert r1["evaluations"] == r0["evaluations"]  # the same steps and the same gathered metrics
    assert r0["result"] == r1["result"] == {**r0["evaluations"][-1]["metrics"], "global_step": 40}
    assert r0["global_step"] == r1["global_step"] == 40
    assert r0["exports"] == r1["exports"] == []
    # each evaluation was preceded by a checkpoint of its step; the chief alone wrote them
    assert (
        sorted(p.name for p in model_dir.glob("model.ckpt-*"))
        == [f"model.ckpt-{s}.pt" for s in (10, 16, 20, 24, 30, 32, 40)][-5:]
    )  # keep_checkpoint_max=5


@pytest.mark.slow
def test_every_n_steps_with_latest_exporter_exports_once_on_the_chief(tmp_path):
    from estlab import export

    worker = worker_module()
    r0, r1, model_dir = run_both_ranks(tmp_path, "exporter")
    steps = [e["global_step"] for e in r0["evaluations"]]
    assert steps == list(range(worker.EVERY_N_STEPS, worker.MAX_STEPS + 1, worker.EVERY_N_STEPS))
    assert r1["evaluations"] == r0["evaluations"]
    assert r0["result"] == r1["result"] == {**r0["evaluations"][-1]["metrics"], "global_step": 40}
    # one export per evaluation, written by the chief only; every rank returns the chief's final export
    versions = sorted((model_dir / "export" / "latest").iterdir())
    assert len(versions) == len(steps) == 4
    assert r0["exports"] == r1["exports"] == [str(versions[-1])]
    # the final export predicts what the trained estimator predicts
    test = worker.frame(200, seed=1)
    features = test[["x1", "x2", "color"]]
    served = export.load(versions[-1]).predict_columns({k: features[k].to_numpy() for k in features})
    estimator = worker.estimator(str(model_dir))
    assert estimator.global_step == 40
    predicted = np.stack([row["probabilities"] for row in estimator.predict(features)])
    np.testing.assert_allclose(np.asarray(served["probabilities"]), predicted, rtol=1e-5, atol=1e-6)
    assert np.asarray(served["class_ids"]).reshape(-1).tolist() == [
        int(row["class_ids"][0]) for row in estimator.predict(features)
    ]
    # the chief alone exported an older checkpoint (a side model, built without DDP): it predicts as that one
    assert "older_export" not in r1
    older = str(model_dir / f"model.ckpt-{worker.EVERY_N_STEPS}.pt")
    served_older = export.load(r0["older_export"]).predict_columns(
        {k: features[k].to_numpy() for k in features}
    )
    predicted_older = np.stack(
        [row["probabilities"] for row in estimator.predict(features, checkpoint_path=older)]
    )
    np.testing.assert_allclose(
        np.asarray(served_older["probabilities"]), predicted_older, rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(predicted_older, predicted)  # a different model indeed
