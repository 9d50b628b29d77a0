"""The README's Python examples run as written, in order, in one namespace (as a notebook would run them), and
its ``curl`` request is a complete instance that the served export answers.

Both runs are slow (the export alone takes 5-50 s, and the examples load Adult): the first caps every ``train``
call with ``ESTLAB_MAX_STEPS`` (the environment cap notebooks use in CI; no code path changes) and checks what each
example returns and the ``curl`` request; the second runs them uncapped and checks the accuracy the README quotes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", README, flags=re.S | re.M)
BASH_BLOCKS = re.findall(r"^```bash\n(.*?)^```", README, flags=re.S | re.M)


def run_readme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    pytest.importorskip("ipywidgets")  # the lab example
    monkeypatch.chdir(tmp_path)  # the examples write runs/ and exports/ relative to the working directory
    namespace: dict = {"__name__": "__readme__"}
    try:
        for number, block in enumerate(PYTHON_BLOCKS, 1):
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)  # noqa: S102 - our README
    finally:
        lab = namespace.get("lab")
        if lab is not None:
            lab.close()
    return namespace


def test_the_readme_has_the_examples_this_test_runs():
    assert len(PYTHON_BLOCKS) == 5
    assert BASH_BLOCKS[0].splitlines()[0].startswith("bash scripts/install.sh && estlab demo")
    assert BASH_BLOCKS[0].splitlines()[1].startswith("python3 -m pytest -q")


@pytest.mark.slow
def test_python_examples_run_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("ESTLAB_MAX_STEPS", "20")
    ns = run_readme(tmp_path, monkeypatch)
    assert ns["dnn"].global_step == 40  # two capped train calls of 20 steps
    assert list(ns["dnn"].predict_frame(ns["test"].head()).index) == list(ns["test"].head().index)
    assert {"calibrated_probability", "decision"} <= set(ns["decided"].columns)
    assert len(ns["decided"]) == len(ns["test"]) - 8000
    assert (tmp_path / "runs" / "balanced" / "best").is_dir()
    loaded = ns["export"].load(ns["path"]).predict(ns["test"].head())
    assert len(loaded) == 5 and len(loaded[0]["probabilities"]) == 2
    _check_curl_example(tmp_path, Path(ns["path"]))


def _check_curl_example(tmp_path: Path, export_path: Path) -> None:
    """The README's ``curl -d '<json>' localhost:8501<url>`` against the app ``estlab serve`` would run."""
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    from starlette.testclient import TestClient

    from estlab.export.server import create_app

    block = next(b for b in BASH_BLOCKS if "estlab serve" in b)
    serve = re.search(r"estlab serve (\S+) --model-name (\S+)", block)
    body = re.search(r"curl -d '(.*?)'", block, flags=re.S)
    url = re.search(r"localhost:8501(\S+)", block)
    assert serve and body and url
    assert (tmp_path / serve.group(1)).resolve() == export_path.parent.resolve()
    payload = json.loads(body.group(1))
    with TestClient(create_app(tmp_path / serve.group(1), serve.group(2))) as client:
        response = client.post(url.group(1), content=json.dumps(payload))
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


@pytest.mark.slow
def test_python_examples_reach_the_quoted_accuracy(tmp_path, monkeypatch):
    monkeypatch.delenv("ESTLAB_MAX_STEPS", raising=False)
    ns = run_readme(tmp_path, monkeypatch)
    metrics = ns["dnn"].evaluate(ns["test"], label="income_bracket")
    assert metrics["accuracy"] > 0.85 and metrics["auc"] > 0.90  # the README quotes 0.857 / 0.911
