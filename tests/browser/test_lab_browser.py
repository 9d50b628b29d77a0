"""The lab notebook in a real JupyterLab + headless Chromium: run it, train, watch curves, stop a run."""

from __future__ import annotations

import secrets
import time

import pytest

from .conftest import SCREENSHOTS, element_shot

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


# every "name value" item of the Train tab's stats line is on one line (none broken between its words)
STATS_ITEMS_WHOLE = ("() => [...document.querySelectorAll('.estlab-lab .estlab-stats span')]"
                     ".filter(s => s.style.whiteSpace === 'nowrap').every(s => s.getClientRects().length === 1)")
# the picture under Diagnostics belongs to the run chosen in its dropdown
DIAG_IS_SELECTED = ("() => document.querySelector('.estlab-lab .estlab-diag-run-name')?.dataset.run === "
                    "document.querySelector('.estlab-lab .estlab-diag-run select').value")
# the leaderboard's last column is visible, or its box scrolls to it (never clipped away)
TABLE_REACHABLE = ("() => { const box = document.querySelector('.estlab-lab .estlab-leaderboard');"
                   " const th = [...box.querySelectorAll('th')].pop(); const b = box.getBoundingClientRect();"
                   " return th.getBoundingClientRect().right <= b.right + 1"
                   " || (box.scrollWidth > box.clientWidth && getComputedStyle(box).overflowX === 'auto'); }")


def _corner_alpha(page, selector: str) -> int:
    """Alpha (0..255) of the top-left pixel of the picture shown by ``selector`` (an <img>)."""
    return page.evaluate(
        "(sel) => { const img = document.querySelector(sel); const c = document.createElement('canvas');"
        " c.width = img.naturalWidth; c.height = img.naturalHeight; const g = c.getContext('2d');"
        " g.drawImage(img, 0, 0); return g.getImageData(0, 0, 1, 1).data[3]; }", selector)


def _shot(locator, name: str) -> None:
    element_shot(locator, SCREENSHOTS / name)


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
    # tensorboard.notebook's display code draws the frame (in an Output widget), its address built in the browser
    page.locator(".estlab-tensorboard-frame iframe").first.wait_for(state="attached", timeout=120_000)
    src = page.evaluate("() => document.querySelector('.estlab-tensorboard-frame iframe').src")
    link = page.locator(".estlab-tensorboard a.estlab-tensorboard-link").first.get_attribute("href")
    assert src == link, (src, link)  # http://127.0.0.1:<port>/: the page's own host, TensorBoard's port
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
    set_button = page.evaluate("() => { const b = document.querySelector('.estlab-lab .estlab-sweep-set');"
                               " return [b.textContent.trim(), b.scrollWidth <= b.clientWidth]; }")
    assert set_button == ["Set", True], set_button  # the whole word, not "S…"
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
    # the note of the Train click named the run while it waited; it started and finished: the note went
    page.wait_for_function("() => !document.querySelector('.estlab-lab .estlab-train-note').textContent"
                           ".includes('queued')")
    assert page.evaluate(STATS_ITEMS_WHOLE)
    # the notebook's boosted trees run is one full-batch fit: a level across the panel, not a dot at step 1
    one_fit = page.evaluate("() => JSON.parse(document.querySelector('.estlab-lab .estlab-training .estlab-chart')"
                            "?.dataset.oneFit || '[]')")
    assert one_fit == ["boosted_trees_classifier-4"], one_fit
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
    assert "queued" not in lab.locator(".estlab-train-note").text_content()
    _shot(lab, "04-lab-stopped.png")

    _tab(lab, "4 · Runs")
    page.wait_for_function(
        "() => /linear_classifier-6[\\s\\S]*stopped/.test("
        "document.querySelector('.estlab-lab .estlab-leaderboard').textContent)")
    lab.locator(".estlab-diagnostics").wait_for()
    page.wait_for_function(DIAG_IS_SELECTED)
    assert page.evaluate(TABLE_REACHABLE)
    assert _corner_alpha(page, ".estlab-lab .estlab-diagnostics") == 255  # light theme: a white card
    _shot(lab, "05-lab-runs.png")
    _tab(lab, "5 · TensorBoard")
    board_frame = page.frame_locator(".estlab-lab .estlab-tensorboard-frame iframe")
    board_frame.locator("text=TensorBoard").first.wait_for(timeout=60_000)  # its page loaded in the frame
    link_style = page.evaluate("() => getComputedStyle(document.querySelector('.estlab-lab a.estlab-tensorboard-link'))"
                               ".textDecorationLine")
    assert "underline" in link_style  # it looks like a link
    start_label = lab.locator(".estlab-tensorboard-start").text_content().strip()
    assert start_label.startswith("TensorBoard running on port"), start_label
    _shot(lab, "06-tensorboard.png")
    assert time.monotonic() - start < 150


WIDE_SETUP = '''\
import tempfile

import numpy as np
import pandas as pd

from estlab.widgets import Lab

rng = np.random.default_rng(0)
n = 1500
data = {f"num_{i}": rng.normal(size=n) for i in range(100)}
data.update({f"cat_{i}": rng.choice(["red", "green", "blue", "teal"], size=n) for i in range(14)})
data["member"] = rng.random(n) < 0.4
data["vip"] = pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5), dtype="boolean")
data["grade"] = rng.integers(1, 6, size=n)
data["signup"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24, size=n), unit="h")
data["zip"] = [f"z{v}" for v in rng.integers(0, 400, size=n)]
data["score"] = rng.normal(size=n) * 1000 + 5000
data["y"] = (data["num_0"] + (data["cat_0"] == "red") + rng.normal(size=n) * 0.5 > 0.5).astype(int)
frame = pd.DataFrame(data)  # 120 feature columns and the label
train, test = frame.iloc[:1200], frame.iloc[1200:]
lab = Lab(train, test, label="y", experiment=tempfile.mkdtemp(prefix="estlab-wide-"))
lab'''

WIDE_TRAIN = '''\
lab.queue("linear_classifier")
lab.queue("dnn_classifier", hidden_units=[16])
lab.picker.max_steps.value = 60
lab.picker.eval_every.value = 20
lab.train()
lab.wait()
print("trained", sorted(lab.runs))'''

RUNS = ("linear_classifier-1", "dnn_classifier-2")
OVERLAY_STEPS = "() => JSON.parse(document.querySelector('.estlab-lab .estlab-overlay')?.dataset.lastSteps || '{}')"


def _write_notebook(path, cells: list[str]) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(path))


def _luminance(page, selector: str, prop: str = "color") -> float:
    """Relative luminance (0 dark .. 1 light) of a computed colour of the first element matching ``selector``."""
    rgb = page.evaluate(f"() => getComputedStyle(document.querySelector({selector!r})).{prop}")
    parts = [float(v) for v in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
    return (0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]) / 255


def _open_and_run(page, server, url: str, notebook: str) -> None:
    page.set_default_timeout(60_000)
    page.goto(url)
    server.wait_kernel_idle(notebook)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.locator(".estlab-lab").first.wait_for(timeout=120_000)
    page.wait_for_function("() => document.querySelector('.jp-Notebook')?.textContent.includes('trained [')",
                           timeout=300_000)
    server.wait_kernel_idle(notebook)


def _check_runs_tab(page, lab, shot: str) -> None:
    """Runs: both runs ranked, their curves overlaid by the browser chart, diagnostics of the best run."""
    _tab(lab, "4 · Runs")
    page.wait_for_function(f"() => {{ const s = ({OVERLAY_STEPS})(); return s['{RUNS[0]}'] === 60 "
                           f"&& s['{RUNS[1]}'] === 60; }}")
    overlay = lab.locator(".estlab-overlay")
    assert overlay.locator("canvas").count() >= 2  # a panel per metric, every run on it
    assert overlay.locator("img").count() == 0  # drawn by the browser, not a picture from the kernel
    table = lab.locator(".estlab-leaderboard")
    assert table.text_content().count("finished") == 2
    assert table.locator("th").first.text_content() == "#"
    lab.locator(".estlab-diagnostics").wait_for()
    lab.locator(".estlab-roc-all").wait_for()  # ROC/PR of both runs on one figure
    assert lab.locator(".estlab-baseline select").input_value() == RUNS[0]  # no baseline estimator: the first run
    best = lab.locator(".estlab-diag-run select").input_value()
    first_row = table.locator("tbody tr").first.text_content()
    assert best in first_row and first_row.startswith("1")  # diagnostics show the best (first-ranked) run
    page.wait_for_function(DIAG_IS_SELECTED)
    assert page.evaluate(TABLE_REACHABLE)
    dark = page.evaluate("() => document.body.dataset.jpThemeLight === 'false'")
    # the pictures are drawn for the theme: transparent with light text on a dark page, a white card otherwise
    for picture in (".estlab-lab .estlab-diagnostics", ".estlab-lab .estlab-roc-all"):
        page.wait_for_function(f"(dark) => {{ const i = document.querySelector({picture!r});"
                               " if (!i || !i.complete || !i.naturalWidth) return false;"
                               " const c = document.createElement('canvas'); c.width = 1; c.height = 1;"
                               " const g = c.getContext('2d'); g.drawImage(i, 0, 0);"
                               " return (g.getImageData(0, 0, 1, 1).data[3] === 0) === dark; }", arg=dark)
    _shot(lab, shot)


@pytest.mark.parametrize("jupyter", [{"ESTLAB_MAX_STEPS": ""}], indirect=True)
def test_wide_frame_columns_and_runs_in_the_dark_theme(jupyter, page):
    """A 120-column frame: a scrolled list, search, bulk edit, a label change that keeps the choices, the code
    block, the Runs tab's defaults; everything in JupyterLab's dark theme."""
    _write_notebook(jupyter.root / "wide.ipynb", [WIDE_SETUP, WIDE_TRAIN])
    url = f"{jupyter.base}/lab/workspaces/w{secrets.token_hex(4)}/tree/wide.ipynb?reset&token={jupyter.token}"
    page.goto(url)
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('apputils:change-theme')")
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    _open_and_run(page, jupyter, url, "wide.ipynb")
    lab = page.locator(".estlab-lab").first

    # dark theme: the lab's text is light on the dark page
    assert _luminance(page, ".jp-Notebook", "backgroundColor") < 0.25
    assert _luminance(page, ".estlab-lab .estlab-columns-header") > 0.6
    _check_runs_tab(page, lab, "10-dark-runs.png")
    assert _luminance(page, ".estlab-lab .estlab-leaderboard table") > 0.6

    _tab(lab, "1 · Columns")
    rows = lab.locator(".estlab-columns .estlab-column-row")
    assert rows.count() == 120
    box = lab.locator(".estlab-columns").bounding_box()
    assert box is not None and box["height"] <= 470, box  # a scrolled list, not a 7,000 px tab
    values = {key: lab.locator(f".estlab-transform-{key} select").input_value()
              for key in ("member", "vip", "grade", "signup", "zip", "num_5", "cat_3")}
    # a <select> shows labels: booleans 0/1, few integer codes one-hot, a date its timestamp
    assert values == {"member": "0/1", "vip": "0/1", "grade": "one-hot (codes)", "signup": "timestamp, z-score",
                      "zip": "embedding", "num_5": "numeric, z-score", "cat_3": "one-hot"}
    assert "read as category codes" in lab.locator(".estlab-row-grade .estlab-reason").text_content()
    _shot(lab.locator(".estlab-column-builder"), "11-dark-columns-120.png")

    search = lab.locator(".estlab-column-search input")
    search.fill("num_1")
    page.wait_for_function("() => document.querySelectorAll('.estlab-lab .estlab-columns .estlab-column-row')"
                           ".length === 11")
    assert "showing 11 of 120 columns" in lab.locator(".estlab-shown").text_content()
    _shot(lab.locator(".estlab-column-builder"), "12-dark-columns-search.png")
    search.fill("")
    lab.locator(".estlab-column-kind select").select_option(label="numeric")
    page.wait_for_function("() => document.querySelectorAll('.estlab-lab .estlab-columns .estlab-column-row')"
                           ".length === 101")  # 100 num_* and score
    lab.locator(".estlab-bulk-transform select").select_option(label="numeric, min-max")
    lab.locator(".estlab-bulk-apply").click()
    page.wait_for_function("() => document.querySelector('.estlab-lab .estlab-columns-notice')"
                           ".textContent.includes('set on 101 column(s)')")
    assert lab.locator(".estlab-transform-num_5 select").input_value() == "numeric, min-max"
    lab.locator(".estlab-column-kind select").select_option(label="all columns")

    # the label changes: every other choice stays; the task changes, and the lab says what happened to the queue
    lab.locator(".estlab-label select").select_option(label="score")
    page.wait_for_function("() => document.querySelector('.estlab-lab .estlab-columns-notice')"
                           ".textContent.includes('the task is now regression')")
    notice = lab.locator(".estlab-columns-notice").text_content()
    assert "2 queued classification estimator(s) were removed" in notice, notice
    assert "every other column keeps its choices" in notice, notice
    assert lab.locator(".estlab-transform-num_5 select").input_value() == "numeric, min-max"
    assert lab.locator(".estlab-transform-zip select").input_value() == "embedding"
    assert lab.locator(".estlab-row-y").count() == 1 and lab.locator(".estlab-row-score").count() == 0
    _shot(lab.locator(".estlab-column-builder"), "13-dark-label-changed.png")

    lab.locator(".estlab-show-code").click()
    code = lab.locator(".estlab-code .estlab-code-text")
    code.wait_for()
    assert "fc.numeric_column('num_5', normalizer='minmax')" in code.text_content()
    assert "label = 'score'" in code.text_content()
    copy = lab.locator(".estlab-code .estlab-copy")
    copy.click()
    page.wait_for_function("() => document.querySelector('.estlab-lab .estlab-copy').textContent !== 'Copy'")
    assert copy.text_content() in ("Copied", "Selected: press Ctrl+C")
    _shot(lab.locator(".estlab-code"), "14-dark-code.png")
    lab.locator(".estlab-show-code").click()
    page.wait_for_function("() => getComputedStyle(document.querySelector('.estlab-lab .estlab-code')).display"
                           " === 'none'")
    # the theme is a user setting of the session's sandbox: back to light for the tests after this one
    page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")


@pytest.mark.parametrize("jupyter", [{"ESTLAB_MAX_STEPS": "", "app": "notebook"}], indirect=True)
def test_wide_frame_in_notebook_7(jupyter, page):
    """The same lab in Notebook 7: it renders, the chart draws, the column search works."""
    _write_notebook(jupyter.root / "wide.ipynb", [WIDE_SETUP, WIDE_TRAIN])
    _open_and_run(page, jupyter, f"{jupyter.base}/notebooks/wide.ipynb?token={jupyter.token}", "wide.ipynb")
    lab = page.locator(".estlab-lab").first
    _check_runs_tab(page, lab, "20-notebook7-runs.png")
    _tab(lab, "1 · Columns")
    assert lab.locator(".estlab-columns .estlab-column-row").count() == 120
    lab.locator(".estlab-column-search input").fill("cat_")
    page.wait_for_function("() => document.querySelectorAll('.estlab-lab .estlab-columns .estlab-column-row')"
                           ".length === 14")
    _shot(lab.locator(".estlab-column-builder"), "21-notebook7-columns.png")
