"""`hall-controller region serve` in its own process, on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port


def wait_for(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class RegionProcess:
    def __init__(self, dsn: str, log: Path, clock_start: str | None = None):
        self.dsn, self.log, self.port = dsn, log, free_port()
        self.extra = ["--clock-start", clock_start] if clock_start else []
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RegionProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hall_controller.cli", "region", "serve", "--dsn", self.dsn, "--port", str(self.port),
             *self.extra],
            cwd=ROOT, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        wait_for(lambda: httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200, "region start", timeout=90)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
