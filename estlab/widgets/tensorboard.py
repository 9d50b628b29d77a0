"""``TensorBoardPanel``: the lab's TensorBoard, started on 127.0.0.1 as our own child process, shown inline.

In a notebook (JupyterLab, Notebook 7, VS Code, Colab) the inline frame is drawn by ``tensorboard.notebook``'s
own display code, into an ``Output`` widget: it builds the frame's address in the browser from the page's
own host (so a remote Jupyter works with the port forwarded), honours ``TENSORBOARD_PROXY_URL`` (``%PORT%``
is replaced) and, in Colab, goes through Colab's port proxy. On JupyterHub with jupyter-server-proxy, and
outside a notebook, the panel draws the frame itself from :func:`tensorboard_url`
(``JUPYTERHUB_SERVICE_PREFIX`` + ``proxy/<port>/``). A plain link is always shown too.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

import ipywidgets as widgets

from estlab.widgets._html import esc, message, with_fallback

_MUTED = "color:var(--jp-ui-font-color2,#555)"
#: A link that looks like one in every theme (JupyterLab's widget HTML does not style ``<a>``).
_LINK = "color:var(--jp-content-link-color,#1976d2);text-decoration:underline;cursor:pointer"
START = "Start TensorBoard"


def free_port() -> int:
    """A free TCP port on 127.0.0.1.

    Examples
    --------
    >>> 1024 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tensorboard_url(port: int, environ: dict[str, str] | None = None) -> str:
    """Where the browser reaches TensorBoard on ``port``.

    Examples
    --------
    >>> tensorboard_url(6006, {"TENSORBOARD_PROXY_URL": "/user/me/proxy/%PORT%/"})
    '/user/me/proxy/6006/'
    >>> tensorboard_url(6006, {})
    'http://127.0.0.1:6006/'
    """
    environ = dict(os.environ if environ is None else environ)
    if environ.get("TENSORBOARD_PROXY_URL"):
        return environ["TENSORBOARD_PROXY_URL"].replace("%PORT%", str(port))
    prefix = environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix and importlib.util.find_spec("jupyter_server_proxy") is not None:
        return f"{prefix.rstrip('/')}/proxy/{port}/"
    return f"http://127.0.0.1:{port}/"


def notebook_context(environ: dict[str, str] | None = None) -> str:
    """Where the kernel runs: ``"colab"``, ``"notebook"`` (a Jupyter kernel) or ``"none"`` (a script, a test).

    Examples
    --------
    >>> notebook_context()  # no IPython kernel in a doctest
    'none'
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return "none"
    shell = get_ipython()
    if shell is None:
        return "none"
    if "google.colab" in sys.modules:
        return "colab"
    return "notebook" if shell.has_trait("kernel") else "none"


def embed_mode(context: str, environ: dict[str, str] | None = None) -> str:
    """``"tensorboard.notebook"`` (its display code draws the frame) or ``"iframe"`` (the panel draws it).

    Examples
    --------
    >>> embed_mode("notebook", {}), embed_mode("none", {})
    ('tensorboard.notebook', 'iframe')
    >>> embed_mode("notebook", {"JUPYTERHUB_SERVICE_PREFIX": "/user/me/"})  # without jupyter-server-proxy
    'tensorboard.notebook'
    """
    environ = dict(os.environ if environ is None else environ)
    if context == "none":
        return "iframe"
    hub_proxy = (not environ.get("TENSORBOARD_PROXY_URL") and bool(environ.get("JUPYTERHUB_SERVICE_PREFIX"))
                 and importlib.util.find_spec("jupyter_server_proxy") is not None)
    return "iframe" if hub_proxy and context != "colab" else "tensorboard.notebook"


class _OutputHandle:
    """The ``display_handle`` ``tensorboard.notebook`` updates: ``update(obj)`` replaces an Output's content.

    Assigning the Output's ``outputs`` (no ``with output:``) is safe from the lab's UI thread.
    """

    def __init__(self, output: widgets.Output) -> None:
        self.output = output

    def update(self, obj: Any) -> None:
        self.output.outputs = ()
        self.output.append_display_data(obj)


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM when the kernel dies, even when it is killed."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class TensorBoardPanel:
    """Start/stop TensorBoard for ``logdir`` and show it inline (with a plain link as a fallback).

    Parameters
    ----------
    logdir
        The runs' root directory (one ``model_dir`` per run below it).
    manager
        Optional :class:`RunManager`: when given, its UI thread renders this panel.
    height
        Height of the inline frame in pixels.

    Examples
    --------
    >>> panel = TensorBoardPanel("/tmp/estlab-runs")
    >>> panel.running
    False
    >>> panel.close()
    """

    def __init__(self, logdir: str, manager: Any = None, height: int = 620) -> None:
        self.logdir = str(logdir)
        self.manager = manager
        self.height = height
        self.process: subprocess.Popen | None = None
        self.port: int | None = None
        self.ready = False
        self.error = ""
        self._log_path = ""
        self.start_button = widgets.Button(description=START, icon="line-chart", button_style="info",
                                           tooltip="Start TensorBoard on this lab's runs and show it below",
                                           layout=widgets.Layout(width="auto"))  # the whole label, never "…"
        self.start_button.add_class("estlab-tensorboard-start")
        self.stop_button = widgets.Button(description="Stop TensorBoard", icon="stop", disabled=True,
                                          layout=widgets.Layout(width="auto"))
        self.stop_button.add_class("estlab-tensorboard-stop")
        self.view = widgets.HTML(f'<span style="{_MUTED}">Logs: <code>{esc(self.logdir)}</code></span>')
        self.view.add_class("estlab-tensorboard")
        self.frame = widgets.Output(layout=widgets.Layout(width="100%"))
        self.frame.add_class("estlab-tensorboard-frame")
        self.mode = "iframe"  # decided at start(): see embed_mode()
        self._framed: int | None = None  # the port whose frame the Output shows
        self.box = widgets.VBox([widgets.HBox([self.start_button, self.stop_button]), self.view, self.frame])
        self.start_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        if manager is not None:
            manager.attach(self)

    @property
    def running(self) -> bool:
        """Whether our TensorBoard process is alive."""
        return self.process is not None and self.process.poll() is None

    @property
    def url(self) -> str | None:
        """The URL the browser should open (proxy-aware), or None when stopped."""
        return None if self.port is None else tensorboard_url(self.port)

    def start(self, timeout: float = 60.0) -> None:
        """Launch ``tensorboard`` on 127.0.0.1 (a child process of this kernel); returns at once."""
        if self.running:
            return
        os.makedirs(self.logdir, exist_ok=True)
        self.mode = embed_mode(notebook_context())
        self.port, self.ready, self.error = free_port(), False, ""
        self._log_path = os.path.join(self.logdir, f".tensorboard-{self.port}.log")
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", self.logdir, "--host", "127.0.0.1",
                   "--port", str(self.port), "--reload_interval", "5"]
        preexec = _die_with_parent if sys.platform.startswith("linux") else None
        with open(self._log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, preexec_fn=preexec)
        atexit.register(self.stop)
        threading.Thread(target=self._wait_ready, args=(self.process, self.port, timeout),
                         name="estlab-tensorboard-wait", daemon=True).start()
        self._changed()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until TensorBoard answers (or failed); returns ``ready``."""
        deadline = time.monotonic() + timeout
        while self.running and not self.ready and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.ready

    def _wait_ready(self, process: subprocess.Popen, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    if response.status == 200:
                        self.ready = True
                        break
            except OSError:
                time.sleep(0.2)
        if not self.ready:
            self.error = f"TensorBoard did not start (see {self._log_path})"
        self._changed()

    def stop(self) -> None:
        """Terminate our TensorBoard process (by its pid) and wait for it."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.ready = False
        self._changed()

    def _changed(self) -> None:
        if self.manager is not None:
            self.manager.refresh()
        else:
            self._update()

    def render(self, manager: Any, dirty: set[str]) -> None:
        """Called by the lab's UI thread."""
        self._update()

    def _update(self) -> None:
        with self.box.hold_sync():
            self.start_button.disabled = self.running
            # while it runs the button says so (a disabled "Start" read as broken); Stop is the action then
            self.start_button.description = (START if not self.running else
                                             f"TensorBoard running on port {self.port}" if self.ready else
                                             f"TensorBoard starting on port {self.port}…")
            self.start_button.icon = "line-chart" if not self.running else "check" if self.ready else "spinner"
            self.stop_button.disabled = not self.running
            self.view.value = self.html()
            shown = self.running and self.ready and self.mode == "tensorboard.notebook"
            if shown and self._framed != self.port:
                from tensorboard import notebook

                # tensorboard.notebook's display code (its public display() writes to the running cell instead)
                notebook._display(port=self.port, height=self.height, print_message=False,
                                  display_handle=_OutputHandle(self.frame))
                self._framed = self.port
            elif not shown and self._framed is not None:
                self.frame.outputs = ()
                self._framed = None

    def html(self, static: bool = False) -> str:
        """The inline frame (when ready) and the plain link.

        In ``"tensorboard.notebook"`` mode the live widget shows only the link (the frame is drawn into the
        Output below it); the ``static`` copy (for front ends without widgets) carries the frame itself.
        """
        if self.error:
            return message(self.error, "error")
        if not self.running:
            return f'<span style="{_MUTED}">TensorBoard is stopped. Logs: <code>{esc(self.logdir)}</code></span>'
        url = esc(self.url)
        link = (f'running at <a href="{url}" target="_blank" rel="noopener" class="estlab-tensorboard-link" '
                f'style="{_LINK}">{url}</a> <span style="{_MUTED}">(opens in a new tab)</span>'
                f' · logs <code>{esc(self.logdir)}</code>')
        if not self.ready:
            return f"<i>starting TensorBoard on port {self.port}…</i> {link}"
        if self.mode == "tensorboard.notebook" and not static:
            return link  # the frame is in the Output below
        return (f"{link}<br/><iframe src=\"{url}\" width=\"100%\" height=\"{self.height}\" frameborder=\"0\" "
                f'style="border:1px solid var(--jp-border-color2,#ddd)"></iframe>')

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return with_fallback(self.box, self.html(static=True), **kwargs)

    def close(self) -> None:
        """Stop TensorBoard and close the widgets."""
        self.stop()
        if self.manager is not None:
            self.manager.detach(self)
        self.box.close()
