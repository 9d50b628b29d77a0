"""TensorBoardPanel starts only its own TensorBoard on 127.0.0.1, shows it inline, stops it on close."""

from __future__ import annotations

import os
from types import SimpleNamespace

import ipywidgets as widgets
import psutil
import pytest

from estlab.widgets.tensorboard import TensorBoardPanel, _OutputHandle, embed_mode, tensorboard_url


@pytest.mark.slow
def test_start_show_and_stop_own_process(tmp_path):
    panel = TensorBoardPanel(str(tmp_path))
    panel.start()
    try:
        assert panel.wait_ready(90), panel.error
        child = psutil.Process(panel.process.pid)
        assert child.ppid() == os.getpid()
        assert "--host" in child.cmdline() and "127.0.0.1" in child.cmdline()
        assert f'<iframe src="http://127.0.0.1:{panel.port}/"' in panel.view.value
        assert 'class="estlab-tensorboard-link" style="color:var(--jp-content-link-color' in panel.view.value
        assert panel.start_button.disabled and not panel.stop_button.disabled
        assert panel.start_button.description == f"TensorBoard running on port {panel.port}"
    finally:
        pid = panel.process.pid
        panel.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert panel.process is None and "stopped" in panel.html()


def test_proxy_urls():
    assert tensorboard_url(6006, {"TENSORBOARD_PROXY_URL": "/proxy/%PORT%/"}) == "/proxy/6006/"
    assert tensorboard_url(1234, {}) == "http://127.0.0.1:1234/"
    panel = TensorBoardPanel("/tmp/nothing-here")
    assert "TensorBoard is stopped" in panel._repr_mimebundle_()["text/html"]
    panel.close()


def test_in_a_notebook_tensorboard_notebook_draws_the_frame():
    assert embed_mode("notebook", {}) == "tensorboard.notebook"
    assert embed_mode("colab", {"JUPYTERHUB_SERVICE_PREFIX": "/user/me/"}) == "tensorboard.notebook"
    assert embed_mode("none", {}) == "iframe"  # a script or a test: the panel's own frame
    output = widgets.Output()
    handle = _OutputHandle(output)  # what tensorboard.notebook's display code updates
    handle.update("first")
    handle.update("second")
    assert [o["data"]["text/plain"] for o in output.outputs] == ["'second'"]
    output.close()


def test_the_static_copy_carries_the_frame_when_tensorboard_notebook_draws_the_live_one():
    panel = TensorBoardPanel("/tmp/nothing-here")
    try:
        panel.mode, panel.port, panel.ready = "tensorboard.notebook", 6123, True
        panel.process = SimpleNamespace(poll=lambda: None)  # running, without starting a process
        live, static = panel.html(), panel.html(static=True)
        assert '<iframe src="http://127.0.0.1:6123/"' not in live and "(opens in a new tab)" in live
        assert '<iframe src="http://127.0.0.1:6123/"' in static
    finally:
        panel.process = None
        panel.close()


def test_the_controls_say_what_they_do_and_the_link_looks_like_one():
    panel = TensorBoardPanel("/tmp/nothing-here")
    try:
        assert panel.start_button.description == "Start TensorBoard" and not panel.start_button.disabled
        panel.mode, panel.port, panel.ready = "iframe", 6123, False
        panel.process = SimpleNamespace(poll=lambda: None)  # running, without starting a process
        panel._update()
        assert panel.start_button.description == "TensorBoard starting on port 6123…"
        panel.ready = True
        panel._update()
        assert panel.start_button.disabled and panel.start_button.description == "TensorBoard running on port 6123"
        assert ('running at <a href="http://127.0.0.1:6123/" target="_blank" rel="noopener" '
                'class="estlab-tensorboard-link" style="color:var(--jp-content-link-color,#1976d2);'
                'text-decoration:underline') in panel.view.value
        panel.process = None
        panel._update()
        assert panel.start_button.description == "Start TensorBoard" and not panel.start_button.disabled
    finally:
        panel.process = None
        panel.close()
