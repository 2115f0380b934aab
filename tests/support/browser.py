"""Headless Chromium driven over its DevTools protocol, to look at a page as a person would.

Streamlit draws its pages in the browser from messages on a websocket, so a one-shot ``chromium
--screenshot`` captures only the loading skeleton (TOOLCHAIN.md). This opens the page, waits until the
rendered text holds what the caller expects and Streamlit has stopped running the script, then reads
the text and saves a full-page screenshot. The protocol's websocket is spoken with ``websockets`` (a
dependency of the project already); Chromium is Debian's (``make browser`` installs it).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts, which this
# machine's closed network refuses (the machine notes in the tool library).
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-port=0",
)
WINDOW = (1400, 1000)


class DevTools:
    """One page target of a Chromium, spoken to over the DevTools protocol."""

    def __init__(self, websocket_url: str) -> None:
        self._socket = connect(websocket_url, max_size=64 * 1024 * 1024, open_timeout=30)
        self._next_id = 0

    def call(self, method: str, **params: Any) -> dict:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == self._next_id:  # events (no id) are not needed here
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def close(self) -> None:
        self._socket.close()


@contextmanager
def chromium() -> Iterator[DevTools]:
    """A headless Chromium with an empty profile; yields its first page."""
    profile = Path(tempfile.mkdtemp(prefix="chromium_profile_"))
    width, height = WINDOW
    process = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port = _devtools_port(profile, process)
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(target for target in targets if target.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        try:
            tools.call("Page.enable")
            tools.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                       mobile=False)
            yield tools
        finally:
            tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen, timeout_s: float = 30) -> int:
    """Chromium writes the port it chose (``--remote-debugging-port=0``) to DevToolsActivePort."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode} before it listened")
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().splitlines()[0])
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


def look_at(tools: DevTools, url: str, expected: Sequence[str], screenshot: Path,
            timeout_s: float = 90) -> str:
    """Open ``url``, wait until its text holds every ``expected`` string and Streamlit is idle, save a
    full-page PNG to ``screenshot`` and return the page's text. Raises with the text seen on timeout."""
    tools.call("Page.navigate", url=url)
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = tools.evaluate("document.body ? document.body.innerText : ''") or ""
        # Streamlit shows a status widget while the script runs; tables render a moment later
        running = tools.evaluate("!!document.querySelector('[data-testid=\"stStatusWidget\"]')")
        if all(part in text for part in expected) and not running:
            time.sleep(1.0)  # let charts and tables finish their last paint
            text = tools.evaluate("document.body.innerText") or ""
            break
        time.sleep(0.5)
    else:
        missing = [part for part in expected if part not in text]
        raise AssertionError(f"{url} never showed {missing}; it showed:\n{text[:3000]}")
    height = tools.evaluate("Math.max(document.body.scrollHeight, "
                            "document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0)") or WINDOW[1]
    tools.call("Emulation.setDeviceMetricsOverride", width=WINDOW[0], height=min(int(height) + 50, 8000),
               deviceScaleFactor=1, mobile=False)
    time.sleep(0.5)
    shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    tools.call("Emulation.setDeviceMetricsOverride", width=WINDOW[0], height=WINDOW[1], deviceScaleFactor=1,
               mobile=False)
    return text
