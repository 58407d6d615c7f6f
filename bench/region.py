"""Region benchmark: 100 simulated halls, each a day of tickets, replayed at speed into one region.

Each hall's day is made by the real hall service on its own SQLite ledger (sign-ins, tickets issued,
called and finished, ratings, 差评 cases); the halls then stream with the real `Streamer` (the hall side of
features/region) to a real `hall-controller region serve` on a PostgreSQL cluster of this machine's
postgresql-15 (fsync on). Prints:

- ingest: events per second until every hall is caught up (goal ≥ 20,000/s), with the CPU each event cost
  the region, PostgreSQL and the halls' streamers (all on this machine's cores here; a hall's own machine
  does its part in a real region), and the region board's GET /api/region/overview p95 idle and while
  ingesting (goal < 100 ms);
- ingest, the region's side alone: the same days as the halls' posts, made before the clock starts
  (`replay_halls`), so the rate is the region's and PostgreSQL's with the halls' work off these cores;
- catch-up: one hall that was offline for a whole day sends its day (seconds);
- PostgreSQL stopped mid-run (`--pg-stop`, seconds; 60 for the issue's minute): a live hall keeps
  issuing tickets meanwhile (its p95 before and during), and the time the region needs to catch up after
  PostgreSQL is back;
- per-hall counts in PostgreSQL against each hall's own ledger: lost and doubled events (goal 0 and 0).

    .venv/bin/python bench/region.py [--halls 100] [--tickets 600] [--pg-stop 60] [--clients 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hall_controller.app import load_config, open_ledger  # noqa: E402
from hall_controller.core.clock import ManualClock  # noqa: E402
from hall_controller.core.errors import HallError  # noqa: E402
from hall_controller.core.service import HallService  # noqa: E402
from hall_controller.features.ratings.service import record_rating  # noqa: E402
from hall_controller.features.platform.rules import backoff  # noqa: E402
from hall_controller.features.region.rules import INGEST_PATH, RegionSettings, to_region  # noqa: E402
from hall_controller.features.region.service import Streamer  # noqa: E402
from region.store import Store  # noqa: E402
from tests.conftest import DEMO_CONFIG, demo_staff, free_port  # noqa: E402
from tests.pg import Cluster  # noqa: E402
from tests.region.servers import wait_for  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 11, 23, 8, 30, tzinfo=TZ)
LEVELS = (1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 4, 5)  # mostly 非常满意, a few 差评


def make_day(path: Path, tickets: int, seed: int) -> int:
    """A hall's working day through the real service: every window staffed, `tickets` arrivals spread over the
    issuing hours, each window calling and finishing, 60 % of services rated. Returns the ledger's last seq."""
    cfg = load_config(DEMO_CONFIG)
    clock = ManualClock(DAY)
    svc = HallService(cfg, open_ledger(path), clock)
    rnd = random.Random(seed)
    for window_id, (staff_id, pin) in demo_staff().items():
        svc.sign_in(window_id, staff_id, pin)
    services = [s.id for s in cfg.services]
    windows = list(demo_staff())
    busy: dict[str, tuple[float, str]] = {}  # window → (minute its service ends, ticket id)
    minutes = 9 * 60
    for minute in range(minutes):
        clock.current = DAY + timedelta(minutes=minute)
        for _ in range(_poisson(rnd, tickets / minutes * 1.3)):  # some are refused outside issuing hours
            try:
                svc.issue_ticket(rnd.choice(services), "kiosk")
            except HallError:
                pass
        for w in windows:
            if w in busy and busy[w][0] <= minute:
                try:
                    t = svc.window_command(w, "finish")
                    if rnd.random() < 0.6:
                        record_rating(svc, t.id, rnd.choice(LEVELS), "pad")
                except HallError:
                    pass
                del busy[w]
            if w not in busy:
                try:
                    t = svc.window_command(w, "call-next")
                except HallError:
                    continue
                if t is not None:
                    busy[w] = (minute + rnd.uniform(3, 15), t.id)
    last = svc.ledger.last_seq
    svc.ledger.close()
    return last


def _poisson(rnd: random.Random, mean: float) -> int:
    n, limit, p = 0, pow(2.718281828, -mean), rnd.random()
    while p > limit:
        n += 1
        p *= rnd.random()
    return n


def _timed(halls: list[tuple[str, str, str]], one, ready) -> tuple[float, float, float]:
    """Every hall's `one(hall id, client)` at once on a shared client, after the barrier `ready` if any:
    the wall-clock start and end, and the CPU seconds meanwhile."""
    async def all_() -> tuple[float, float, float]:
        limits = httpx.Limits(max_connections=len(halls), max_keepalive_connections=len(halls))
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            if ready is not None:
                ready.wait()
            start, cpu = time.time(), time.process_time()
            await asyncio.gather(*(one(h, client) for h, _, _ in halls))
            return start, time.time(), time.process_time() - cpu
    return asyncio.run(all_())


def stream_halls(url: str, halls: list[tuple[str, str, str]], batch: int, ready=None, results=None
                 ) -> tuple[float, float, float]:
    """Stream each (hall id, key, ledger path) until the region holds its whole ledger; returns the wall-clock
    start and end, and the CPU seconds streaming took. In a client process `ready` (a barrier) starts every client at once and `results` (a
    queue) takes the answer."""
    services = {hid: HallService(load_config(DEMO_CONFIG), open_ledger(path), ManualClock(DAY))
                for hid, _, path in halls}

    keys = {hid: key for hid, key, _ in halls}

    async def one(hid: str, client: httpx.AsyncClient) -> None:
        s = Streamer(services[hid], RegionSettings(url=url, hall_id=hid, key=keys[hid], batch_size=batch))
        failures = 0
        while s.behind():
            try:
                await s.round(client)
                failures = 0
            except Exception:  # the region or its database down: back off as the hall's streamer does
                failures += 1
                await asyncio.sleep(backoff(failures, s.s.retry_base_s, s.s.retry_max_s) * random.uniform(0.8, 1.0))

    try:
        span = _timed(halls, one, ready)
    finally:
        for svc in services.values():
            svc.ledger.close()
    if results is not None:
        results.put(span)
    return span


def replay_halls(url: str, halls: list[tuple[str, str, str]], batch: int, ready=None, results=None
                 ) -> tuple[float, float, float]:
    """The region's side alone: each hall's posts, exactly as its `Streamer` makes them (to_region, batches
    of `batch` events, orjson), made before the clock starts, then sent in turn after the region's answer —
    the halls' own work (reading the ledger, encoding) done beforehand, as it is on the halls' own machines
    in a real region. Same arguments and answer as `stream_halls`."""
    posts: dict[str, tuple[str, dict[int, bytes], int]] = {}
    for hid, key, path in halls:
        svc = HallService(load_config(DEMO_CONFIG), open_ledger(path), ManualClock(DAY))
        events = [to_region(e) for e in svc.ledger.events_since(0, 10**9)]
        last = svc.ledger.last_seq
        svc.ledger.close()
        posts[hid] = (key, {i: orjson.dumps({"hall_id": hid, "hall_name": hid, "last_seq": last,
                                             "events": events[i:i + batch]})
                            for i in range(0, len(events), batch)}, last)

    async def one(hid: str, client: httpx.AsyncClient) -> None:
        key, bodies, last = posts[hid]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        acked = 0
        while acked < last:
            r = await client.post(url + INGEST_PATH, content=bodies[acked], headers=headers)
            acked = r.raise_for_status().json()["acked"]

    span = _timed(halls, one, ready)
    if results is not None:
        results.put(span)
    return span


def run_clients(url: str, halls: list[tuple[str, str, str]], clients: int, batch: int, target=stream_halls
                ) -> tuple[float, float]:
    """The halls shared out among `clients` processes, started together; returns the seconds from the start
    until the last hall is caught up and the clients' CPU seconds meanwhile (process start-up, ledger opening
    and a replay's making of its posts not counted)."""
    ctx = multiprocessing.get_context("spawn")
    shares = [share for share in (halls[i::clients] for i in range(clients)) if share]
    ready, results = ctx.Barrier(len(shares)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, share, batch, ready, results)) for share in shares]
    for p in procs:
        p.start()
    spans = [results.get() for _ in procs]
    for p in procs:
        p.join()
    return max(e for _, e, _ in spans) - min(s for s, _, _ in spans), sum(c for _, _, c in spans)


class BoardProbe(threading.Thread):
    """Reads the region board every `every` seconds and keeps each answer's latency."""

    def __init__(self, url: str, headers: dict[str, str], every: float = 0.1):
        super().__init__(daemon=True)
        self.url, self.headers, self.every = url, headers, every
        self.times: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30, headers=self.headers) as c:
            while not self.stop.is_set():
                t = time.perf_counter()
                try:
                    ok = c.get(f"{self.url}/api/region/overview").status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.times.append(time.perf_counter() - t)
                else:
                    self.errors += 1
                self.stop.wait(self.every)


def p95(xs: list[float]) -> float | None:
    return statistics.quantiles(xs, n=20)[-1] if len(xs) >= 20 else (max(xs) if xs else None)


def main(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="region-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    cluster = Cluster(durable=True).init().start()
    region = None
    out: dict = {"halls": args.halls, "tickets_per_hall": args.tickets, "pg_stop_s": args.pg_stop,
                 "workers": args.workers, "batch": args.batch}
    try:
        # The halls' days: a few distinct days made by the real service, copied to every hall's ledger.
        t = time.perf_counter()
        days = []
        for i in range(args.days):
            path = work / f"day{i}.db"
            days.append((path, make_day(path, args.tickets, seed=i + 1)))
        out["make_days_s"] = round(time.perf_counter() - t, 1)

        store = Store(cluster.dsn, TZ, min_size=1, max_size=2).open()

        def halls(prefix: str, n: int) -> list[tuple[str, str, str]]:
            out_ = []
            for i in range(n):
                hid = f"{prefix}{i + 1:03d}"
                src, _ = days[i % len(days)]
                dst = work / f"{hid}.db"
                shutil.copy(src, dst)
                out_.append((hid, store.add_hall(hid, f"{prefix}第{i + 1}大厅"), str(dst)))
            return out_

        port = free_port()
        region = subprocess.Popen([sys.executable, "-m", "hall_controller.cli", "region", "serve", "--dsn", cluster.dsn,
                                   "--port", str(port), "--pool", str(args.pool), "--workers", str(args.workers),
                                   "--clock-start", DAY.replace(hour=17).isoformat()], cwd=ROOT,
                                  stdout=open(work / "region.log", "ab"), stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200, "region start", timeout=90)
        store.add_user("bench", "基准测试", "bench-password")  # the board is read as a signed-in region user
        token = httpx.post(f"{url}/api/region/sign-in", json={"user_id": "bench", "password": "bench-password"},
                           timeout=30).json()["token"]
        reader = {"Authorization": f"Bearer {token}"}

        # 1. Ingest: every hall's day at once.
        first = halls("H", args.halls)
        total = sum(_last_seq(p) for _, _, p in first)
        load_before = load_average()
        cpu = Cpu(region.pid, cluster)
        elapsed, halls_s = run_clients(url, first, args.clients, args.batch)
        region_s, pg_s = cpu.used()
        halls_us = halls_s * 1e6 / total
        # CPU per event: what ingest cost the region and PostgreSQL. On an idle machine of two cores that is the
        # rate the region could take (the halls run elsewhere); wall-clock figures here share two cores with
        # the bench's own hall clients and whatever else runs.
        region_us, pg_us = region_s * 1e6 / total, pg_s * 1e6 / total
        out.update(events=total, ingest_s=round(elapsed, 2), events_per_s=round(total / elapsed),
                   load_average=[load_before, load_average()],
                   ingest_cpu_us_per_event={"region": round(region_us, 1), "postgresql": round(pg_us, 1),
                                            "halls_streaming": round(halls_us, 1)},
                   events_per_s_on_two_idle_cores=round(2e6 / (region_us + pg_us)))
        idle = []
        cpu = Cpu(region.pid, cluster)
        with httpx.Client(headers=reader) as c:
            for _ in range(100):
                t = time.perf_counter()
                c.get(f"{url}/api/region/overview").raise_for_status()
                idle.append(time.perf_counter() - t)
        board_region_s, board_pg_s = (x / 100 for x in cpu.used())
        out.update(board_p95_ms_idle=_ms(p95(idle)), board_cpu_ms_per_read={
            "region": _ms(board_region_s), "postgresql": _ms(board_pg_s)})

        # 1b. The region's own rate: the same days replayed as the halls' posts, made before the clock starts.
        replayed = halls("R", args.halls)
        replay_total = sum(_last_seq(p) for _, _, p in replayed)
        load_before = load_average()
        cpu = Cpu(region.pid, cluster)
        elapsed, halls_s = run_clients(url, replayed, args.clients, args.batch, target=replay_halls)
        region_s, pg_s = cpu.used()
        region_us, pg_us = region_s * 1e6 / replay_total, pg_s * 1e6 / replay_total
        out.update(replay_events=replay_total, replay_s=round(elapsed, 2),
                   replay_events_per_s=round(replay_total / elapsed), replay_load_average=[load_before, load_average()],
                   replay_cpu_us_per_event={"region": round(region_us, 1), "postgresql": round(pg_us, 1),
                                            "halls_posting": round(halls_s * 1e6 / replay_total, 1)})

        # 2. A hall offline for a whole day catches up on its own.
        (late,) = halls("L", 1)
        start, end, _ = stream_halls(url, [late], args.batch)
        out.update(catch_up_events=_last_seq(late[2]), catch_up_s=round(end - start, 2))

        # 3. PostgreSQL stopped mid-run: the halls stream a second day while the database is down for a while.
        second = halls("P", args.halls)
        live = LiveHall(work / "live.db")
        live.start()
        probe = BoardProbe(url, reader)  # the board read all along: while the halls stream, and with PostgreSQL stopped
        probe.start()
        streaming = threading.Thread(target=run_clients, args=(url, second, args.clients, args.batch))
        streaming.start()
        time.sleep(2)
        before_stop = live.latencies[:]
        cluster.stop()
        stopped = time.perf_counter()
        time.sleep(args.pg_stop)
        during = live.latencies[len(before_stop):]
        cluster.start()
        restarted = time.perf_counter()
        streaming.join()
        probe.stop.set()
        probe.join()
        caught_up = time.perf_counter()
        live.stop.set()
        live.join()
        out.update(board_p95_ms_ingesting=_ms(p95(probe.times)), board_reads_ingesting=len(probe.times),
                   board_refused_while_pg_stopped=probe.errors, pg_stopped_s=round(restarted - stopped, 1),
                   pg_catch_up_after_restart_s=round(caught_up - restarted, 1),
                   live_hall_issued_during_stop=len(during), live_hall_p95_ms_before=_ms(p95(before_stop)),
                   live_hall_p95_ms_during_stop=_ms(p95(during)), live_hall_refused=live.errors)

        # 4. Every hall's events in PostgreSQL equal its own ledger: none lost, none twice.
        counts = store.counts()
        seqs = {r["hall_id"]: (r["n"], r["max"]) for r in store.records(
            "SELECT hall_id, count(DISTINCT seq) AS n, max(seq) AS max FROM events GROUP BY hall_id")}
        lost = doubled = 0
        for hid, _, path in (*first, *replayed, late, *second):
            own = _last_seq(path)
            held = counts.get(hid, 0)
            lost += max(0, own - seqs.get(hid, (0, 0))[0])
            doubled += held - seqs.get(hid, (0, 0))[0] + max(0, held - own)
        out.update(halls_checked=len(first) + len(replayed) + 1 + len(second), lost=lost, doubled=doubled)
        store.close()
    finally:
        if region is not None:
            region.terminate()
            region.wait()
        cluster.destroy()
        shutil.rmtree(work, ignore_errors=True)
    return out


class LiveHall(threading.Thread):
    """A hall serving while the region's database is down: issues a ticket every 200 ms on its own ledger,
    through its services in turn (each has a daily cap)."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.clock = ManualClock(DAY.replace(hour=9))
        self.svc = HallService(load_config(DEMO_CONFIG), open_ledger(path), self.clock)
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        services = [s.id for s in self.svc.config.services]
        n = 0
        while not self.stop.is_set():
            t = time.perf_counter()
            n += 1
            self.clock.advance(seconds=5)
            try:
                self.svc.issue_ticket(services[n % len(services)], "kiosk")
                self.latencies.append(time.perf_counter() - t)
            except HallError as exc:  # a service's daily cap or issuing hours: the hall's rules, not the region
                self.errors[exc.code] = self.errors.get(exc.code, 0) + 1
            self.stop.wait(0.2)
        self.svc.ledger.close()


def proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds a process has used (with its reaped children's when asked)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live children and those that ended: the PostgreSQL postmaster and its
    backends, or `region serve` and its workers."""
    total = proc_cpu(pid, children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                total += proc_cpu(int(stat.parent.name))
        except (OSError, ValueError):
            pass
    return total


def pg_cpu(cluster: Cluster) -> float:
    return tree_cpu(int((cluster.data / "postmaster.pid").read_text().split()[0]))


class Cpu:
    """CPU seconds of the region process and of PostgreSQL between two readings."""

    def __init__(self, region_pid: int, cluster: Cluster):
        self.pid, self.cluster = region_pid, cluster
        self.region, self.pg = tree_cpu(region_pid), pg_cpu(cluster)

    def used(self) -> tuple[float, float]:
        return tree_cpu(self.pid) - self.region, pg_cpu(self.cluster) - self.pg


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


def _last_seq(path: str) -> int:
    import sqlite3

    with sqlite3.connect(path) as c:
        return c.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 1)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--halls", type=int, default=100)
    p.add_argument("--tickets", type=int, default=600, help="arrivals in each hall's day")
    p.add_argument("--days", type=int, default=4, help="distinct days made, shared out among the halls")
    p.add_argument("--pg-stop", type=float, default=60, help="seconds PostgreSQL is stopped mid-run")
    p.add_argument("--clients", type=int, default=2, help="processes the halls' streamers run in")
    p.add_argument("--batch", type=int, default=500, help="events per post ([region] batch_size)")
    p.add_argument("--workers", type=int, default=2, help="`region serve --workers` (one per core: 2 here)")
    p.add_argument("--pool", type=int, default=4, help="`region serve --pool`: posts taken at once, per worker")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    r = main(a)
    if a.json:
        print(json.dumps(r, ensure_ascii=False))
    else:
        print(f"{r['halls']} halls, {r['events']} events (a day of ~{r['tickets_per_hall']} tickets each; days made in "
              f"{r['make_days_s']} s)")
        print(f"ingest: {r['events_per_s']} events/s ({r['ingest_s']} s, load average {r['load_average']})  "
              f"goal >= 20,000/s")
        print(f"ingest CPU per event: {r['ingest_cpu_us_per_event']} µs → "
              f"{r['events_per_s_on_two_idle_cores']} events/s on two idle cores")
        print(f"ingest, the region's side alone (the halls' posts made beforehand, as on their own machines): "
              f"{r['replay_events_per_s']} events/s ({r['replay_events']} events in {r['replay_s']} s, load average "
              f"{r['replay_load_average']}); CPU per event {r['replay_cpu_us_per_event']} µs")
        print(f"region board p95: {r['board_p95_ms_idle']} ms idle (CPU per read {r['board_cpu_ms_per_read']} ms), "
              f"{r['board_p95_ms_ingesting']} ms while 100 halls stream ({r['board_reads_ingesting']} reads; "
              f"{r['board_refused_while_pg_stopped']} answered 503 while PostgreSQL was stopped)  goal < 100 ms")
        print(f"catch-up of a hall offline for a day: {r['catch_up_events']} events in {r['catch_up_s']} s")
        print(f"PostgreSQL stopped {r['pg_stopped_s']} s: live hall issued {r['live_hall_issued_during_stop']} tickets "
              f"meanwhile (p95 {r['live_hall_p95_ms_before']} ms before, {r['live_hall_p95_ms_during_stop']} ms during, "
              f"refused by the hall's own rules: {r['live_hall_refused']}); region caught up {r['pg_catch_up_after_restart_s']} s after restart")
        print(f"{r['halls_checked']} halls checked against their own ledgers: {r['lost']} lost, {r['doubled']} doubled")
