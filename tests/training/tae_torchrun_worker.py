"""``train_and_evaluate`` run alone or under ``torchrun``: used by test_torchrun_train_and_evaluate.py.

``python tae_torchrun_worker.py OUT_DIR MODEL_DIR MODE`` trains a small DNNClassifier for ``MAX_STEPS`` steps
(checkpoints every ``CHECKPOINT_STEPS``) with ``train_and_evaluate`` and writes
``OUT_DIR/rank<r>.json``: every ``evaluate`` event this rank's bus carried (step and metrics), the final
result and the export results. ``MODE`` is ``throttle`` (checkpoint-driven evaluation, ``throttle_secs=0``)
or ``exporter`` (``every_n_steps=EVERY_N_STEPS`` with a ``LatestExporter``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from estlab import estimator as est_api
from estlab import export
from estlab import feature_column as fc
from estlab.training import distributed
from estlab.training.events import Event, Listener

MAX_STEPS = 40
CHECKPOINT_STEPS = 10
EVERY_N_STEPS = 10
COLUMNS = [
    fc.numeric_column("x1"),
    fc.numeric_column("x2"),
    fc.indicator_column(fc.categorical_column_with_vocabulary_list("color", ["red", "green", "blue"])),
]


def frame(n_rows: int = 600, seed: int = 0) -> pd.DataFrame:
    """Features ``x1``, ``x2``, ``color`` and ``label = x1 + x2 > 0``."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n_rows), rng.normal(size=n_rows)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "color": rng.choice(["red", "green", "blue"], size=n_rows),
            "label": (x1 + x2 > 0).astype(np.int64),
        }
    )


def estimator(model_dir: str) -> est_api.DNNClassifier:
    """The estimator every rank (and the test, reading the result back) builds."""
    config = est_api.RunConfig(
        model_dir=model_dir,
        random_seed=0,
        device="cpu",
        save_checkpoints_steps=CHECKPOINT_STEPS,
        log_step_count_steps=CHECKPOINT_STEPS,
    )
    return est_api.DNNClassifier([8], COLUMNS, config=config)


class EvaluationRecorder(Listener):
    """Keeps every ``evaluate`` event of the run (step and metrics)."""

    def __init__(self) -> None:
        self.evaluations: list[dict] = []

    def on_evaluate(self, event: Event) -> None:
        self.evaluations.append({"global_step": event["global_step"], "metrics": event["metrics"]})


def main(out_dir: str, model_dir: str, mode: str) -> None:
    # torchrun starts each rank in its own session: the test kills these pids if the run hangs
    Path(out_dir, f"pid{os.environ.get('RANK', '0')}").write_text(str(os.getpid()))
    train, test = frame(), frame(200, seed=1)
    features = ["x1", "x2", "color"]
    train_input = est_api.inputs.pandas_input_fn(
        train[features], train["label"], batch_size=30, num_epochs=None, shuffle=True
    )
    eval_input = est_api.inputs.pandas_input_fn(test[features], test["label"], batch_size=50, shuffle=False)
    recorder = EvaluationRecorder()
    if mode == "throttle":
        eval_spec = est_api.EvalSpec(eval_input, throttle_secs=0)
    elif mode == "exporter":
        eval_spec = est_api.EvalSpec(
            eval_input,
            every_n_steps=EVERY_N_STEPS,
            exporters=[est_api.LatestExporter("latest", exports_to_keep=None)],
        )
    else:
        raise ValueError(f"MODE must be 'throttle' or 'exporter', got {mode!r}")
    model = estimator(model_dir)
    result, exports = est_api.train_and_evaluate(
        model, est_api.TrainSpec(train_input, max_steps=MAX_STEPS, hooks=[recorder]), eval_spec
    )
    rank = distributed.get_rank()
    record = {
        "rank": rank,
        "world_size": distributed.get_world_size(),
        "evaluations": recorder.evaluations,
        "result": result,
        "exports": exports,
        "global_step": model.global_step,
    }
    if mode == "exporter" and distributed.is_chief():
        # as an exporter of an older checkpoint does, on the chief alone: its serving model is not DDP-wrapped
        older = str(Path(model_dir, f"model.ckpt-{EVERY_N_STEPS}.pt"))
        record["older_export"] = export.export_saved_model(
            model, Path(out_dir, "older"), checkpoint_path=older
        )
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(record))
    model.close()  # frees the DDP wrapper before its process group goes
    distributed.barrier()
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
