"""Debian's headless Chromium, driven as a person uses a page: load it, read what it shows,
click, type, press Enter. Over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ended by a NUL byte, on the browser's file descriptors 3 and 4), with nothing but the
standard library. The page under test runs no script: the expressions evaluated here are the
test's eyes (what is laid out and visible), as the DevTools console would be."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_LAUNCHER = ("import os, sys\n"
             "for fd, end in ((3, sys.argv[1]), (4, sys.argv[2])):\n"
             "    os.dup2(int(end), fd)\n"
             "    os.close(int(end))\n"
             "os.execv(sys.argv[3], sys.argv[3:])\n")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


class Browser:
    def __init__(self, chromium: str, profile: Path, width: int = 1400, height: int = 900,
                 timeout: float = 60.0):
        self.timeout = timeout
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()
        # a launcher puts the browser's ends on 3 and 4, from numbers above those (else one
        # would overwrite the other); sh cannot, its redirections stop at 9
        ends = [str(_above(fd, 10)) for fd in (to_browser, from_browser)]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, *ends, chromium, *FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"],
            pass_fds=tuple(map(int, ends)), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        to_browser, from_browser = map(int, ends)
        os.close(to_browser)
        os.close(from_browser)
        self._ids = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget",
                                   {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable")

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A command to the page."""
        return self._call(method, params or {}, self._session)

    def open(self, url: str) -> None:
        self._events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_for_load()

    def wait_for_load(self) -> None:
        self._wait_event("Page.loadEventFired")

    def value(self, expression: str) -> Any:
        """What a JavaScript expression gives in the page, as JSON."""
        answer = self.call("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True})
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def visible_text(self) -> str:
        """The page's text as laid out: what a person can read (folded content is not)."""
        return str(self.value("document.body.innerText"))

    def click(self, selector: str) -> None:
        """A left click in the middle of the first element the selector finds."""
        box = self.value(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                         ".getBoundingClientRect(); return [r.x + r.width / 2, "
                         "r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def type(self, text: str) -> None:
        self.call("Input.insertText", {"text": text})

    def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                 "windowsVirtualKeyCode": 13, "text": "\r"})

    def screenshot(self, path: Path) -> None:
        """The whole page, as far down as it goes."""
        height = self.value("document.body.scrollHeight")
        width = self.value("document.documentElement.clientWidth")
        shot = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self._call("Browser.close", {})
        except (OSError, AssertionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: str, params: dict[str, Any], session: str | None = None
              ) -> dict[str, Any]:
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._ids:
                if "error" in answer:
                    raise AssertionError(f"{method}: {answer['error']}")
                return dict(answer.get("result", {}))
            if "method" in answer:
                self._events.append(answer)

    def _wait_event(self, method: str) -> dict[str, Any]:
        while True:
            for event in self._events:
                if event["method"] == method:
                    self._events.remove(event)
                    return event
            answer = self._read()
            if "method" in answer:
                self._events.append(answer)

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise AssertionError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise AssertionError(f"Chromium ended (exit status {self.proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))


def _above(fd: int, lowest: int) -> int:
    """The descriptor moved to a number of at least `lowest`."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved
