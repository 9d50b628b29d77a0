"""JupyterLab in a sandbox + headless Chromium (Playwright), torn down by pid (see docs/browser-testing.md)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def element_shot(locator, path: Path | str, margin: int = 160) -> None:
    """Screenshot ``locator`` whole, as a user sees it scrolled to it.

    JupyterLab scrolls an inner panel and keeps a status bar at the bottom, so an element taller than the
    viewport would end in grey or under the status bar: the viewport grows to the element's height first (a
    tall window), then gets its size back.
    """
    page = locator.page
    size = page.viewport_size or {"width": 1400, "height": 1000}
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    need = int(box["height"]) + margin if box else size["height"]
    if need > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": need})
    try:
        locator.scroll_into_view_if_needed()
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # laid out
        box = locator.bounding_box()
        bar = page.evaluate("() => document.querySelector('#jp-main-statusbar')?.getBoundingClientRect().top ?? null")
        if box and bar is not None:
            assert box["y"] + box["height"] <= bar + 1, (box, bar)  # nothing hidden under the status bar
        locator.screenshot(path=str(path))
    finally:
        if need > size["height"]:
            page.set_viewport_size(size)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, json.loads(response.read() or b"null")


class JupyterServer:
    """A JupyterLab server on 127.0.0.1 with a random token, rooted in a temp dir."""

    def __init__(self, root: Path, env: dict[str, str], log: Path, app: str = "jupyterlab") -> None:
        self.root, self.env, self.log_path, self.app = root, env, log, app  # app: jupyterlab or notebook (7)
        self.token = secrets.token_hex(16)
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, path: str):
        return _get(f"{self.base}{path}?token={self.token}")

    def start(self, timeout: float = 60.0) -> None:
        for _attempt in range(3):
            self.port = _free_port()
            command = [sys.executable, "-m", self.app, "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                       "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                       f"--ServerApp.root_dir={self.root}", "--LabApp.news_url=None",
                       "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                       "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True",
                       "--JupyterNotebookApp.expose_app_in_browser=True", "--allow-root"]
            self.log = open(self.log_path, "ab")
            self.process = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.root)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if self.api("/api/status")[0] == 200:
                        return
                except OSError:
                    time.sleep(0.25)
            self.stop()
        raise RuntimeError(f"JupyterLab did not start; log:\n{self.log_tail()}")

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_kernel_idle(self, notebook: str, timeout: float = 90.0) -> None:
        """Until the notebook's kernel exists, is idle and has a browser connection (REST, not the DOM)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                _, sessions = self.api("/api/sessions")
            except OSError:
                sessions = []
            for session in sessions or []:
                kernel = session.get("kernel") or {}
                if session.get("path", "").endswith(notebook) and kernel.get("execution_state") == "idle" \
                        and kernel.get("connections", 0) >= 1:
                    return
            time.sleep(0.25)
        raise TimeoutError(f"kernel of {notebook} not idle after {timeout} s")

    def stop(self) -> None:
        """POST /api/shutdown, then SIGTERM and SIGKILL by pid (the server and the kernels it started)."""
        import psutil

        if self.process is None:
            return
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            children = []
        try:
            request = urllib.request.Request(f"{self.base}/api/shutdown?token={self.token}", method="POST")
            urllib.request.urlopen(request, timeout=5).close()
        except OSError:
            pass
        procs = [p for p in [_proc(self.process.pid), *children] if p is not None]
        _, alive = psutil.wait_procs(procs, timeout=10)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in alive:
                try:
                    proc.send_signal(sig)
                except psutil.Error:
                    pass
            _, alive = psutil.wait_procs(alive, timeout=5)
        self.process.wait(timeout=5)
        self.log.close()
        assert not alive, f"processes survived teardown: {alive}"
        self.process = None


def _proc(pid: int):
    import psutil

    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> dict[str, str]:
    """HOME, XDG_*, Jupyter and matplotlib dirs in a temp dir; JupyterLab settings for testing."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found; apt-get install -y chromium")
    pytest.importorskip("playwright.sync_api")
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ)
    dirs = {"HOME": "", "XDG_CONFIG_HOME": ".config", "XDG_CACHE_HOME": ".cache", "XDG_DATA_HOME": ".local/share",
            "XDG_RUNTIME_DIR": "runtime", "JUPYTER_CONFIG_DIR": "jupyter/config", "JUPYTER_DATA_DIR": "jupyter/data",
            "JUPYTER_RUNTIME_DIR": "jupyter/runtime", "JUPYTERLAB_SETTINGS_DIR": "jupyter/lab/settings",
            "JUPYTERLAB_WORKSPACES_DIR": "jupyter/lab/workspaces", "IPYTHONDIR": "ipython", "MPLCONFIGDIR": "mpl"}
    for key, sub in dirs.items():
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        env[key] = str(path)
    os.chmod(home / "runtime", 0o700)
    settings = home / "jupyter/lab/settings"
    (settings / "@jupyterlab/apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    (settings / "@jupyterlab/notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def jupyter(sandbox, tmp_path, request):
    """A running JupyterLab whose root holds a copy of notebooks/lab.ipynb."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "lab.ipynb", root / "lab.ipynb")
    env = dict(sandbox)
    params = dict(getattr(request, "param", {}) or {})  # environment variables, and "app": "notebook"
    app = params.pop("app", "jupyterlab")
    env.update(params)
    server = JupyterServer(root, env, tmp_path / "jupyter.log", app=app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(jupyter, sandbox, tmp_path, request):
    """A fresh headless Chromium page (persistent context with a new profile); FAILED.png on failure."""
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for stale in SCREENSHOTS.glob("FAILED*"):
        stale.unlink()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000}, env=sandbox)
        page = context.pages[0] if context.pages else context.new_page()
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            try:
                page.screenshot(path=str(SCREENSHOTS / "FAILED.png"))
            except Exception:
                pass
            (SCREENSHOTS / "FAILED-jupyter.log").write_text(jupyter.log_tail(200))
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
