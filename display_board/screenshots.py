"""Screenshots of the hall board, a window display and the counter keypad, from the demo hall under load.

    .venv/bin/python -m display_board.screenshots [--out docs]

Starts `hall-controller serve` on a free loopback port with the demo config and a pinned clock, drives a
morning's worth of tickets and calls through the HTTP API, then photographs each page in headless Chromium.
"""

from __future__ import annotations

import argparse
import random
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config" / "demo-hall.toml"
CLOCK_START = "2026-11-23T10:05:00"  # a Monday morning
UNSTAFFED = {"20", "21"}  # the 办不成事 desk and the peak window stay closed until needed
PAUSED = {"14": "临时离开"}
NOTICE = "今日上午10:30起，企业注册开办业务增开21号应急窗口；请市民朋友凭号票有序等候，过号请到咨询服务台重新排队。"
OUTCOMES = ["immediate", "immediate", "immediate", "promised", "supplement", "consult"]


def simulate_load(client: httpx.Client, config_path: Path = DEMO_CONFIG, tickets: int = 96, rounds: int = 3,
                  seed: int = 7) -> dict[str, str]:
    """Staff sign in, citizens take numbers, windows call and finish; returns window id → staff token."""
    rng = random.Random(seed)
    data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    tokens: dict[str, str] = {}
    for staff in data["staff"]:
        window = staff["windows"][0]
        if window in UNSTAFFED or window in tokens:
            continue
        r = client.post(f"/api/windows/{window}/sign-in", json={"staff_id": staff["id"], "pin": staff["pin"]})
        r.raise_for_status()
        tokens[window] = r.json()["token"]
    for window, reason in PAUSED.items():
        client.post(f"/api/windows/{window}/pause", json={"reason": reason},
                    headers=_auth(tokens[window])).raise_for_status()

    # General themes carry most of the demand; special desks see a trickle.
    services = [(s["id"], 6 if s["category"] in ("social", "business") else 3 if s["category"] in ("construction", "other") else 1)
                for s in data["services"]]
    ids, weights = zip(*services)
    for _ in range(tickets):
        priority = "assist" if rng.random() < 0.06 else None
        client.post("/api/tickets", json={"service_id": rng.choices(ids, weights)[0], "priority": priority})

    calling = [w for w in tokens if w not in PAUSED]
    for round_ in range(rounds):
        for window in rng.sample(calling, len(calling)):
            auth = _auth(tokens[window])
            if client.post(f"/api/windows/{window}/call-next", headers=auth).status_code != 200:
                continue
            if round_ == rounds - 1:
                if rng.random() < 0.5:
                    client.post(f"/api/windows/{window}/start", headers=auth)
                continue
            if rng.random() < 0.1:
                client.post(f"/api/windows/{window}/skip", headers=auth)
            else:
                client.post(f"/api/windows/{window}/finish", json={"outcome": rng.choice(OUTCOMES)}, headers=auth)
    return tokens


def post_notice(client: httpx.Client, text: str) -> bool:
    """The manager broadcasts a notice to the board; False when this build has no manager API."""
    r = client.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"})
    r.raise_for_status()
    r = client.post("/api/manager/notice", json={"text": text}, headers=_auth(r.json()["token"]))
    if r.status_code == 404:
        return False
    r.raise_for_status()
    return True


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(client: httpx.Client, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("hall-controller serve exited at start-up")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("hall-controller serve did not start")


def _settle(page) -> None:
    """Let arrival flashes finish and pose the notice marquee with its text in view."""
    page.wait_for_timeout(4500)
    page.evaluate("""() => { for (const a of document.getAnimations())
        if (a.animationName === 'marquee') a.currentTime = a.effect.getComputedTiming().duration * 0.42; }""")


def shoot(base: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        for name, path, size in [("hall-board", "/board", (1920, 1080)), ("window-display", "/window/3", (1280, 720)),
                                 ("window-display-paused", "/window/14", (1280, 720))]:
            page = browser.new_page(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
            page.goto(base + path)
            page.wait_for_selector("#link[data-online=true]")
            _settle(page)
            shots.append(out / f"{name}.png")
            page.screenshot(path=shots[-1])
            page.close()

        page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")
        page.goto(f"{base}/counter/3")
        page.fill("#staff-id", "QH1003")
        page.fill("#pin", "1357")
        page.click("button[type=submit]")
        page.wait_for_selector("#desk:not([hidden])")
        boxes = page.locator("#materials input[type=checkbox]")
        for i in range(min(2, boxes.count())):
            boxes.nth(i).check()
        page.wait_for_timeout(2800)  # the sign-in toast fades
        shots.append(out / "counter-keypad.png")
        page.screenshot(path=shots[-1])
        browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "hall_controller.cli", "serve", "--config", str(DEMO_CONFIG), "--db",
               f"{tmp}/hall.db", "--port", str(port), "--clock-start", CLOCK_START, "--devices", "none",
               "--rate-limit", "0"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=10) as client:
                _wait_ready(client, proc)
                simulate_load(client)
                if not post_notice(client, NOTICE):
                    print("no manager API: the board shows its default notice", file=sys.stderr)
            for shot in shoot(base, args.out):
                print(shot)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
