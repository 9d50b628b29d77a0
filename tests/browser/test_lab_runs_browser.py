"""Four runs on two workers in a real JupyterLab, then a page reload and a kernel restart that re-opens them."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request

import nbformat
import pytest

from .conftest import SCREENSHOTS, element_shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = "runs.ipynb"
SETUP = """\
from estlab.datasets import load_adult
from estlab.widgets import Lab

train, test = load_adult()
columns = ["age", "hours_per_week", "education", "income_bracket"]
train, test = train[columns].sample(2000, random_state=0), test[columns].sample(500, random_state=0)
lab = Lab(train, test, label="income_bracket", experiment="runs/adult", workers=2, batch_size=64)
lab.picker.max_steps.value = 1500
lab.picker.eval_every.value = 500
lab"""
QUEUE = """\
lab.picker.clear()
for name, params in [("linear_classifier", {}), ("dnn_classifier", {"hidden_units": [16]}),
                     ("linear_classifier", {"learning_rate": 0.3}), ("dnn_classifier", {"hidden_units": [32, 16]})]:
    lab.queue(name, **params)
print(lab.picker.plan)"""
RUNS = ["linear_classifier-1", "dnn_classifier-2", "linear_classifier-3", "dnn_classifier-4"]
FINISHED = (
    "() => { const b = document.querySelector('.estlab-lab .estlab-leaderboard'); "
    "return b && (b.textContent.match(/finished/g) || []).length === 4; }"
)


def _tab(lab, title: str) -> None:
    lab.locator(".lm-TabBar-tab", has_text=title).first.click()


def _shot(page, locator, name: str) -> None:
    element_shot(locator, SCREENSHOTS / name)


def _kernel_id(jupyter) -> str:
    _, sessions = jupyter.api("/api/sessions")
    return next(s["kernel"]["id"] for s in sessions if s["path"].endswith(NOTEBOOK))


def _options(lab) -> list[str]:
    """The Train tab's run selector entries (the browser renders their spaces as non-breaking)."""
    return [
        o.replace("\xa0", " ") for o in lab.locator(".estlab-run-choice select option").all_text_contents()
    ]


def _run_all(page, jupyter) -> None:
    jupyter.wait_kernel_idle(NOTEBOOK)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


@pytest.mark.parametrize("jupyter", [{"ESTLAB_MAX_STEPS": ""}], indirect=True)
def test_four_runs_on_two_workers_survive_a_reload_and_a_kernel_restart(jupyter, page):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(QUEUE)]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(jupyter.root / NOTEBOOK))
    page.set_default_timeout(120_000)
    page.goto(
        f"{jupyter.base}/lab/workspaces/w{secrets.token_hex(4)}/tree/{NOTEBOOK}?reset&token={jupyter.token}"
    )
    _run_all(page, jupyter)
    lab = page.locator(".estlab-lab").first
    lab.wait_for()
    jupyter.wait_kernel_idle(NOTEBOOK, timeout=120)
    _tab(lab, "2 · Estimators")
    page.wait_for_function(
        "() => document.querySelector('.estlab-lab .estlab-plan').textContent"
        ".includes('4 runs: 4 × 1,500 steps (evaluated every 500)')"
    )

    _tab(lab, "3 · Train")
    lab.locator(".estlab-train").click()
    # two at once (two workers), two waiting for a free worker
    page.wait_for_function(
        "() => /2 running · queued: \\S+/.test("
        "document.querySelector('.estlab-lab .estlab-queue').textContent)"
    )
    options = _options(lab)
    assert sum("· running" in o or "· starting" in o for o in options) == 2, options
    assert sum("· queued" in o for o in options) == 2, options
    _shot(page, lab, "runs-01-two-of-four-running.png")

    _tab(lab, "4 · Runs")
    page.wait_for_function(FINISHED, timeout=300_000)
    board = lab.locator(".estlab-leaderboard").text_content()
    assert all(run in board for run in RUNS), board
    _shot(page, lab, "runs-02-four-finished.png")

    # a page reload (the notebook saved first, as JupyterLab asks): the widgets come back from the kernel
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')")
    page.reload()
    lab = page.locator(".estlab-lab").first
    lab.wait_for()
    _tab(lab, "4 · Runs")
    page.wait_for_function(FINISHED)
    _shot(page, lab, "runs-03-after-reload.png")

    # a kernel restart: a new Lab on the same experiment shows the four runs from the disk
    request = urllib.request.Request(
        f"{jupyter.base}/api/kernels/{_kernel_id(jupyter)}/restart?token={jupyter.token}",
        method="POST",
        data=b"{}",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200, json.loads(response.read() or b"null")
    deadline = time.monotonic() + 60
    while page.locator(".estlab-lab .estlab-leaderboard").count() and time.monotonic() < deadline:
        page.wait_for_timeout(250)  # the old kernel's widgets leave with it
    _run_all(page, jupyter)
    lab = page.locator(".estlab-lab").first
    lab.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.estlab-lab .estlab-message')"
        "?.textContent.includes('4 earlier run(s)')"
    )
    _tab(lab, "4 · Runs")
    page.wait_for_function(FINISHED)
    board = lab.locator(".estlab-leaderboard").text_content()
    assert all(run in board for run in RUNS), board
    _shot(page, lab, "runs-04-after-kernel-restart.png")
    _tab(lab, "3 · Train")
    options = _options(lab)
    assert [o for o in options if "·" in o] == [f"{run} · finished" for run in RUNS]
    _tab(lab, "2 · Estimators")
    _shot(page, lab, "runs-05-estimators-after-restart.png")
