from __future__ import annotations

import logging

import pytest
import torch

from estlab.training import checkpoints


def _save(model_dir, step, value=0.0):
    payload = {"global_step": step, "model": {"w": torch.full((2,), float(value))}}
    return checkpoints.save_checkpoint(checkpoints.checkpoint_path(model_dir, step), payload, {"step": step})


def test_round_trip_is_weights_only_with_json_meta(tmp_path):
    path = _save(tmp_path, 3, 1.5)
    data = checkpoints.load_checkpoint(path)
    assert data["meta"] == {"step": 3} and data["model"]["w"].tolist() == [1.5, 1.5]
    assert [p.name for p in tmp_path.iterdir()] == ["model.ckpt-3.pt"]  # no temp file left


def test_list_sorts_by_step_not_name_and_prune_keeps_newest(tmp_path):
    for step in (100, 20, 3):
        _save(tmp_path, step)
    assert [checkpoints.step_of(p) for p in checkpoints.list_checkpoints(tmp_path)] == [3, 20, 100]
    deleted = checkpoints.prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in deleted] == ["model.ckpt-3.pt"]
    assert checkpoints.prune_checkpoints(tmp_path, keep=None) == []


def test_damaged_newest_checkpoint_falls_back_to_previous(tmp_path, caplog):
    _save(tmp_path, 5, 5.0)
    newest = _save(tmp_path, 10, 10.0)
    newest.write_bytes(newest.read_bytes()[:40])  # truncated, as after a crash mid-copy
    with caplog.at_level(logging.WARNING), pytest.warns(RuntimeWarning, match=r"model\.ckpt-10\.pt is damaged"):
        path, data = checkpoints.load_latest(tmp_path)
    assert checkpoints.step_of(path) == 5 and data["model"]["w"].tolist() == [5.0, 5.0]
    assert "model.ckpt-10.pt is damaged" in caplog.text
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["model.ckpt-10.pt.damaged", "model.ckpt-5.pt"]


def test_step_of_rejects_other_files():
    with pytest.raises(ValueError, match="'x.pt' is not a checkpoint file"):
        checkpoints.step_of("x.pt")


def test_saver_asks_for_the_loss_exactly_at_its_save_steps():
    saver = checkpoints.CheckpointSaver(save_steps=4)
    assert [s for s in range(1, 13) if saver.wants_loss(s)] == [4, 8, 12]
