"""The attacks of docs/reliability.md's abuse table against the demo hall, from several loopback addresses,
printing what each achieved (tests/e2e/test_abuse.py asserts the same behaviour; this measures it).

    .venv/bin/python bench/abuse.py
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import websockets.sync.client as ws_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import Server, demo_staff  # noqa: E402


def client(address: str, url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def stream(address: str, url: str) -> ws_client.ClientConnection:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30, source_address=(address, 0))
    return ws_client.connect(f"ws://{host}:{port}/ws/events", sock=sock, open_timeout=30, max_size=None)


def main() -> None:
    srv = Server(extra=["--ws-per-client", "50"])
    url, figures = srv.url, {}
    try:
        # 60 numbers of 户籍迁移 without a kiosk key, from three addresses
        t0 = time.perf_counter()
        codes = []
        for n in range(60):
            with client(f"127.0.0.{2 + n % 3}", url) as c:
                codes.append(c.post("/api/tickets", json={"service_id": "hukou_move", "request_id": f"a-{n}"}).status_code)
        figures["keyless_issue"] = {"tried": 60, "issued": codes.count(201), "seconds": round(time.perf_counter() - t0, 2)}
        # one address trying three PINs at every staff account
        staff = demo_staff()
        t0 = time.perf_counter()
        with client("127.0.0.5", url) as c:
            answers = [c.post(f"/api/windows/{w}/sign-in", json={"staff_id": sid, "pin": "0000"}).status_code
                       for w, (sid, _) in staff.items() for _ in range(3)]
        with client("127.0.0.6", url) as desk:
            signed = sum(desk.post(f"/api/windows/{w}/sign-in", json={"staff_id": sid, "pin": pin}).status_code == 200
                         for w, (sid, pin) in staff.items())
        figures["pin_spray"] = {"tries": len(answers), "wrong_answered": answers.count(401),
                                "made_to_wait": answers.count(429), "staff_then_signed_in": signed,
                                "of": len(staff), "seconds": round(time.perf_counter() - t0, 2)}
        # 20 clients each sending a 16 MiB message on the event stream
        before = srv.rss_mb()[0]
        closed = []

        def push(n: int) -> None:
            try:
                with stream(f"127.0.0.{10 + n}", url) as ws:
                    ws.send("x" * (16 * 1024 * 1024))
                    ws.recv(timeout=30)
            except Exception as exc:  # noqa: BLE001 — the close is the measurement
                closed.append(getattr(getattr(exc, "rcvd", None), "code", type(exc).__name__))

        threads = [threading.Thread(target=push, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        figures["ws_16mib_messages"] = {"clients": 20, "rss_mb_before": round(before, 1),
                                        "rss_mb_peak": round(srv.rss_mb()[1], 1), "closed": sorted(set(map(str, closed)))}
        # 2,000 streams from 40 addresses
        opened, refused = [], 0
        for n in range(2000):
            try:
                ws = stream(f"127.0.1.{n % 40 + 1}", url)
                opened.append(ws)
            except Exception:  # noqa: BLE001
                refused += 1
        time.sleep(2)
        alive = 0
        for ws in opened:
            try:
                ws.recv(timeout=0)
            except TimeoutError:
                alive += 1
            except Exception:  # noqa: BLE001 — closed by the server (1008 per address, 1013 in all)
                pass
        figures["streams_2000_from_40"] = {"open": alive, "rss_mb": round(srv.rss_mb()[0], 1)}
        for ws in opened:
            ws.close()
    finally:
        srv.stop()
    print(json.dumps(figures, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
