"""Issue 12's "done when", in a real browser: the data check before Train, a live chart that keeps up with the run
(also beside a CPU hog), and Stop all — in JupyterLab and in Notebook 7, served by one Notebook 7 server (which
serves JupyterLab's ``/lab`` too) and one headless Chromium for the whole module.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator

import nbformat
import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, JupyterServer, element_shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVAL_EVERY = 100
FRAME = """\
import tempfile

import numpy as np
import pandas as pd

from estlab.widgets import Lab

rng = np.random.default_rng(0)
n = 2600
x1, x2 = rng.normal(size=n), rng.normal(size=n)
color = rng.choice(["red", "green", "blue"], size=n)
y = (x1 + (color == "red") + rng.normal(size=n) * 0.7 > 0.3).astype(int)
score = (x1 - x2 + rng.normal(size=n) > 0).astype(float)
score[rng.random(n) < 0.05] = np.nan  # a second label, with missing values
decision = np.where(y == 1, "approved", "denied")  # a planted leak: known only once y is
frame = pd.DataFrame({"x1": x1, "x2": x2, "color": color, "decision": decision, "y": y, "score": score})
"""
QUEUE = f"""
lab.queue("linear_classifier")
lab.queue("dnn_classifier", hidden_units=[8])
lab.picker.max_steps.value = 1_000_000  # Stop all ends them
lab.picker.eval_every.value = {EVAL_EVERY}
lab"""
# JupyterLab: the eval frame lacks x2, and the lab opens on the label with missing values
LAB_CELL = (
    FRAME
    + """\
train, test = frame.iloc[:2000], frame.iloc[2000:].drop(columns=["x2"])
lab = Lab(train, test, label="score", experiment=tempfile.mkdtemp(prefix="estlab-done-"), workers=2,
          batch_size=32)"""
    + QUEUE
)
# Notebook 7: clean frames; only the leak is left for the check to flag
NB7_CELL = (
    FRAME
    + """\
train, test = frame.iloc[:2000].drop(columns=["score"]), frame.iloc[2000:].drop(columns=["score"])
lab = Lab(train, test, label="y", experiment=tempfile.mkdtemp(prefix="estlab-done7-"), workers=2,
          batch_size=32)"""
    + QUEUE
)

CHECK_TEXT = "() => document.querySelector('.estlab-lab .estlab-datacheck').textContent"
LAST_STEPS = (
    "JSON.parse(document.querySelector('.estlab-lab .estlab-training .estlab-chart')"
    "?.dataset.lastSteps || '{}')"
)
# the shown run, its step in the Train panel's text and the chart's last step for it, read in one go
SAMPLE = (
    "() => { const lab = document.querySelector('.estlab-lab');"
    " const header = lab.querySelector('.estlab-run-header').textContent;"
    " const m = lab.querySelector('.estlab-stats').textContent.match(/step ([\\d,]+)/);"
    " const run = (header.match(/^\\s*(\\S+)/) || [])[1];"
    f" return {{run, header, step: m ? parseInt(m[1].replace(/,/g, '')) : null, last: {LAST_STEPS}[run] ?? null}};"
    " }"
)


def _write_notebook(path, source: str) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(path))


@pytest.fixture(scope="module")
def server(sandbox, tmp_path_factory) -> Iterator[JupyterServer]:
    """One Notebook 7 server for the module: ``/notebooks/...`` is Notebook 7, ``/lab/...`` JupyterLab."""
    root = tmp_path_factory.mktemp("done-root")
    _write_notebook(root / "done_lab.ipynb", LAB_CELL)
    _write_notebook(root / "done_nb7.ipynb", NB7_CELL)
    env = {k: v for k, v in sandbox.items() if k != "ESTLAB_MAX_STEPS"}
    jupyter = JupyterServer(root, env, root.parent / "done-jupyter.log", app="notebook")
    jupyter.start()
    yield jupyter
    jupyter.stop()


@pytest.fixture(scope="module")
def browser(sandbox, tmp_path_factory):
    """One headless Chromium (persistent context, fresh profile) for the module."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("done-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
            env=sandbox,
        )
        yield context
        context.close()


@pytest.fixture
def tab(browser, server, request):
    """A new page of the module's browser; FAILED-done.png and the server log's tail on failure."""
    page = browser.new_page()
    page.set_default_timeout(90_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        try:
            page.screenshot(path=str(SCREENSHOTS / "FAILED-done.png"))
        except Exception:
            pass
        (SCREENSHOTS / "FAILED-done-jupyter.log").write_text(server.log_tail(200))
    page.close()


class CpuHog:
    """Two busy processes (``yes > /dev/null``), ended by pid."""

    def __init__(self, count: int = 2) -> None:
        self.procs = [
            subprocess.Popen(["yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(count)
        ]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        assert all(proc.returncode is not None for proc in self.procs)


def _tab(lab, title: str) -> None:
    lab.locator(".lm-TabBar-tab", has_text=title).first.click()


def _shot(locator, name: str) -> None:
    element_shot(locator, SCREENSHOTS / name)


def _open(page, server: JupyterServer, url: str, notebook: str):
    page.goto(url)
    server.wait_kernel_idle(notebook)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    lab = page.locator(".estlab-lab").first
    lab.wait_for(timeout=120_000)
    server.wait_kernel_idle(notebook, timeout=120)
    return lab


def _wait_running(page, steps: int) -> None:
    """Until two runs are running and the shown one is past ``steps``."""
    page.wait_for_function(
        "(steps) => { const lab = document.querySelector('.estlab-lab');"
        " const opts = [...lab.querySelectorAll('.estlab-run-choice select option')]"
        ".map(o => o.textContent.replace(/\\u00a0/g, ' '));"
        " const m = lab.querySelector('.estlab-stats').textContent.match(/^step ([\\d,]+)/);"
        " return opts.filter(o => o.includes('· running')).length === 2"
        " && m && parseInt(m[1].replace(/,/g, '')) > steps; }",
        arg=steps,
        timeout=180_000,
    )


def _lags(page, samples: int = 5) -> list[tuple[str, int, int]]:
    """``(run, its step in the Train panel, the chart's last step for it)`` sampled while it trains."""
    out = []
    for _ in range(samples):
        page.wait_for_timeout(700)  # sampling interval, not a wait for a condition
        sample = page.evaluate(SAMPLE)
        assert "running" in sample["header"], sample
        assert sample["step"] is not None and sample["last"] is not None, sample
        out.append((sample["run"], sample["step"], sample["last"]))
    return out


def _assert_follows(samples: list[tuple[str, int, int]], load: float | None = None) -> None:
    """The chart never trails the Train panel's step by more than one evaluation interval, and it moves.

    The two are separate widget updates, so a sample can fall between them: the chart may then be ahead of a
    text one update old (a negative lag), never of the run itself (its points are steps it has done).
    """
    assert all(step - last <= EVAL_EVERY for _, step, last in samples), (samples, load)
    assert samples[-1][2] > samples[0][2], (samples, load)  # new points arrived while sampling


def _check_live_chart(page, lab, shot: str) -> None:
    """The chart's last point is within one evaluation interval of the run's step, quiet and beside a CPU hog."""
    _wait_running(page, 3 * EVAL_EVERY)
    quiet = _lags(page)
    _assert_follows(quiet)
    hog = CpuHog()
    try:
        start = page.evaluate(SAMPLE)["step"]
        _wait_running(page, start + 3 * EVAL_EVERY)  # the runs went on under load first
        loaded = _lags(page)
        load = os.getloadavg()[0]
        _assert_follows(loaded, load)
        print(
            f"lags quiet {[s - la for _, s, la in quiet]}, beside the hog {[s - la for _, s, la in loaded]}"
            f" (load average {load:.1f})"
        )
        _shot(lab, shot)
    finally:
        hog.stop()


def _runs(lab) -> list[str]:
    return [
        o.replace("\xa0", " ")
        for o in lab.locator(".estlab-run-choice select option").all_text_contents()
        if "·" in o
    ]


def _check_stop_all(page, lab, shot: str, runs_shot: str) -> None:
    """One click on Stop all stops both running runs; their final state is shown."""
    running = [o.split(" · ")[0] for o in _runs(lab) if o.endswith("· running")]
    assert len(running) == 2, _runs(lab)
    stop_all = lab.locator(".estlab-stop-all")
    assert stop_all.is_enabled()
    stop_all.click()
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('.estlab-lab .estlab-run-choice select option')]"
        ".filter(o => o.textContent.replace(/\\u00a0/g, ' ').includes('· stopped')).length === n",
        arg=len(running),
        timeout=60_000,
    )
    assert sorted(_runs(lab)) == sorted(f"{run} · stopped" for run in running)
    page.wait_for_function("() => document.querySelector('.estlab-lab .estlab-stop-all').disabled")
    # header and stats are updates of their own (after the selector's): wait for them too
    page.wait_for_function(
        "() => document.querySelector('.estlab-lab .estlab-run-header').textContent.includes('stopped')"
        " && document.querySelector('.estlab-lab .estlab-stats').textContent.startsWith('stopped at step')"
    )
    header = lab.locator(".estlab-run-header").text_content()
    shown = header.split()[0]
    assert shown in running and "stopped" in header, header
    stats = lab.locator(".estlab-stats").text_content()
    assert stats.startswith("stopped at step"), stats
    final = int(stats.split("stopped at step")[1].split("/")[0].replace(",", ""))
    # the chart's last point of the shown run is its final step (the final evaluation at the stop)
    page.wait_for_function(f"() => {LAST_STEPS}[{shown!r}] === {final}", timeout=30_000)
    assert lab.locator(".estlab-stop").is_disabled()
    # the message line says what became of both runs, not only the last one's stop
    page.wait_for_function(
        "(runs) => { const t = document.querySelector('.estlab-lab .estlab-message').textContent;"
        " return t.includes('stop all: stopped 2 runs (') && runs.every(r => t.includes(r + ' at step ')); }",
        arg=running,
        timeout=30_000,
    )
    _shot(lab, shot)
    _tab(lab, "4 · Runs")
    board = lab.locator(".estlab-leaderboard")
    page.wait_for_function(
        "(runs) => { const t = document.querySelector('.estlab-lab .estlab-leaderboard').textContent;"
        " return (t.match(/stopped/g) || []).length === runs.length && runs.every(r => t.includes(r)); }",
        arg=running,
    )
    assert "running" not in board.text_content()
    # the overlay (hidden while the runs trained) shows both runs' curves once the tab is open
    page.wait_for_function(
        "(runs) => { const s = JSON.parse(document.querySelector('.estlab-lab .estlab-overlay')?.dataset.lastSteps"
        " || '{}'); return runs.every(r => s[r] > 0); }",
        arg=running,
        timeout=30_000,
    )
    # a stopped run's diagnostics: its predictions were written before its end was reported, so the
    # picture is there (never "no predictions"), and it is the picture of the run chosen in the dropdown
    page.wait_for_function(
        "() => { const note = document.querySelector('.estlab-lab .estlab-diag-run-name');"
        " const img = document.querySelector('.estlab-lab .estlab-diagnostics');"
        " return note && note.dataset.run === document.querySelector('.estlab-lab .estlab-diag-run select').value"
        " && img && getComputedStyle(img).display !== 'none' && img.naturalWidth > 0; }",
        timeout=30_000,
    )
    diagnosed = lab.locator(".estlab-diag-run select").input_value()
    assert diagnosed in running, (diagnosed, running)
    assert "no predictions" not in lab.locator(".estlab-runs").text_content()
    _shot(lab, runs_shot)


def test_data_check_live_chart_and_stop_all_in_jupyterlab(server, tab):
    page = tab
    url = (
        f"{server.base}/lab/workspaces/w{secrets.token_hex(4)}/tree/done_lab.ipynb?reset&token={server.token}"
    )
    lab = _open(page, server, url, "done_lab.ipynb")

    # the data check, before any Train: NaN labels (train and eval) and the eval frame's missing column
    page.wait_for_function(f"() => ({CHECK_TEXT})().includes('Data check for score: 3 blocking problems')")
    errors = [
        t.replace("\xa0", " ")
        for t in lab.locator(".estlab-check-table tr.estlab-check-error").all_text_contents()
    ]
    assert len(errors) == 3, errors
    assert "108 of 2,000 train rows (5.4%) have no label" in errors[0], errors
    assert "21 of 600 eval rows (3.5%) have no label" in errors[1], errors
    assert "missing_in_evalx2the eval frame has no such column" in errors[2], errors
    _shot(lab, "30-done-datacheck-nan-labels.png")

    # Train is refused, in the UI's words, and nothing is queued
    _tab(lab, "3 · Train")
    lab.locator(".estlab-train").click()
    page.wait_for_function(
        "() => document.querySelector('.estlab-lab .estlab-train-note').textContent"
        ".includes('cannot train: the data check found 3 blocking problems')"
    )
    assert _runs(lab) == []
    _shot(lab, "31-done-train-refused.png")

    # the other label: the leak is flagged (a warning), the missing column still blocks
    _tab(lab, "1 · Columns")
    lab.locator(".estlab-label select").select_option(label="y")
    page.wait_for_function(f"() => ({CHECK_TEXT})().includes('Data check for y: 1 blocking problem ')")
    warning = lab.locator(".estlab-check-table tr.estlab-check-warning").all_text_contents()
    assert len(warning) == 1 and "leakagedecisionalone predicts 'y' with accuracy 1.000" in warning[0], (
        warning
    )
    assert "missing_in_evalx2" in lab.locator(".estlab-check-table tr.estlab-check-error").text_content()
    _shot(lab, "32-done-datacheck-leak.png")

    # the fix, in the page: drop the leaking column and the one the eval frame lacks
    lab.locator(".estlab-transform-decision select").select_option(label="drop")
    lab.locator(".estlab-transform-x2 select").select_option(label="drop")
    page.wait_for_function(f"() => ({CHECK_TEXT})().includes('Data check for y: no problems found.')")

    _tab(lab, "3 · Train")
    lab.locator(".estlab-train").click()
    _check_live_chart(page, lab, "33-done-live-chart-cpu-hog.png")
    _check_stop_all(page, lab, "34-done-stop-all.png", "35-done-stop-all-runs.png")


def test_data_check_live_chart_and_stop_all_in_notebook_7(server, tab):
    page = tab
    lab = _open(
        page, server, f"{server.base}/notebooks/done_nb7.ipynb?token={server.token}", "done_nb7.ipynb"
    )
    page.wait_for_function(f"() => ({CHECK_TEXT})().includes('Data check for y: 1 warning ')")
    assert "blocking" not in lab.locator(".estlab-datacheck").text_content()
    warning = lab.locator(".estlab-check-table tr.estlab-check-warning").all_text_contents()
    assert len(warning) == 1 and "leakagedecision" in warning[0], warning
    _shot(lab, "36-notebook7-datacheck-leak.png")
    lab.locator(".estlab-transform-decision select").select_option(label="drop")
    page.wait_for_function(f"() => ({CHECK_TEXT})().includes('Data check for y: no problems found.')")
    _tab(lab, "3 · Train")
    lab.locator(".estlab-train").click()
    _check_live_chart(page, lab, "37-notebook7-live-chart-cpu-hog.png")
    _check_stop_all(page, lab, "38-notebook7-stop-all.png", "39-notebook7-stop-all-runs.png")
