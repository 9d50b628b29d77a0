"""Cost of the lab's live drawing against training time, and time from clicking Train to the first curve.

Two runs of the same real estimator (``dnn_classifier``, hidden units 64-32, Adult, one process):

* **plain**: ``EstimatorJob.run`` with a no-op ``emit`` (training, periodic evaluation, predictions;
  no widgets, no UI thread), timed before and after the lab run; the faster one is the reference.
* **lab**: a ``Lab`` with every view attached (training panel, runs view); the Train button is clicked
  and the run is followed live: the UI thread drains the events, coalesces them, renders the curve PNG
  and the leaderboard at most 5 times a second.

Reported: wall time of both, the UI thread's drawing seconds (``RunManager.render_seconds``) as a share of
the lab run's wall time (goal < 5 %; it includes the one-off ROC/PR/confusion figures drawn when the run ends),
the live curve chart's own share, the wall-time overhead of the lab run against plain, the number of
renders and chart redraws, and the seconds from the click to the first curve point on screen
(``TrainingPanel.first_chart_at - clicked_at``).

Usage::

    python benchmarks/bench_drawing.py                    # 3000 steps
    python benchmarks/bench_drawing.py --steps 500 --json drawing.json

Example
-------
>>> result = measure(steps=50)      # doctest: +SKIP
>>> result["draw_share"] < 0.05      # doctest: +SKIP
True
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def measure(steps: int = 3000, eval_every: int = 500, batch_size: int = 256) -> dict[str, float]:
    """Run plain and lab training once each; return the figures (seconds and ratios)."""
    os.environ.pop("ESTLAB_MAX_STEPS", None)
    from estlab.datasets import load_adult
    from estlab.runner.job import EstimatorJob
    from estlab.widgets import Lab, RunSpec

    train, test = load_adult()
    lab = Lab(train, test, label="income_bracket", model_dir_root=tempfile.mkdtemp(prefix="bench-drawing-"),
              batch_size=batch_size)
    params = {"hidden_units": [64, 32]}
    spec = RunSpec.create("dnn_classifier", params, feature_columns=lab.columns.feature_columns,
                          linear_columns=lab.columns.linear_columns, label="income_bracket", max_steps=steps,
                          eval_every=eval_every)

    def plain_run() -> float:
        job = EstimatorJob(spec, tempfile.mkdtemp(prefix="bench-plain-"), train, test, "classification",
                           batch_size=batch_size)
        begin = time.perf_counter()
        job.run(lambda event: None)
        return time.perf_counter() - begin

    plain_before = plain_run()

    lab.queue("dnn_classifier", **params)
    lab.picker.max_steps.value = steps
    lab.picker.eval_every.value = eval_every
    render_before = lab.manager.render_seconds
    start = time.perf_counter()
    lab.training.click_train()
    state = lab.wait(timeout=3600)
    lab_wall = time.perf_counter() - start
    draw = lab.manager.render_seconds - render_before
    plain = min(plain_before, plain_run())  # before and after: the faster one is the reference
    result = {
        "steps": steps,
        "plain_wall_s": round(plain, 3),
        "lab_wall_s": round(lab_wall, 3),
        "run_wall_s": round(state.wall_time or 0.0, 3),
        "draw_s": round(draw, 3),
        "draw_share": round(draw / lab_wall, 4),
        "live_chart_share": round(lab.training.chart.render_seconds / lab_wall, 4),
        "lab_overhead": round(lab_wall / plain - 1, 4),
        "renders": lab.manager.render_count,
        "chart_renders": lab.training.chart.render_count,
        "chart_mean_ms": round(1000 * lab.training.chart.render_seconds / max(lab.training.chart.render_count, 1), 2),
        "click_to_first_curve_s": round(lab.training.first_chart_at - lab.training.clicked_at, 3),
        "status": state.status,
        "final_step": state.global_step,
    }
    lab.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    result = measure(args.steps, args.eval_every)
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    print(f"drawing share {result['draw_share']:.2%} of the lab run (goal < 5%)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
