"""Nothing is lost: checkpoints that read back, damage detected and named, counts validated, a lock that can't
be stolen or left behind, temp files cleaned, disk-full reported as disk-full."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from estlab.training import checkpoints
from estlab.training.config import RunConfig
from estlab.training.lock import LOCK_NAME, ModelDirLock


def _flip_in_record(path: Path, suffix: str, offset: int = 3) -> None:
    """Flip one bit inside the data of the archive record whose name ends with ``suffix``."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(suffix) and i.file_size > offset)
    data = bytearray(path.read_bytes())
    start = info.header_offset
    name_length, extra_length = (int.from_bytes(data[start + k:start + k + 2], "little") for k in (26, 28))
    data[start + 30 + name_length + extra_length + offset] ^= 0x04
    path.write_bytes(bytes(data))


# --- 6. numpy hyperparameters ---------------------------------------------------------------------------------

def test_a_numpy_learning_rate_writes_checkpoints_that_read_back(make_estimator, binary_frame):
    est = make_estimator(params={"learning_rate": np.float64(0.05)})
    est.train(binary_frame, label="y", steps=6)
    other = make_estimator(params={"learning_rate": np.float64(0.05)})
    other.evaluate(binary_frame, label="y")  # another Estimator reads the checkpoints
    assert not [p for p in Path(est.model_dir).iterdir() if p.name.endswith(".damaged")]
    est2 = make_estimator(params={"learning_rate": np.float64(0.05)})
    est2.train(binary_frame, label="y", steps=2)
    assert est2.global_step == 8  # resumed, not restarted


def test_a_checkpoint_holding_numpy_objects_is_refused_by_name_and_kept(tmp_path):
    path = checkpoints.checkpoint_path(tmp_path, 3)
    with open(path, "wb") as handle:  # what estlab 0.1 wrote for lr=np.float64(0.05)
        torch.save({"optimizer": {"param_groups": [{"lr": np.float64(0.05)}]}, "meta": "{}"}, handle)
    with pytest.raises(checkpoints.CheckpointRefusedError, match=r"model\.ckpt-3\.pt holds objects"):
        checkpoints.load_latest(tmp_path)
    assert path.exists() and not path.with_name(path.name + ".damaged").exists()


def test_state_that_does_not_round_trip_is_never_written(tmp_path):
    good = checkpoints.save_checkpoint(checkpoints.checkpoint_path(tmp_path, 1), {"w": torch.ones(2)}, {})
    with pytest.raises(TypeError, match=r"checkpoint\['listener'\]\['seen'\] is a builtins.set"):
        checkpoints.save_checkpoint(checkpoints.checkpoint_path(tmp_path, 2), {"listener": {"seen": {1}}}, {})
    assert checkpoints.list_checkpoints(tmp_path) == [good]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt-1.pt"]


# --- 7. counts ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [-1, 2.5, True, "3"])
def test_keep_checkpoint_max_must_be_a_count(value):
    with pytest.raises(ValueError, match=rf"keep_checkpoint_max must be None or 0 .* got {value!r}"):
        RunConfig(keep_checkpoint_max=value)


@pytest.mark.parametrize("value", [0, -5.0, float("nan"), float("inf")])
def test_save_checkpoints_secs_must_be_positive(value):
    with pytest.raises(ValueError, match="save_checkpoints_secs must be a positive number"):
        RunConfig(save_checkpoints_secs=value)


def test_prune_refuses_a_negative_count(tmp_path):
    checkpoints.save_checkpoint(checkpoints.checkpoint_path(tmp_path, 1), {"w": torch.ones(1)}, {})
    with pytest.raises(ValueError, match="keep_checkpoint_max"):
        checkpoints.prune_checkpoints(tmp_path, -1)
    assert len(checkpoints.list_checkpoints(tmp_path)) == 1


# --- 8./9. the lock -------------------------------------------------------------------------------------------

def test_an_empty_lock_file_left_by_a_disk_full_crash_does_not_lock_forever(tmp_path):
    (tmp_path / LOCK_NAME).write_bytes(b"")
    with ModelDirLock(tmp_path) as lock:
        assert lock.held and json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()


def test_a_lock_file_naming_our_own_reused_pid_is_taken(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere"}))
    with ModelDirLock(tmp_path) as lock:
        assert lock.held


def test_deleting_the_lock_file_does_not_let_a_second_trainer_in(tmp_path):
    with ModelDirLock(tmp_path):
        (tmp_path / LOCK_NAME).unlink()
        with pytest.raises(RuntimeError, match="being trained by another process"):
            ModelDirLock(tmp_path).acquire()


def test_a_killed_holder_releases_the_lock(tmp_path):
    code = f"from estlab.training.lock import ModelDirLock; ModelDirLock({str(tmp_path)!r}).acquire(); print('held', flush=True); import time; time.sleep(600)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(RuntimeError, match=rf"pid {child.pid}"):
            ModelDirLock(tmp_path).acquire()
    finally:
        child.kill()
        child.wait(timeout=60)
    with ModelDirLock(tmp_path) as lock:  # the kernel released the flock with the process
        assert lock.held


def test_synchronised_takeovers_give_exactly_one_holder(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    for trial in range(40):
        directory = tmp_path / str(trial)
        directory.mkdir()
        (directory / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout)}))  # stale
        n = 8
        barrier, holders, locks = threading.Barrier(n), [], [ModelDirLock(directory) for _ in range(n)]

        def take(lock: ModelDirLock, barrier: threading.Barrier = barrier, holders: list = holders) -> None:
            barrier.wait(timeout=60)
            try:
                lock.acquire()
                holders.append(lock)
            except RuntimeError:
                pass

        threads = [threading.Thread(target=take, args=(lock,)) for lock in locks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(holders) == 1, f"trial {trial}: {len(holders)} holders"
        holders[0].release()


# --- 10. bit flips --------------------------------------------------------------------------------------------

def test_a_bit_flip_in_the_newest_checkpoint_falls_back_with_a_warning_naming_it(tmp_path):
    checkpoints.save_checkpoint(checkpoints.checkpoint_path(tmp_path, 1), {"w": torch.full((64,), 1.0)}, {})
    newest = checkpoints.save_checkpoint(checkpoints.checkpoint_path(tmp_path, 2), {"w": torch.full((64,), 2.0)}, {})
    _flip_in_record(newest, "/data/0")
    with pytest.warns(RuntimeWarning, match=r"model\.ckpt-2\.pt is damaged: record .*data/0.* fails its CRC"):
        path, data = checkpoints.load_latest(tmp_path)
    assert checkpoints.step_of(path) == 1 and data["w"][0].item() == 1.0
    assert (tmp_path / "model.ckpt-2.pt.damaged").exists()


def test_a_bit_flip_in_optimizer_state_is_caught_not_blamed_on_the_learning_rate(make_estimator, binary_frame):
    est = make_estimator(keep_checkpoint_max=0)
    est.train(binary_frame, label="y", steps=10)
    newest = checkpoints.latest_checkpoint(est.model_dir)
    with zipfile.ZipFile(newest) as archive:
        records = [i.filename for i in archive.infolist() if "/data/" in i.filename and i.file_size >= 4]
    _flip_in_record(newest, records[-1], offset=2)
    resumed = make_estimator(keep_checkpoint_max=0)
    with pytest.warns(RuntimeWarning, match=r"model\.ckpt-10\.pt is damaged"):
        resumed.train(binary_frame, label="y", steps=2)
    assert resumed.global_step == 7  # from step 5, the previous good checkpoint


# --- 12. temp files -------------------------------------------------------------------------------------------

def test_temp_files_of_killed_writers_are_cleaned_when_training_starts(tmp_path):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    orphan = tmp_path / f".model.ckpt-5.pt.tmp-{dead}"
    orphan.write_bytes(b"partial")
    live = tmp_path / f".model.ckpt-6.pt.tmp-{os.getppid()}"  # a live process's write in progress: kept
    live.write_bytes(b"partial")
    with ModelDirLock(tmp_path):
        assert not orphan.exists() and live.exists()


def test_export_temp_folders_of_killed_writers_are_cleaned_at_the_next_export(tmp_path):
    from estlab.export.layout import write_version_atomically

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    orphan = tmp_path / f".tmp-export-{dead}-abc"
    orphan.mkdir()
    (orphan / "model.pt2").write_bytes(b"partial")
    write_version_atomically(tmp_path, lambda d: (d / "export.json").write_text("{}"))
    assert not orphan.exists()


# --- 8. disk full (a real tmpfs, in a private mount namespace) --------------------------------------------------

DISK_FULL_SCRIPT = textwrap.dedent("""
    import errno, os, sys
    from pathlib import Path
    import torch
    from estlab.training import checkpoints
    from estlab.training.lock import ModelDirLock, LOCK_NAME
    model_dir = Path(sys.argv[1]) / "model"
    lock = ModelDirLock(model_dir); lock.acquire()
    first = checkpoints.save_checkpoint(checkpoints.checkpoint_path(model_dir, 1), {"w": torch.ones(8)}, {})
    filler = Path(sys.argv[1]) / "filler"
    try:
        with open(filler, "wb") as f:
            while True:
                f.write(b"x" * 4096); f.flush()
    except OSError:
        pass
    try:
        checkpoints.save_checkpoint(checkpoints.checkpoint_path(model_dir, 2), {"w": torch.ones(100000)}, {})
        print("NO ERROR")
    except OSError as error:
        print("ERRNO", error.errno == errno.ENOSPC, "disk full" in str(error), str(model_dir / "model.ckpt-2.pt") in str(error))
    lock.release()
    retry = ModelDirLock(model_dir); retry.acquire()   # a retried train on the still-full disk
    retry.release()
    print("LEFT", sorted(p.name for p in model_dir.iterdir()))
    filler.unlink()
    again = ModelDirLock(model_dir); again.acquire()
    print("LOCK", os.path.getsize(model_dir / LOCK_NAME) > 0)
    again.release()
    print("LOADS", checkpoints.step_of(checkpoints.load_latest(model_dir)[0]))
""")


def test_disk_full_is_reported_as_disk_full_and_leaves_nothing_half_written(tmp_path):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-Urm", "true"]).returncode != 0:
        pytest.skip("needs unshare for a private tmpfs")
    mount = tmp_path / "small"
    mount.mkdir()
    script = tmp_path / "disk_full.py"
    script.write_text(DISK_FULL_SCRIPT)
    command = f"mount -t tmpfs -o size=256k tmpfs {mount} && exec {sys.executable} {script} {mount}"
    result = subprocess.run(["unshare", "-Urm", "sh", "-c", command], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert "ERRNO True True True" in lines, result.stdout
    assert "LEFT ['model.ckpt-1.pt']" in lines, result.stdout  # no temp file, no empty lock file
    assert "LOCK True" in lines and "LOADS 1" in lines, result.stdout


# --- 11. the NaN guard keeps only models that predict ----------------------------------------------------------

def _blowing_classifier(model_dir: Path, **config: object):
    import estlab.feature_column as fc
    from estlab.estimators.linear import LinearClassifier

    # the step-1 loss is finite (computed before the update); the update makes every weight infinite
    return LinearClassifier(feature_columns=[fc.numeric_column("x")], optimizer="SGD", learning_rate=1e38,
                            model_dir=str(model_dir), config=RunConfig(**config) if config else None)


def _huge_frame():
    import pandas as pd

    return pd.DataFrame({"x": [1e30, 2e30, 3e30, 4e30], "y": [0, 1, 0, 1]})


def test_a_step_that_blows_the_weights_up_raises_and_writes_no_checkpoint(tmp_path):
    from estlab.training.loop import NanLossError

    est = _blowing_classifier(tmp_path)
    with pytest.raises(NanLossError, match=r"the model became unusable after step 1: parameter 'weights\.x' holds "
                                           r"non-finite values; no checkpoint of it is written .*it was 1e\+38"):
        est.train(_huge_frame(), label="y", steps=1)
    assert checkpoints.list_checkpoints(tmp_path) == []
    assert est.history.runs[-1]["status"] == "failed"


def test_the_last_good_checkpoint_is_the_one_kept_and_served(tmp_path):
    from estlab.training.loop import NanLossError

    est = _blowing_classifier(tmp_path)
    small = _huge_frame().assign(x=[0.0, 0.0, 0.0, 0.0])  # zero inputs: zero gradients for x, weights stay finite
    est.train(small, label="y", steps=1)
    good = est.predict_frame(small.drop(columns="y"))
    with pytest.raises(NanLossError, match="after step 2"):
        est.train(_huge_frame(), label="y", steps=1)
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(tmp_path)] == [1]
    again = est.predict_frame(small.drop(columns="y"))
    assert np.isfinite(again["logits"].to_numpy(dtype=float)).all()
    assert again["logits"].tolist() == good["logits"].tolist()


def test_finite_weights_whose_outputs_overflow_are_caught_by_the_probe(tmp_path):
    import torch.nn as nn

    from estlab.training.loop import probe_model

    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(1e30)
        model.bias.zero_()
    forward = lambda batch: model(batch["x"])  # noqa: E731
    assert probe_model(model, forward, {"x": torch.tensor([[1.0], [1e10]])}) == (
        "its outputs are NaN or infinite for 1 of 2 probe rows")
    assert model.training  # the probe restores the mode
    assert probe_model(model, forward, {"x": torch.tensor([[1.0]])}) is None


def test_a_checkpoint_asked_for_by_any_listener_is_probed_first(tmp_path):
    from estlab.training.events import Listener
    from estlab.training.loop import NanLossError

    class SaveEveryStep(Listener):  # a user hook writing checkpoints at steps no loss was synced for
        def on_step_end(self, event):
            self.control.save_checkpoint()

    est = _blowing_classifier(tmp_path, save_checkpoints_steps=1000, log_step_count_steps=1000)
    small = _huge_frame().assign(x=[0.0, 0.0, 0.0, 0.0])
    est.train(small, label="y", steps=2, hooks=[SaveEveryStep()])
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(tmp_path)] == [1, 2]
    with pytest.raises(NanLossError, match="the model became unusable after step 3"):
        est.train(_huge_frame(), label="y", steps=3, hooks=[SaveEveryStep()])
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(tmp_path)] == [1, 2]
