"""estlab.viz: figures carry the right data (checked against sklearn and hand computation), no pyplot."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, roc_auc_score

from estlab import viz

PNG = b"\x89PNG"


def test_curves_frame_normalises_wide_long_and_split_inputs():
    wide = pd.DataFrame({"global_step": [1, 2], "loss": [0.9, 0.5], "tag": ["a", "b"]})
    long = viz.curves_frame(wide)
    assert long.values.tolist() == [["train", "loss", 1, 0.9], ["train", "loss", 2, 0.5]]
    both = viz.curves_frame({"train": {"step": [1], "loss": [1.0]}, "eval": {"step": [1], "accuracy": [0.7]}})
    assert sorted(map(tuple, both[["split", "metric"]].values.tolist())) == [("eval", "accuracy"), ("train", "loss")]
    with pytest.raises(ValueError, match="history: no step column"):
        viz.curves_frame({"loss": [1.0]})
    with pytest.raises(TypeError, match="history: expected a DataFrame"):
        viz.curves_frame(3)


def test_plot_curves_reads_history_objects_and_puts_loss_first():
    class History:
        def to_frame(self):
            return pd.DataFrame({"split": ["train", "train", "eval", "eval"], "metric": ["loss", "loss", "auc", "loss"],
                                 "step": [1, 2, 2, 2], "value": [0.9, 0.5, 0.8, 0.6]})

    fig = viz.plot_curves(History())
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "auc"]
    train, evaluation = fig.axes[0].get_lines()
    assert train.get_xdata().tolist() == [1, 2] and train.get_ydata().tolist() == [0.9, 0.5]
    assert evaluation.get_ydata().tolist() == [0.6]
    with pytest.raises(ValueError, match=r"metrics: \['rmse'\] not in the history"):
        viz.plot_curves(History(), metrics=["rmse"])
    assert viz.figure_to_png(fig).startswith(PNG)


def test_plot_comparison_marks_the_baseline():
    runs = {"a": {"step": [1, 2], "loss": [1.0, 0.5]}, "b": {"step": [1, 2], "loss": [0.8, 0.4]}}
    fig = viz.plot_comparison(runs, split="train", baseline="b")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert lines["b"].get_linestyle() == "--" and lines["a"].get_linestyle() == "-"
    assert lines["b"].get_ydata().tolist() == [0.8, 0.4]
    with pytest.raises(ValueError, match="baseline: 'c' is not one of the runs"):
        viz.plot_comparison(runs, baseline="c")


def test_roc_pr_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    score = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    fig = viz.plot_roc_pr(np.where(y == 1, ">50K", "<=50K"), score, pos_label=">50K")
    assert fig.axes[0].get_lines()[0].get_label() == f"AUC = {roc_auc_score(y, score):.3f}"
    multi = viz.plot_roc_pr(["a", "b", "c", "a"], np.eye(3)[[0, 1, 2, 0]], classes=["a", "b", "c"])
    assert [line.get_label() for line in multi.axes[0].get_lines()[:3]] == ["a: AUC = 1.000", "b: AUC = 1.000",
                                                                         "c: AUC = 1.000"]
    with pytest.raises(ValueError, match="y_true: 3 classes but y_score is 1-D"):
        viz.plot_roc_pr(["a", "b", "c"], [0.1, 0.2, 0.3])


def test_confusion_matrix_matches_sklearn_and_normalises():
    y_true = ["a", "b", "b", "c", "c", "c"]
    y_pred = ["a", "b", "c", "c", "c", "a"]
    fig = viz.plot_confusion(y_true, y_pred)
    assert fig.axes[0].images[0].get_array().tolist() == confusion_matrix(y_true, y_pred).tolist()
    normalised = viz.plot_confusion(y_true, y_pred, normalize="true").axes[0].images[0].get_array()
    assert normalised[2].tolist() == pytest.approx([1 / 3, 0.0, 2 / 3])
    with pytest.raises(ValueError, match="normalize: expected None, 'true', 'pred' or 'all', got 'rows'"):
        viz.plot_confusion(y_true, y_pred, normalize="rows")


def test_calibration_and_residuals():
    fig = viz.plot_calibration([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], n_bins=2)
    model = fig.axes[0].get_lines()[1]
    assert model.get_xdata().tolist() == pytest.approx([0.15, 0.85])
    assert model.get_ydata().tolist() == [0.0, 1.0]
    residuals = viz.plot_residuals([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 2.0])
    assert residuals.axes[1].get_title() == "Residuals (RMSE 1.000)"
    with pytest.raises(ValueError, match="y_pred: expected 4 values like y_true, got 3"):
        viz.plot_residuals([1, 2, 3, 4], [1, 2, 3])


def test_downsampler_keeps_capacity_and_exact_means():
    sampler = viz.Downsampler(capacity=8)
    for step in range(1, 1001):
        sampler.add(step, float(step))
    steps, values = sampler.points()
    assert len(steps) <= 8 + 1 and sampler.count == 1000
    assert steps[-1] == 1000
    assert values[0] == pytest.approx(np.mean(range(1, sampler.bucket_size + 1)))
    sampler.add(1001, float("nan"))
    assert sampler.count == 1000
    with pytest.raises(ValueError, match="capacity: must be an even number >= 4, got 5"):
        viz.Downsampler(5)


def test_live_chart_is_one_persistent_figure_updated_incrementally():
    chart = viz.LiveChart(capacity=100)
    figure, lines_before = chart.figure, None
    for step in range(1, 501):
        chart.add("train", "loss", step, 1.0 / step)
        if step % 100 == 0:
            chart.add("eval", "accuracy", step, step / 1000)
            chart.add("eval", "auc", step, 0.5)
            png = chart.render()
            lines = list(chart.loss_ax.get_lines())
            assert lines_before is None or lines == lines_before  # artists reused, not recreated
            lines_before = lines
    assert png.startswith(PNG) and chart.figure is figure
    assert chart.metric == "accuracy"  # preferred over auc
    assert len(chart.loss_ax.get_lines()[0].get_xdata()) <= 101
    assert chart.render_count == 5 and chart.render_seconds > 0
    assert "matplotlib.pyplot" not in sys.modules
    other = {("train", "loss"): viz.Downsampler(4)}
    other[("train", "loss")].add(1, 0.5)
    chart.attach(other)  # another run: same figure, only its lines
    chart.render()
    assert chart.figure is figure and chart.metric is None
    assert [list(line.get_xdata()) for line in chart.loss_ax.get_lines()] == [[1]]
    assert chart.metric_ax.get_lines() == []


def test_live_chart_rescales_after_a_flat_first_render():
    """The first render pins a minimum y span; later points must still widen the axis (regression test)."""
    from estlab.viz.live import LiveChart

    chart = LiveChart()
    chart.add("train", "loss", 1, 0.67)
    chart.render()
    chart.add("train", "loss", 100, 0.40)
    chart.add("train", "loss", 200, 0.34)
    chart.render()
    low, high = chart.loss_ax.get_ylim()
    assert low < 0.34 and high > 0.67


def test_live_chart_picks_the_metric_the_heads_prefer_and_draws_attached_curves():
    from estlab.viz.live import metric_rank, preferred_first

    assert preferred_first(["loss", "average_loss", "auc", "accuracy", "precision"]) == [
        "accuracy", "auc", "average_loss"]
    assert preferred_first(["average_loss", "mae", "rmse"]) == ["rmse", "mae", "average_loss"]
    assert metric_rank("precision") == 99

    class Fixed:
        def __init__(self, steps, values):
            self.steps, self.values = steps, values

        def points(self):
            return self.steps, self.values

    chart = viz.LiveChart()
    chart.attach({("train", "loss"): Fixed([1, 2], [0.9, 0.7]), ("eval", "average_loss"): Fixed([2], [0.8]),
                  ("eval", "rmse"): Fixed([2], [1.5])})
    assert chart.render().startswith(PNG)
    assert chart.metric == "rmse"
    assert [list(line.get_xdata()) for line in chart.metric_ax.get_lines()] == [[2]]
    with pytest.raises(TypeError, match=r"add: the attached curve \('train', 'loss'\) is read-only"):
        chart.add("train", "loss", 3, 0.5)


def test_roc_pr_of_several_runs_share_the_axes():
    from estlab.viz import plot_roc_pr_runs

    y = ["no", "yes", "yes", "no", "yes"]
    fig = plot_roc_pr_runs({"a": (y, [0.1, 0.9, 0.8, 0.2, 0.7]),
                            "b": (y, [[0.5, 0.5], [0.4, 0.6], [0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])})
    roc, pr = fig.axes
    assert [line.get_label() for line in roc.get_lines()] == ["a (AUC 1.000)", "b (AUC 0.500)", "_child2"]
    assert [line.get_label() for line in pr.get_lines()] == ["a (AP 1.000)", "b (AP 0.756)"]
    assert roc.get_lines()[1].get_color() == pr.get_lines()[1].get_color()  # one colour per run
    with pytest.raises(ValueError, match=r"runs\['c'\]: expected 1-D scores or \(n, 2\) probabilities"):
        plot_roc_pr_runs({"c": (y, [[0.2, 0.3, 0.5]] * 5)})


def test_theme_figure_makes_a_figure_readable_on_a_dark_page():
    from estlab.viz import figure_to_png, plot_roc_pr, theme_figure
    from estlab.viz._figure import DARK_TEXT

    fig = plot_roc_pr([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])
    light = figure_to_png(fig)
    assert theme_figure(fig, dark=False) is fig and figure_to_png(fig) == light  # light: unchanged
    theme_figure(fig, dark=True)
    roc = fig.axes[0]
    assert fig.patch.get_alpha() == 0.0 and roc.get_facecolor()[3] == 0.0
    assert roc.title.get_color() == roc.xaxis.label.get_color() == DARK_TEXT
    assert all(t.get_color() == DARK_TEXT for t in roc.get_legend().get_texts())
    assert {label.get_color() for label in roc.get_xticklabels()} == {DARK_TEXT}
