"""A headless Chromium driven over the DevTools protocol, with no Python dependency.

`--remote-debugging-pipe` makes Chromium read protocol commands on fd 3 and write replies and
events on fd 4, each a JSON message ended by a NUL byte (what Playwright and Puppeteer use under
the hood). No port, no websocket client: two pipes. The pipes are put on fds 3 and 4 by a
`bash` exec redirection rather than a `preexec_fn`, which is unsafe in a process with threads
(the pipeline under test runs several).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any

import cv2
import numpy as np

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
    "--disable-dev-shm-usage", "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class CdpError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page (`session`). Use as a context manager."""

    def __init__(self, executable: str, *, width: int = 1280, height: int = 800,
                 timeout: float = 20.0) -> None:
        self.timeout = timeout
        self.width, self.height = width, height
        self._profile = tempfile.mkdtemp(prefix="pyuniproc-chromium-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # High fd numbers (bash reads them, dash does not), so "3<&N 4>&M" cannot clobber one
        # with the other.
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 20)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 20)
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        script = f'exec "$0" "$@" 3<&{child_r} 4>&{child_w} {child_r}<&- {child_w}>&-'
        args = ["bash", "-c", script, executable, *FLAGS, f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}", "about:blank"]
        # stderr to a file: a pipe nobody drains would fill up and block Chromium.
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(args, pass_fds=(child_r, child_w), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(child_r)
        os.close(child_w)
        self._write = os.fdopen(to_browser_w, "wb", buffering=0)
        self._read_fd = from_browser_r
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()
        self.session = self._open_page()

    # -- protocol ---------------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        with self._cond:
            self._next_id += 1
            message_id = self._next_id
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while message_id not in self._replies:
                if self._closed:
                    raise CdpError(f"{method}: browser went away ({self._stderr_tail()})")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CdpError(f"{method}: no reply within {timeout or self.timeout} s")
                self._cond.wait(remaining)
            reply = self._replies.pop(message_id)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _read_loop(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._read_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self._cond:
                        self._replies[message["id"]] = message
                        self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _open_page(self) -> str:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        return session

    # -- page helpers -----------------------------------------------------------------------------

    def goto(self, url: str) -> None:
        reply = self.send("Page.navigate", {"url": url}, session=self.session)
        if reply.get("errorText"):
            raise CdpError(f"navigate {url}: {reply['errorText']}")

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (JSON-able values only)."""
        reply = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, session=self.session)
        if "exceptionDetails" in reply:
            raise CdpError(f"evaluate: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 15.0, interval: float = 0.2) -> Any:
        """Poll `expression` until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout} s waiting for: {expression} (last value {value!r})")

    def screenshot(self) -> np.ndarray:
        """The viewport as a BGR image."""
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=self.session)["data"]
        image = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise CdpError("screenshot could not be decoded")
        return image

    # -- lifetime ---------------------------------------------------------------------------------

    def close(self) -> None:
        try:
            if not self._closed:
                self.send("Browser.close", timeout=5.0)
        except CdpError:
            pass
        try:
            self._process.wait(5.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5.0)
        for closer in (self._write.close, lambda: os.close(self._read_fd)):
            try:
                closer()
            except OSError:
                pass
        self._stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _stderr_tail(self) -> str:
        if self._process.poll() is None:
            return "still running"
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-500:]

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
