"""The same training script under ``torchrun --nproc_per_node=2`` (gloo): shards, chief-only writes, resume."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from .test_torchrun_collectives import HERE, run_torchrun


def load(out: Path, rank: int, steps: int) -> dict:
    return json.loads((out / f"rank{rank}-{steps}.json").read_text())


@pytest.mark.slow
def test_ddp_training_shards_resumes_and_loads_in_one_process(tmp_path):
    out, model_dir = tmp_path / "out", tmp_path / "model"
    out.mkdir()
    script = HERE / "ddp_train_worker.py"

    # 1. two ranks, 20 steps of 30 rows: each rank passes twice over its own 300-row shard
    run_torchrun(script, str(out), str(model_dir), "20")
    r0, r1 = load(out, 0, 20), load(out, 1, 20)
    assert (r0["world_size"], r1["world_size"]) == (2, 2)
    assert r0["global_step"] == r1["global_step"] == 20
    assert len(r0["seen"]) == len(r1["seen"]) == 20 * 30
    assert set(r0["seen"]) == set(range(0, 600, 2)) and set(r1["seen"]) == set(range(1, 600, 2))
    # evaluation gives the same result on every rank, and the model learned (label = x1 + x2 > 0)
    assert r0["metrics"] == r1["metrics"] and r0["metrics"]["accuracy"] > 0.85
    # ranks evaluate disjoint halves whose results are gathered, or (older estimators) each evaluates all rows
    evaluated = sorted(r0["evaluated"] + r1["evaluated"])
    assert evaluated == list(range(600)) or sorted(r0["evaluated"]) == sorted(r1["evaluated"]) == list(range(600))
    # only the chief wrote checkpoints and summaries
    assert sorted(p.name for p in model_dir.glob("model.ckpt-*")) == ["model.ckpt-10.pt", "model.ckpt-20.pt"]
    event_files = [p.name for p in model_dir.rglob("events.out.tfevents.*")]
    assert event_files and all(f".{r0['pid']}." in name for name in event_files), event_files

    # 2. resume: max_steps is absolute, training continues from step 20 on the same shards
    run_torchrun(script, str(out), str(model_dir), "30")
    r0b, r1b = load(out, 0, 30), load(out, 1, 30)
    assert r0b["global_step"] == r1b["global_step"] == 30
    assert len(r0b["seen"]) == len(r1b["seen"]) == 10 * 30
    assert set(r0b["seen"]) <= set(range(0, 600, 2)) and set(r1b["seen"]) <= set(range(1, 600, 2))

    # 3. the checkpoint loads in a plain single process and evaluates to the same metrics
    sys.path.insert(0, str(HERE))
    import ddp_train_worker as worker

    from estlab.estimators.estimator import Estimator
    from estlab.training.config import RunConfig

    single = Estimator(worker.model_fn, config=RunConfig(model_dir=str(model_dir), device="cpu"))
    metrics = single.evaluate(worker.frame(), label="label")
    assert metrics["global_step"] == 30
    assert metrics == pytest.approx(r0b["metrics"], rel=1e-6)


@pytest.mark.slow
def test_ddp_training_streams_parquet_row_groups_per_rank(tmp_path):
    sys.path.insert(0, str(HERE))
    import ddp_train_worker as worker

    out, model_dir, path = tmp_path / "out", tmp_path / "model", tmp_path / "data.parquet"
    out.mkdir()
    worker.frame().to_parquet(path, row_group_size=50)  # 12 row groups of 50 rows
    run_torchrun(HERE / "ddp_train_worker.py", str(out), str(model_dir), "20", str(path))
    r0, r1 = load(out, 0, 20), load(out, 1, 20)
    assert r0["global_step"] == r1["global_step"] == 20
    assert len(r0["seen"]) == len(r1["seen"]) == 20 * 30
    # each rank read 6 whole row groups of its own (300 rows, 2 epochs), none of the other rank's
    groups0, groups1 = {int(i) // 50 for i in r0["seen"]}, {int(i) // 50 for i in r1["seen"]}
    assert len(groups0) == len(groups1) == 6 and not groups0 & groups1
    assert set(r0["seen"]) == {i for g in groups0 for i in range(50 * g, 50 * g + 50)}
    assert r0["metrics"] == r1["metrics"] and r0["metrics"]["accuracy"] > 0.85
    # evaluation streamed from parquet: each rank its own row groups (gathered), or every rank all rows
    evaluated = sorted(r0["evaluated"] + r1["evaluated"])
    assert evaluated == list(range(600)) or sorted(r0["evaluated"]) == sorted(r1["evaluated"]) == list(range(600))
    assert sorted(p.name for p in model_dir.glob("model.ckpt-*")) == ["model.ckpt-10.pt", "model.ckpt-20.pt"]

    # resume from the chief's checkpoint: both ranks continue on their own row groups
    run_torchrun(HERE / "ddp_train_worker.py", str(out), str(model_dir), "30", str(path))
    r0b, r1b = load(out, 0, 30), load(out, 1, 30)
    assert r0b["global_step"] == r1b["global_step"] == 30
    assert len(r0b["seen"]) == len(r1b["seen"]) == 10 * 30
    assert {int(i) // 50 for i in r0b["seen"]} <= groups0 and {int(i) // 50 for i in r1b["seen"]} <= groups1
