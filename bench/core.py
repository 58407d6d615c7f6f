"""Core benchmark through HTTP against a real server process on loopback.

Prints issue and call-next latency (p50/p99) at a fixed offered load, the closed-loop throughput, and the
controller's memory after a simulated day of tickets. Goals: p99 < 20 ms at 200 requests/s; < 150 MB.
The controller drives the demo's devices (buses, printers, voice) as in a hall; the device simulators run
in a process of their own (bench/_devices.py), as real devices are hardware outside it.

    .venv/bin/python bench/core.py [--rate 200] [--seconds 20] [--day 20000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import Pool  # noqa: E402
from _server import DEMO_KIOSK, Server, open_uncapped_services, percentile, sign_in_general_windows  # noqa: E402


class Hall:
    """Client-side view of the windows: which hold a ticket (so the next action is finish)."""

    def __init__(self, client: Pool, auth: dict[str, dict[str, str]], services: list[str]):
        self.client, self.auth, self.services = client, auth, services
        self.holding: dict[str, bool] = {w: False for w in auth}
        self.free = asyncio.Queue()
        for w in auth:
            self.free.put_nowait(w)
        self.n = itertools.count()
        self.latency: dict[str, list[float]] = {"issue": [], "call-next": [], "finish": []}
        self.errors = 0

    async def timed(self, kind: str, coro) -> int:
        t0 = time.perf_counter()
        status, _ = await coro
        self.latency[kind].append((time.perf_counter() - t0) * 1000)
        if status >= 400:
            self.errors += 1
        return status

    async def issue(self) -> None:
        n = next(self.n)
        await self.timed("issue", self.client.request("POST", "/api/tickets", {
            "service_id": self.services[n % len(self.services)], "channel": "kiosk", "request_id": f"b{n}"},
            DEMO_KIOSK))

    async def window_step(self) -> None:
        """One window action: finish if the window holds a ticket, else call next."""
        w = await self.free.get()
        try:
            if self.holding[w]:
                await self.timed("finish", self.client.request("POST", f"/api/windows/{w}/finish", headers=self.auth[w]))
                self.holding[w] = False
            else:
                status = await self.timed("call-next", self.client.request("POST", f"/api/windows/{w}/call-next",
                                                                           headers=self.auth[w]))
                self.holding[w] = status == 200
        finally:
            self.free.put_nowait(w)


async def open_loop(hall: Hall, rate: float, seconds: float) -> None:
    """Requests at a fixed rate whatever the responses do (an open loop, as kiosks and keypads are)."""
    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(hall.issue() if i % 2 == 0 else hall.window_step()))
    await asyncio.gather(*tasks)


async def closed_loop(hall: Hall, workers: int, seconds: float) -> int:
    done = 0
    end = time.perf_counter() + seconds

    async def worker(k: int) -> None:
        nonlocal done
        i = k
        while time.perf_counter() < end:
            await (hall.issue() if i % 2 == 0 else hall.window_step())
            done += 1
            i += 1

    await asyncio.gather(*(worker(k) for k in range(workers)))
    return done


async def simulated_day(hall: Hall, tickets: int, workers: int = 8) -> None:
    """Issue `tickets` and serve every one of them (call next, finish)."""
    issued = itertools.count()

    async def kiosk() -> None:
        while next(issued) < tickets:
            await hall.issue()

    await asyncio.gather(*(kiosk() for _ in range(workers)))
    while True:
        before = len(hall.latency["call-next"])
        await asyncio.gather(*(hall.window_step() for _ in range(workers * 4)))
        snap = json.loads((await hall.client.request("GET", "/api/hall"))[1])
        if sum(q["waiting"] for q in snap["queues"]) == 0 and not any(hall.holding.values()):
            return
        if len(hall.latency["call-next"]) == before and not any(hall.holding.values()):
            return


async def main(args: argparse.Namespace) -> dict:
    server = Server(external_devices=True)
    try:
        auth = sign_in_general_windows(server.url)
        services = open_uncapped_services(server.url)
        client = Pool("127.0.0.1", server.port, size=64)
        try:
            hall = Hall(client, auth, services)
            await open_loop(hall, args.rate, 2)  # warm up
            hall.latency = {k: [] for k in hall.latency}
            await open_loop(hall, args.rate, args.seconds)
            lat = {k: (percentile(v, 50), percentile(v, 99), len(v)) for k, v in hall.latency.items()}
            done = await closed_loop(hall, 8, args.throughput_seconds)
            throughput = done / args.throughput_seconds
            rss_before, _ = server.rss_mb()
            t0 = time.perf_counter()
            await simulated_day(hall, args.day)
            day_s = time.perf_counter() - t0
            rss, peak = server.rss_mb()
            errors = hall.errors
        finally:
            client.close()
        result = {
            "rate": args.rate, "seconds": args.seconds,
            "issue_p50_ms": lat["issue"][0], "issue_p99_ms": lat["issue"][1],
            "call_next_p50_ms": lat["call-next"][0], "call_next_p99_ms": lat["call-next"][1],
            "finish_p99_ms": lat["finish"][1],
            "throughput_rps": throughput, "day_tickets": args.day, "day_seconds": day_s,
            "rss_mb_before_day": rss_before, "rss_mb_after_day": rss, "rss_peak_mb": peak, "errors": errors,
        }
    finally:
        server.stop()
    return result


def report(r: dict) -> None:
    rows = [
        ("issue latency p50 / p99", f"{r['issue_p50_ms']:.1f} / {r['issue_p99_ms']:.1f} ms", "p99 < 20 ms"),
        ("call-next latency p50 / p99", f"{r['call_next_p50_ms']:.1f} / {r['call_next_p99_ms']:.1f} ms", "p99 < 20 ms"),
        ("finish latency p99", f"{r['finish_p99_ms']:.1f} ms", ""),
        ("offered load", f"{r['rate']} req/s for {r['seconds']} s", "200 req/s"),
        ("closed-loop throughput (8 clients)", f"{r['throughput_rps']:.0f} req/s", ""),
        (f"memory after a day of {r['day_tickets']} tickets", f"{r['rss_mb_after_day']:.0f} MB (peak {r['rss_peak_mb']:.0f})", "< 150 MB"),
        ("simulated day wall time", f"{r['day_seconds']:.0f} s", ""),
        ("HTTP errors", str(r["errors"]), "0"),
    ]
    width = max(len(a) for a, _, _ in rows)
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:<28} {goal}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--throughput-seconds", type=float, default=10)
    p.add_argument("--day", type=int, default=20_000)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = asyncio.run(main(a))
    print(json.dumps(res)) if a.json else report(res)
