"""WebSocket fan-out: how long a call takes to reach every connected board client.

Starts a real `hall-controller serve` on loopback, connects N clients to `/ws/events` (the `websockets`
client), signs in one window and makes calls; the latency of a call is from sending POST call-next to a
client receiving its `ticket.called` event, over every client and call. Goal: p99 < 50 ms at 200 clients.

    .venv/bin/python bench/ws_fanout.py [--clients 200] [--calls 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import DEMO_KIOSK, Server, open_uncapped_services, percentile, sign_in_general_windows  # noqa: E402


async def client(url: str, received: dict[str, list[float]], ready: asyncio.Event, counter: list[int],
                 n: int) -> None:
    """One board client. It stamps each message's arrival first and decodes later, so the figure is the
    server's fan-out and not this process's JSON work for 200 clients on the same 2 cores."""
    arrivals: list[tuple[float, str | bytes]] = []
    try:
        async with websockets.connect(url, max_queue=None) as ws:
            counter[0] += 1
            if counter[0] == n:
                ready.set()
            async for raw in ws:
                arrivals.append((time.perf_counter(), raw))
    except (websockets.ConnectionClosed, asyncio.CancelledError):
        pass
    finally:
        for at, raw in arrivals:
            event = json.loads(raw)
            if event["type"] == "ticket.called":
                received.setdefault(event["data"]["ticket"]["id"], []).append(at)


async def main(args: argparse.Namespace) -> dict:
    server = Server(extra=["--devices", "none", "--rate-limit", "0"])
    try:
        window, headers = next(iter(sign_in_general_windows(server.url).items()))
        service = open_uncapped_services(server.url)[0]
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            seq = (await http.get("/api/hall")).json()["seq"]
            url = f"ws://127.0.0.1:{server.port}/ws/events?since={seq}"
            received: dict[str, list[float]] = {}
            ready, counter = asyncio.Event(), [0]
            tasks = [asyncio.create_task(client(url, received, ready, counter, args.clients))
                     for _ in range(args.clients)]
            await asyncio.wait_for(ready.wait(), 60)
            sent: dict[str, float] = {}
            for _ in range(args.calls):
                await http.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": service, "channel": "kiosk"})
                t0 = time.perf_counter()
                r = await http.post(f"/api/windows/{window}/call-next", headers=headers)
                r.raise_for_status()
                tid = r.json()["ticket"]["id"]
                sent[tid] = t0
                await asyncio.sleep(0.3)  # every client has it by then; the stamps say exactly when
                await http.post(f"/api/windows/{window}/finish", headers=headers)
                await asyncio.sleep(0.05)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        latencies = [(at - sent[tid]) * 1000 for tid, ats in received.items() if tid in sent for at in ats]
        expected = args.clients * args.calls
    finally:
        server.stop()
    return {"clients": args.clients, "calls": args.calls, "delivered": len(latencies), "expected": expected,
            "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies), 1) if latencies else float("nan")}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = asyncio.run(main(a))
    if a.json:
        print(json.dumps(res))
    else:
        print(f"call → {res['clients']} board clients: p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
              f"max {res['max_ms']} ms; delivered {res['delivered']}/{res['expected']} (goal: p99 < 50 ms)")
