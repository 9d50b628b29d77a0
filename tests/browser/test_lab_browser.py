"""The lab notebook in a real JupyterLab + headless Chromium: run it, train, watch curves, stop a run."""

from __future__ import annotations

import secrets
import time

import pytest

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


LAST_STEPS = ("JSON.parse(document.querySelector('.estlab-lab .estlab-training .estlab-chart')"
              "?.dataset.lastSteps || '{}')")
EVAL_EVERY = 100  # the notebook's lab.picker.eval_every


def _chart_lags(page, run: str, samples: int) -> list[int]:
    """``run step - chart's last step`` read together, ``samples`` times while the run trains."""
    lags = []
    for _ in range(samples):
        page.wait_for_timeout(700)
        lag = page.evaluate(
            "(run) => { const s = document.querySelector('.estlab-lab .estlab-stats').textContent;"
            " const m = s.match(/step ([\\d,]+)/); const step = m ? parseInt(m[1].replace(/,/g, '')) : 0;"
            f" const last = {LAST_STEPS}[run]; return last === undefined ? step : step - last; }}", run)
        lags.append(lag)
    return lags


def _tab(lab, title: str) -> None:
    lab.locator(".lm-TabBar-tab", has_text=title).first.click()


def _shot(locator, name: str) -> None:
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(SCREENSHOTS / name))


@pytest.mark.parametrize("jupyter", [{"ESTLAB_MAX_STEPS": ""}], indirect=True)
def test_lab_notebook_in_jupyterlab(jupyter, page):
    """No step cap here (the notebook's own 200 steps), so the stopped run really is stopped mid-way."""
    start = time.monotonic()
    page.set_default_timeout(60_000)
    page.goto(f"{jupyter.base}/lab/workspaces/w{secrets.token_hex(4)}/tree/lab.ipynb?reset&token={jupyter.token}")
    jupyter.wait_kernel_idle("lab.ipynb")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    lab = page.locator(".estlab-lab").first
    lab.wait_for()
    page.locator(".estlab-tensorboard iframe").first.wait_for(state="attached", timeout=120_000)
    jupyter.wait_kernel_idle("lab.ipynb")
    board = lab.locator(".estlab-leaderboard")
    assert board.text_content().count("finished") == 4
    page.wait_for_function("() => document.querySelector('.estlab-lab .estlab-datacheck')"
                           ".textContent.includes('Data check for income_bracket')")
    assert "blocking" not in lab.locator(".estlab-datacheck").text_content()
    _shot(lab, "01-lab-columns.png")

    # Estimators tab: one linear model, 150 steps.
    _tab(lab, "2 · Estimators")
    lab.locator(".estlab-clear").click()
    lab.locator(".estlab-estimator select").select_option(label="linear_classifier (LinearClassifier)")
    lab.locator(".estlab-add").click()
    page.wait_for_function("() => document.querySelector('.estlab-lab .estlab-queue-list select').options.length === 1")
    # 200 steps would repeat the notebook's finished linear run on the same data (same fingerprint): the lab
    # would show that run instead of training again. 150 steps is a new configuration, hence a new run.
    steps = lab.locator(".estlab-max-steps input")
    steps.click()
    steps.press("Control+A")
    steps.press_sequentially("150")
    steps.press("Tab")
    page.wait_for_function("() => document.querySelector('.estlab-lab .estlab-plan').textContent"
                           ".includes('× 150 steps')", timeout=10_000)
    _shot(lab, "02-lab-estimators.png")

    # Train tab: click Train; the browser draws the streamed points (no image from the kernel).
    _tab(lab, "3 · Train")
    lab.locator(".estlab-train").click()
    page.wait_for_function(f"() => {LAST_STEPS}['linear_classifier-5'] === 150")
    page.wait_for_function(
        "() => /linear_classifier-5[\\s\\S]*finished/.test("
        "document.querySelector('.estlab-lab .estlab-leaderboard').textContent)")
    assert "linear_classifier-5" in lab.locator(".estlab-run-header").text_content()
    assert lab.locator(".estlab-training .estlab-chart canvas").count() >= 2  # loss and accuracy panels
    assert lab.locator(".estlab-training img").count() == 0
    _shot(lab, "03-lab-trained.png")

    # A second run, long this time: Stop ends it after its current step.
    _tab(lab, "2 · Estimators")
    steps.click()
    steps.press("Control+A")
    steps.press_sequentially("100000")
    steps.press("Tab")  # a number box commits on change (blur)
    page.wait_for_function("() => document.querySelector('.estlab-lab .estlab-plan').textContent"
                           ".includes('× 100,000 steps')", timeout=10_000)
    _tab(lab, "3 · Train")
    lab.locator(".estlab-train").click()
    header = lab.locator(".estlab-run-header")
    page.wait_for_function(
        "() => { const h = document.querySelector('.estlab-lab .estlab-run-header').textContent;"
        " const s = document.querySelector('.estlab-lab .estlab-stats').textContent;"
        " const m = s.match(/step ([\\d,]+)/); return h.includes('linear_classifier-6') && h.includes('running')"
        " && m && parseInt(m[1].replace(/,/g, '')) > 50; }")
    lags = _chart_lags(page, "linear_classifier-6", samples=5)
    assert max(lags) <= EVAL_EVERY, lags  # the chart follows the run within one evaluation interval
    _shot(lab, "04a-lab-live-chart.png")
    stop = lab.locator(".estlab-stop")
    assert stop.is_enabled()
    stop.click()
    page.wait_for_function(
        "() => document.querySelector('.estlab-lab .estlab-run-header').textContent.includes('stopped')",
        timeout=20_000)
    # the message is its own widget update: wait for it too (it can arrive after the header's)
    page.wait_for_function(
        "() => document.querySelector('.estlab-lab .estlab-message').textContent.includes('stopped at step')",
        timeout=20_000)
    assert "linear_classifier-6" in header.text_content()
    _shot(lab, "04-lab-stopped.png")

    _tab(lab, "4 · Runs")
    page.wait_for_function(
        "() => /linear_classifier-6[\\s\\S]*stopped/.test("
        "document.querySelector('.estlab-lab .estlab-leaderboard').textContent)")
    _shot(lab, "05-lab-runs.png")
    _shot(page.locator(".estlab-tensorboard").last, "06-tensorboard.png")
    assert time.monotonic() - start < 150
