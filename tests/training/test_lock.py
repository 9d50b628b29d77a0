from __future__ import annotations

import json
import subprocess
import sys

import pytest

from estlab.training.lock import LOCK_NAME, ModelDirLock


def test_second_lock_on_the_same_dir_is_refused_with_the_owner(tmp_path):
    with ModelDirLock(tmp_path):
        with pytest.raises(RuntimeError, match=r"is being trained by another process or thread \(pid \d+"):
            ModelDirLock(tmp_path).acquire()
    ModelDirLock(tmp_path).acquire()  # released: free again


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout)}))
    lock = ModelDirLock(tmp_path)
    lock.acquire()
    assert lock.held
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_training_while_another_holds_the_dir_fails_clearly(make_estimator, binary_frame, tmp_path):
    est = make_estimator()
    with ModelDirLock(est.model_dir):
        with pytest.raises(RuntimeError, match="wait for it to finish, call request_stop"):
            est.train(binary_frame, label="y", steps=1)
    est.train(binary_frame, label="y", steps=1)
    assert est.global_step == 1
