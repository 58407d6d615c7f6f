"""A configuration change applied live under load: 200 requests/s (issue, call next, finish) against a real
server process on loopback, and a new configuration version (PUT /api/admin/config: a material edited and a
staff member added) every few seconds meanwhile.

Prints the requests that failed (goal: none), the p50/p99 latency over the whole run and within the second
after each change began, how long each PUT took (validation, the one event's COMMIT, the swap), and when a
page on the event stream (`/ws/events`, as the board and kiosk listen) was told of each new version
(`config.changed`; goal: within 2 s of the PUT).

    .venv/bin/python bench/admin_change.py [--rate 200] [--seconds 20] [--changes 3] [--json]
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
from _http import Pool  # noqa: E402
from _server import Server, open_uncapped_services, percentile, sign_in_general_windows  # noqa: E402
from core import Hall, open_loop  # noqa: E402


class TimedHall(Hall):
    """The core benchmark's hall, remembering when each request started."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.started: list[tuple[float, float]] = []  # (start, latency ms)

    async def timed(self, kind: str, coro) -> int:
        t0 = time.perf_counter()
        status = await super().timed(kind, coro)
        self.started.append((t0, (time.perf_counter() - t0) * 1000))
        return status


async def change_config(port: int, headers: dict[str, str], n: int) -> tuple[float, float, int]:
    """One new version: a material note and a staff member. Returns (start, seconds, new version). A connection
    of its own each time: an admin's idle keep-alive connection would have been closed by the server."""
    client = Pool("127.0.0.1", port, size=1)
    try:
        return await _change(client, headers, n)
    finally:
        client.close()


async def _change(client: Pool, headers: dict[str, str], n: int) -> tuple[float, float, int]:
    status, body = await client.request("GET", "/api/admin/config", headers=headers)
    current = json.loads(body)
    doc = current["config"]
    service = doc["services"][0]
    service["materials"][0]["note"] = f"第 {n} 次修改"
    doc["staff"].append({"id": f"BENCH{n:03d}", "name": f"压测{n}", "unit": "县政务服务中心", "pin": "2468",
                         "windows": [str(doc["windows"][0].get("id", doc["windows"][0]["number"]))]})
    t0 = time.perf_counter()
    status, body = await client.request("PUT", "/api/admin/config", {"base_version": current["version"], "config": doc},
                                        headers=headers)
    if status != 200:
        raise RuntimeError(f"PUT /api/admin/config: {status} {body[:300]!r}")
    return t0, time.perf_counter() - t0, json.loads(body)["version"]


async def page(url: str, told: dict[int, float], ready: asyncio.Event) -> None:
    """A page on the event stream: stamps the arrival of each `config.changed`."""
    async with websockets.connect(url, max_queue=None) as ws:
        ready.set()
        async for raw in ws:
            event = json.loads(raw)
            if event["type"] == "config.changed":
                told[event["data"]["version"]] = time.perf_counter()


async def main(args: argparse.Namespace) -> dict:
    server = Server(external_devices=True, capture_log=True)
    try:
        auth = sign_in_general_windows(server.url)
        services = open_uncapped_services(server.url)
        signed = httpx.post(f"{server.url}/api/manager/sign-in", json={"manager_id": "admin", "password": "admin123"})
        headers = {"Authorization": f"Bearer {signed.json()['token']}"}
        client = Pool("127.0.0.1", server.port, size=64)
        seq = httpx.get(f"{server.url}/api/hall").json()["seq"]
        told: dict[int, float] = {}
        ready = asyncio.Event()
        listener = asyncio.create_task(page(f"ws://127.0.0.1:{server.port}/ws/events?since={seq}", told, ready))
        await asyncio.wait_for(ready.wait(), 30)
        try:
            hall = TimedHall(client, auth, services)
            await open_loop(hall, args.rate, 2)  # warm up
            hall.latency = {k: [] for k in hall.latency}
            hall.started, hall.errors = [], 0

            async def changes() -> list[tuple[float, float, int]]:
                done = []
                for n in range(args.changes):
                    await asyncio.sleep(args.seconds / (args.changes + 1))
                    done.append(await change_config(server.port, headers, n + 1))
                return done

            _, applied = await asyncio.gather(open_loop(hall, args.rate, args.seconds), changes())
            await asyncio.sleep(2)  # a page told later than this is counted as not told in time
        finally:
            client.close()
            listener.cancel()
        everything = [ms for _, ms in hall.started]
        during = [ms for t, ms in hall.started if any(start <= t <= start + 1.0 for start, _, _ in applied)]
        result = {
            "rate": args.rate, "seconds": args.seconds, "requests": len(everything), "errors": hall.errors,
            "changes": len(applied), "versions": [v for _, _, v in applied],
            "put_ms": [round(s * 1000, 1) for _, s, _ in applied],
            "p50_ms": percentile(everything, 50), "p99_ms": percentile(everything, 99),
            "during_requests": len(during), "during_p50_ms": percentile(during, 50),
            "during_p99_ms": percentile(during, 99), "during_max_ms": max(during) if during else 0.0,
            "told_ms": [round((told[v] - start) * 1000, 1) if v in told else None for start, _, v in applied],
            "server_errors": server.log_errors()[:10],
        }
    finally:
        server.stop()
    return result


def report(r: dict) -> None:
    rows = [
        ("offered load", f"{r['rate']:.0f} req/s for {r['seconds']:.0f} s ({r['requests']} requests)", ""),
        ("configuration versions applied", f"{r['changes']} (versions {', '.join(map(str, r['versions']))})", ""),
        ("PUT /api/admin/config", " / ".join(f"{ms:.0f}" for ms in r["put_ms"]) + " ms", ""),
        ("failed requests", str(r["errors"]), "0"),
        ("latency p50 / p99, whole run", f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} ms", ""),
        ("latency p50 / p99 / max, 1 s after each change",
         f"{r['during_p50_ms']:.1f} / {r['during_p99_ms']:.1f} / {r['during_max_ms']:.1f} ms ({r['during_requests']} req)", ""),
        ("PUT → page told (config.changed)",
         " / ".join("not told" if ms is None else f"{ms:.0f}" for ms in r["told_ms"]) + " ms", "< 2000 ms"),
    ]
    width = max(len(a) for a, _, _ in rows)
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:<44} {goal}")
    for line in r["server_errors"]:
        print(f"server log: {line}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--changes", type=int, default=3)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = asyncio.run(main(a))
    print(json.dumps(res)) if a.json else report(res)
