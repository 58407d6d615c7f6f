"""Start `hall-controller serve` on a free loopback port for a benchmark, and read its memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, demo_staff, free_port  # noqa: E402  (shared with the tests)


class Server:
    """`external_devices`: the demo's simulated devices run in a process of their own (bench/_devices.py)
    and the controller drives them as real ones (`--devices config`), so what is measured is the controller,
    not the simulators sharing its event loop."""

    def __init__(self, extra: list[str] | None = None, clock_start: str = "2026-11-23T08:40:00",
                 capture_log: bool = False, external_devices: bool = False):
        self.dir = tempfile.TemporaryDirectory(prefix="hall-bench-")
        self.log = Path(self.dir.name) / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.devices: subprocess.Popen | None = None
        config = self._external_devices() if external_devices else DEMO_CONFIG
        cmd = [sys.executable, "-m", "hall_controller.cli", "serve", "--config", str(config),
               "--db", f"{self.dir.name}/hall.db", "--port", str(self.port), "--clock-start", clock_start, "--rate-limit", "0",
               # every simulated board client comes from 127.0.0.1: lift the per-address stream cap
               "--ws-per-client", "1000", "--devices", "config" if external_devices else "simulated", *(extra or [])]
        out = open(self.log, "wb") if capture_log else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 90  # a loaded machine starts it slowly; the figures are taken after
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start")

    def _external_devices(self) -> Path:
        self.devices = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_devices.py"), str(DEMO_CONFIG)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        urls = json.loads(self.devices.stdout.readline())
        text = DEMO_CONFIG.read_text(encoding="utf-8")
        for url in urls["buses"]:
            text = text.replace('port = "sim"', f'port = "{url}"', 1)
        for url in urls["printers"]:
            text = text.replace('connection = "sim"', f'connection = "{url}"', 1)
        config = Path(self.dir.name) / "hall.toml"
        config.write_text(text, encoding="utf-8")
        return config

    def rss_mb(self) -> tuple[float, float]:
        """Resident memory now and at its peak, in MB."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def log_errors(self) -> list[str]:
        """Lines of the server's log that report an error (needs capture_log=True)."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if " ERROR " in line or line.startswith("Traceback") or "CRITICAL" in line]

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.devices is not None:
            self.devices.stdin.close()  # its cue to stop
            self.devices.wait(10)
        self.dir.cleanup()


def sign_in_general_windows(url: str) -> dict[str, dict[str, str]]:
    """Sign in every comprehensive or categorised window that has a regular staff member."""
    staff = demo_staff()
    auth = {}
    for w in httpx.get(f"{url}/api/hall").json()["windows"]:
        if w["mode"] == "special" or w["id"] not in staff:
            continue
        sid, pin = staff[w["id"]]
        r = httpx.post(f"{url}/api/windows/{w['id']}/sign-in", json={"staff_id": sid, "pin": pin})
        r.raise_for_status()
        auth[w["id"]] = {"Authorization": f"Bearer {r.json()['token']}"}
    return auth


def open_uncapped_services(url: str) -> list[str]:
    body = httpx.get(f"{url}/api/services").json()
    general = {c["id"] for c in body["categories"] if c["general"]}
    return [s["id"] for s in body["services"]
            if s["issuing_open"] and s["daily_cap"] is None and s["category_id"] in general]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
