"""Soak: a hall day at high speed with every simulated device and 200 board clients connected.

Drives kiosks issuing, windows calling and finishing (through the HTTP API and, for a share of the
windows, through the simulated counter keypads on the serial bus), pads rating, while 200 WebSocket
board clients follow the event stream. Samples the controller's memory and open file descriptors as it
goes and scans its log for errors. Prints the figures; exits non-zero if a board client missed an event,
memory or descriptors grew, or the log holds an error.

    .venv/bin/python bench/soak.py [--tickets 20000] [--boards 200] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import Pool  # noqa: E402
from _server import DEMO_KIOSK, Server, open_uncapped_services, sign_in_general_windows  # noqa: E402


class Board:
    """One board client: follows the stream and checks it is gap-free."""

    def __init__(self, url: str):
        self.url = url
        self.last = 0
        self.gaps = 0
        self.received = 0
        self.task: asyncio.Task | None = None

    async def run(self, since: int) -> None:
        self.last = since
        while True:
            try:
                async with websockets.connect(f"{self.url}?since={self.last}", max_queue=None) as ws:
                    async for raw in ws:
                        seq = json.loads(raw)["seq"]
                        if seq != self.last + 1:
                            self.gaps += 1
                        self.last = seq
                        self.received += 1
            except (OSError, websockets.ConnectionClosed):
                await asyncio.sleep(0.2)  # resume with since, as the pages do


async def drive(pool: Pool, auth: dict[str, dict[str, str]], services: list[str], tickets: int, seed: int,
                rate_share: float) -> dict:
    rng = random.Random(seed)
    issued = 0
    errors = 0
    holding = {w: False for w in auth}
    rated = 0

    async def kiosk(k: int) -> None:
        nonlocal issued, errors
        while issued < tickets:
            issued += 1
            status, _ = await pool.request("POST", "/api/tickets", {"service_id": rng.choice(services),
                                                                    "request_id": f"soak-{k}-{issued}"}, DEMO_KIOSK)
            errors += status >= 400

    async def window(w: str) -> None:
        nonlocal errors, rated
        while True:
            if holding[w]:
                outcome = rng.choice(["immediate", "immediate", "promised", "supplement", "consult"])
                status, _ = await pool.request("POST", f"/api/windows/{w}/finish", {"outcome": outcome}, auth[w])
                holding[w] = False
                errors += status >= 400
                if status == 200 and rng.random() < rate_share:
                    # the pad's invitation travels over the bus first: try for up to a second
                    for _ in range(20):
                        status, _ = await pool.request("POST", f"/api/sim/pads/{w}/rate",
                                                       {"level": rng.choice([1, 1, 1, 2, 2, 3, 4])})
                        if status == 200:
                            rated += 1
                            break
                        await asyncio.sleep(0.05)
            else:
                status, body = await pool.request("POST", f"/api/windows/{w}/call-next", None, auth[w])
                holding[w] = status == 200
                errors += status >= 400
                if status == 204:
                    if issued >= tickets:
                        return  # every ticket issued and none waits for this window
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(kiosk(k) for k in range(4)), *(window(w) for w in auth))
    return {"issued": issued, "http_errors": errors, "pad_ratings": rated}


async def main(args: argparse.Namespace) -> dict:
    server = Server(extra=["--devices", "simulated"], capture_log=True)
    try:
        auth = sign_in_general_windows(server.url)
        services = open_uncapped_services(server.url)
        ws_url = server.url.replace("http", "ws") + "/ws/events"
        pool = Pool("127.0.0.1", server.port, size=32)
        start_seq = json.loads((await pool.request("GET", "/api/hall"))[1])["seq"]
        boards = [Board(ws_url) for _ in range(args.boards)]
        for b in boards:
            b.task = asyncio.create_task(b.run(start_seq))
        await asyncio.sleep(2)
        samples: list[tuple[float, float, int]] = []
        t0 = time.perf_counter()

        async def sample() -> None:
            while True:
                rss, _ = server.rss_mb()
                samples.append((time.perf_counter() - t0, rss, server.open_fds()))
                await asyncio.sleep(args.sample_every)

        sampler = asyncio.create_task(sample())
        result = await drive(pool, auth, services, args.tickets, args.seed, args.rate_share)
        last_seq = json.loads((await pool.request("GET", "/api/hall"))[1])["seq"]
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline and any(b.last < last_seq for b in boards):
            await asyncio.sleep(0.2)
        sampler.cancel()
        for b in boards:
            b.task.cancel()
        pool.close()
        elapsed = time.perf_counter() - t0
        warm = [s for s in samples if s[0] > elapsed * 0.25] or samples
        log_errors = server.log_errors()
        result.update({
            "seconds": elapsed, "boards": args.boards, "events": last_seq - start_seq,
            "boards_caught_up": sum(b.last >= last_seq for b in boards), "board_gaps": sum(b.gaps for b in boards),
            "rss_mb_first_quarter_end": warm[0][1], "rss_mb_end": samples[-1][1],
            "rss_mb_max": max(s[1] for s in samples),
            "fds_first_quarter_end": warm[0][2], "fds_end": samples[-1][2], "fds_max": max(s[2] for s in samples),
            "log_errors": log_errors,
        })
        return result
    finally:
        server.stop()


def report(r: dict) -> None:
    print(f"tickets issued            {r['issued']} in {r['seconds']:.0f} s ({r['events']} events)")
    print(f"board clients             {r['boards']}: caught up {r['boards_caught_up']}, gaps {r['board_gaps']}")
    print(f"pad ratings               {r['pad_ratings']}")
    print(f"memory (RSS)              {r['rss_mb_first_quarter_end']:.0f} MB after warm-up → {r['rss_mb_end']:.0f} MB at end"
          f" (max {r['rss_mb_max']:.0f})")
    print(f"open file descriptors     {r['fds_first_quarter_end']} after warm-up → {r['fds_end']} at end"
          f" (max {r['fds_max']})")
    print(f"HTTP errors               {r['http_errors']}")
    print(f"errors in the log         {len(r['log_errors'])}")
    for line in r["log_errors"][:10]:
        print("   ", line)


def healthy(r: dict) -> bool:
    return (r["board_gaps"] == 0 and r["boards_caught_up"] == r["boards"] and not r["log_errors"]
            and r["http_errors"] == 0 and r["fds_end"] <= r["fds_first_quarter_end"] + 5
            and r["rss_mb_end"] <= r["rss_mb_first_quarter_end"] * 1.25)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickets", type=int, default=20_000)
    p.add_argument("--boards", type=int, default=200)
    p.add_argument("--sample-every", type=float, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate-share", type=float, default=0.2, help="share of services rated on the pad")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    res = asyncio.run(main(a))
    print(json.dumps(res, ensure_ascii=False)) if a.json else report(res)
    sys.exit(0 if healthy(res) else 1)
