"""TensorBoardPanel starts only its own TensorBoard on 127.0.0.1, shows it inline, stops it on close."""

from __future__ import annotations

import os

import psutil
import pytest

from estlab.widgets.tensorboard import TensorBoardPanel, tensorboard_url


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
        assert "open TensorBoard in a new tab" in panel.view.value
        assert panel.start_button.disabled and not panel.stop_button.disabled
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
