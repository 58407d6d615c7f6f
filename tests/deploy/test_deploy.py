"""deploy/: the controller started from its systemd unit's own command line, behind the shipped Caddyfile over
HTTPS, a kiosk's USB printer reached through p910nd as socket://, and the kiosk launcher (offline page,
restart on exit) — each with the real program (systemd-analyze, caddy, p910nd, chromium)."""

from __future__ import annotations

import configparser
import json
import os
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import websockets.sync.client

from drivers.printer_sim import PrinterSimulator
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, ROOT, demo_staff, free_port

# Real programs started one after another: minutes on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "hall-controller.service"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


# Waits end as soon as the condition holds; the limits are for a machine under heavy load, never a pace.
def wait_for(check, timeout: float = 180, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = check()
            if got:
                return got
        except (httpx.HTTPError, OSError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        time.sleep(step)


def test_the_units_verify():
    for path in (UNIT, DEPLOY / "kiosk" / "p910nd.service", DEPLOY / "kiosk" / "hall-kiosk.service"):
        text = path.read_text(encoding="utf-8")
        # systemd-analyze checks every directive; it also wants the executable to exist on this machine.
        exe = shlex.split(unit(path)["Service"]["ExecStart"])[0]
        copy = Path(os.environ.get("TMPDIR", "/tmp")) / f"verify-{uuid.uuid4().hex}-{path.name}"
        copy.write_text(text.replace(exe, "/bin/true"), encoding="utf-8")
        try:
            out = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
        finally:
            copy.unlink()
        problems = [line for line in out.stderr.splitlines() if copy.name in line]
        assert not problems, problems


class Controller:
    """`hall-controller serve` exactly as the unit's ExecStart says, its paths moved under a test folder."""

    def __init__(self, tmp: Path, config: Path) -> None:
        service = unit(UNIT)["Service"]
        argv = shlex.split(service["ExecStart"])
        assert argv[0] == "/opt/hall-controller/.venv/bin/hall-controller"
        self.port = free_port()
        self.state = tmp / "state"
        moved = {"/etc/hall-controller/hall.toml": str(config),
                 "/var/lib/hall-controller/hall.db": str(self.state / "hall.db"), "8000": str(self.port)}
        self.argv = [sys.executable, "-m", "hall_controller.cli", *(moved.get(a, a) for a in argv[1:])]
        self.log = tmp / "controller.log"
        self.env = {**os.environ, **dict(kv.split("=", 1) for kv in shlex.split(service.get("Environment", "")))}
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Controller:
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        # Until it answers, or has exited (then the log says why): starting can take minutes on a loaded machine.
        wait_for(lambda: self.proc.poll() is not None or httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200,
                 timeout=600)
        assert self.proc.poll() is None, self.log.read_text()[-2000:]
        return self

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def stop(self) -> None:
        """The unit's KillSignal: a clean shutdown within TimeoutStopSec. uvicorn re-raises the SIGTERM it
        handled once it has shut down, and systemd counts a SIGTERM exit as clean."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(30) in (0, -signal.SIGTERM)
        assert any(line["message"] == "Application shutdown complete." for line in self.lines())


@pytest.fixture(scope="module")
def printer():
    """A kiosk's USB printer: the ESC/POS simulator behind a pseudo-terminal (the /dev/usb/lp0 of the test),
    shared by p910nd as the kiosk machine's unit runs it."""
    with PrinterSimulator() as sim:
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"lp-{uuid.uuid4().hex}"
        socat = subprocess.Popen(["socat", f"PTY,link={tmp},raw,echo=0", f"TCP:127.0.0.1:{sim.url.rsplit(':', 1)[1]}"])
        wait_for(tmp.exists)
        argv = shlex.split(unit(DEPLOY / "kiosk" / "p910nd.service")["Service"]["ExecStart"])
        assert argv[:4] == ["/usr/sbin/p910nd", "-d", "-b", "-f"] and argv[4] == "/dev/usb/lp0"
        n = next(n for n in range(3) if _port_free(9100 + n))
        Path("/var/lock/p910nd").mkdir(parents=True, exist_ok=True)  # the unit's RuntimeDirectory
        p910nd = subprocess.Popen([*argv[:4], str(tmp), "-i", "127.0.0.1", str(n)], stdout=subprocess.DEVNULL)
        wait_for(lambda: not _port_free(9100 + n))
        try:
            yield sim, f"socket://127.0.0.1:{9100 + n}"
        finally:
            p910nd.terminate()
            p910nd.wait(10)
            socat.terminate()
            socat.wait(10)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture(scope="module")
def controller(tmp_path_factory, printer):
    tmp = tmp_path_factory.mktemp("deploy")
    _, printer_url = printer
    # The hall's config as /etc/hall-controller/hall.toml: the demo's, kiosk 1's printer reached over the network.
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text = text.replace('id = "P1"                 # kiosk 1 (自助取号机 1)\nconnection = "sim"',
                        f'id = "P1"                 # kiosk 1 (自助取号机 1)\nconnection = "{printer_url}"', 1)
    assert printer_url in text
    config = tmp / "hall.toml"
    config.write_text(text, encoding="utf-8")
    ctl = Controller(tmp, config).start()
    yield ctl
    ctl.stop()


def test_the_controller_runs_from_its_units_command_line(controller):
    assert httpx.get(f"{controller.url}/healthz").json()["ok"] is True
    assert (controller.state / "hall.db").exists()
    # The nightly copy owed since 02:30 is made at start, in the state directory beside the ledger.
    wait_for(lambda: list((controller.state / "backups").glob("hall-*.db")))
    # --log-format json: every line a JSON object.
    text = [line for line in controller.log.read_text().splitlines() if line.strip()]
    assert text and all(line.startswith("{") for line in text), text[:3]


def test_a_kiosks_usb_printer_through_p910nd(controller, printer):
    sim, _ = printer
    # The controller watches the printer's status through p910nd's return channel (-b): paper and online.
    status = wait_for(lambda: (s := httpx.get(f"{controller.url}/api/kiosk/K1/status", headers=DEMO_KIOSK).json()["printer"])
                      and s.get("online") and s)
    assert status["paper"] == "ok"
    token = httpx.post(f"{controller.url}/api/manager/sign-in",
                       json={"manager_id": "manager", "password": "manager123"}).json()["token"]
    before = len(sim.jobs())
    printed = httpx.post(f"{controller.url}/api/printers/P1/test-print", headers={"Authorization": f"Bearer {token}"})
    assert printed.status_code == 200, printed.text
    assert len(sim.wait_for_jobs(before + 1, timeout=60)) == before + 1


def _chromium_pages(port: int) -> list[str]:
    return [p["url"] for p in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json() if p["type"] == "page"]


def test_https_in_front_and_a_kiosk_that_boots_before_the_server(controller, tmp_path):
    https_port, http_port, admin_port, debug_port = (free_port() for _ in range(4))
    kiosk_url = f"https://127.0.0.1:{https_port}"
    # The kiosk machine starts first: its launcher shows the offline page until the hall answers.
    launcher = subprocess.Popen([str(DEPLOY / "kiosk" / "hall-kiosk")], env={
        **os.environ, "HALL_URL": kiosk_url, "KIOSK_ID": "K1", "CHROMIUM": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        "KIOSK_PROFILE": str(tmp_path / "profile"), "HOME": str(tmp_path),
        # Test only: headless, and Caddy's test CA is not installed in this throwaway profile.
        "KIOSK_FLAGS": f"--headless=new --no-sandbox --disable-gpu --ignore-certificate-errors "
                       f"--remote-debugging-port={debug_port}"}, stderr=subprocess.DEVNULL, start_new_session=True)
    caddy = None
    try:
        offline = wait_for(lambda: [u for u in _chromium_pages(debug_port) if u.startswith("file://")])
        assert offline[0].endswith(f"offline.html?next={kiosk_url}/kiosk/K1")

        caddy = subprocess.Popen(["caddy", "run", "--config", str(DEPLOY / "caddy" / "Caddyfile"), "--adapter", "caddyfile"],
                                 env={**os.environ, "HALL_SITE": "127.0.0.1", "HALL_HTTPS_PORT": str(https_port),
                                      "HALL_HTTP_PORT": str(http_port), "HALL_CADDY_ADMIN": f"127.0.0.1:{admin_port}",
                                      "HALL_UPSTREAM": f"127.0.0.1:{controller.port}", "HALL_MONITOR": "127.0.0.1/32",
                                      "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
                                      "XDG_CONFIG_HOME": str(tmp_path / "config")},
                                 stdout=subprocess.DEVNULL, stderr=open(tmp_path / "caddy.log", "ab"))
        root_ca = tmp_path / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        wait_for(root_ca.exists)
        tls = ssl.create_default_context(cafile=str(root_ca))  # the certificate checks out against Caddy's CA
        with httpx.Client(base_url=kiosk_url, verify=tls, timeout=10) as client:
            ready = wait_for(lambda: (r := client.get("/readyz")).status_code == 200 and r)
            assert ready.headers["strict-transport-security"].startswith("max-age=")
            rid = ready.headers["x-request-id"]
            assert uuid.UUID(rid)  # Caddy's id, carried to the controller's log line for this request
            wait_for(lambda: any(line.get("request_id") == rid for line in controller.lines()))
            # A PIN crosses the LAN inside TLS only; the controller sees the client's own address.
            window, (staff, pin) = next(iter(demo_staff().items()))
            signed = client.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff, "pin": pin})
            assert signed.status_code == 200, signed.text
            line = wait_for(lambda: [x for x in controller.lines() if x.get("request_id") == signed.headers["x-request-id"]
                                     and x["logger"] == "hall_controller.access"])
            assert line[0]["client"] == "127.0.0.1" and line[0]["path"] == f"/api/windows/{window}/sign-in"
            assert client.get("/metrics").status_code == 200
        # /metrics is for the monitoring server only.
        with httpx.Client(verify=tls, transport=httpx.HTTPTransport(local_address="127.0.0.2", verify=tls)) as other:
            assert other.get(f"{kiosk_url}/metrics").status_code == 403
            assert other.get(f"{kiosk_url}/healthz").status_code == 200
        # Plain HTTP only redirects to HTTPS.
        plain = httpx.get(f"http://127.0.0.1:{http_port}/kiosk/K1", follow_redirects=False)
        assert plain.status_code in (301, 308) and plain.headers["location"].startswith("https://")
        # The hall board's live stream goes through the proxy as wss://.
        with websockets.sync.client.connect(f"wss://127.0.0.1:{https_port}/ws/events?since=0", ssl=tls,
                                            open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["seq"] >= 1

        # The kiosk found the hall by itself, and a browser that exits is started again, back on the kiosk page.
        wait_for(lambda: f"{kiosk_url}/kiosk/K1" in _chromium_pages(debug_port), timeout=300)
        browser = int(Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split()[0])
        os.kill(browser, signal.SIGKILL)
        wait_for(lambda: not Path(f"/proc/{browser}").exists() or "zombie" in Path(f"/proc/{browser}/status").read_text().lower())
        wait_for(lambda: f"{kiosk_url}/kiosk/K1" in _chromium_pages(debug_port), timeout=300)
        assert launcher.poll() is None
    finally:
        os.killpg(launcher.pid, signal.SIGTERM)  # the launcher's own group: it and the browser it started
        launcher.wait(20)
        if caddy is not None:
            caddy.terminate()
            caddy.wait(20)
