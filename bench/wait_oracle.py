"""The best any wait estimate could do on the demo hall's day: an oracle re-simulates the future.

For a sample of tickets per seed, the simulator's whole state at the moment the ticket is issued is copied
and the rest of the day played again `--reps` times with fresh randomness: the service times of everyone
not yet called (and whether they turn up), the arrivals still to come (walk-ins and appointments) and the
breaks not yet begun, and the rest of each service in progress (drawn from its distribution beyond the time
it has lasted; with --knows-services the oracle keeps their true lengths, which no estimate can know). The
median of those waits is the oracle's estimate: the point minimising the expected absolute error given
everything the simulator knows at issue (each matter's true service-time distribution, the day's arrival
profile, every window's shift). Its mean absolute error against the wait the ticket really had is, up to
the sample's noise, a lower bound for any estimator's.

    .venv/bin/python bench/wait_oracle.py [--seeds 1-10] [--sample 40] [--reps 15] [--knows-services]
"""

from __future__ import annotations

import argparse
import copy
import heapq
import math
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from estimates import seeds

from hall_controller.app import load_config
from hall_controller.core.model import TicketStatus
from hall_controller.features.simulation import demand
from hall_controller.features.simulation import simulate as sim

DEMO = Path(__file__).resolve().parent.parent / "config" / "demo-hall.toml"


class Oracle(sim._Run):
    """A simulated day that, at each sampled ticket's issue, plays the rest of the day again `reps` times."""

    def __init__(self, cfg, day, seed: int, sample: set[int], reps: int, fair: bool = True):
        super().__init__(cfg, day, 300, estimates=True)
        self.fair = fair
        self.seed, self.sample, self.reps = seed, sample, reps
        self.settings = demand.settings_of(cfg)
        self.oracle: dict[str, list[float]] = {}

    def _arrive(self, i: int) -> None:
        before = len(self.hall.tickets)
        super()._arrive(i)
        if i in self.sample and len(self.hall.tickets) > before:
            tid = max(self.hall.tickets.values(), key=lambda t: t.issued_at).id
            if self.hall.tickets[tid].status == TicketStatus.WAITING:
                self.oracle[tid] = [self._replay(tid, r) for r in range(self.reps)]
            else:
                self.oracle[tid] = [0.0]

    def _fresh_rest(self, run: sim._Run, event: tuple, rng: random.Random) -> tuple:
        """A service in progress: a fresh length, drawn given how long it has lasted (lognormal beyond it)."""
        _, kind, n, wid = event
        ticket = run.hall.tickets.get(run.hall.windows[wid].ticket_id or "")
        if ticket is None or run.holding.get(wid) or ticket.called_at is None:
            return event
        began = (ticket.called_at - run.start).total_seconds()
        mu, sigma = demand.lognormal_params(self.cfg.service(ticket.service_id).minutes * 60,
                                            self.settings.service_cv_of(ticket.service_id))
        normal = statistics.NormalDist()
        low = normal.cdf((math.log(max(run.now_s - began, 1e-9)) - mu) / sigma)
        u = low + (1 - low) * rng.random()
        length = math.exp(mu + sigma * normal.inv_cdf(min(max(u, 1e-12), 1 - 1e-12)))
        return (max(began + length, run.now_s), kind, n, wid)

    def _replay(self, tid: str, rep: int) -> float:
        keep = {id(self.cfg): self.cfg, id(self.hall.config): self.hall.config}
        run = copy.deepcopy(self, keep)
        run.__class__ = sim._Run  # no oracle inside the oracle
        run.estimates = None
        rng = random.Random(f"oracle-{self.seed}-{tid}-{rep}")
        draw = sim.sampler(self.cfg, self.settings, rng, False)
        for t, a in run.arrival_of.items():  # everyone not called yet: a fresh service time and turn-up
            if run.hall.tickets[t].status == TicketStatus.WAITING:
                run.arrival_of[t] = replace(a, service_s=draw(a.service_id), no_show=rng.random() < self.settings.no_show_share)
        if self.fair:
            run.heap = [self._fresh_rest(run, e, rng) if e[1] == sim._DONE else e for e in run.heap]
        fresh = sim.draw_day(self.cfg, 100_000 + self.seed * 1000 + rep)
        run.heap = [e for e in run.heap if e[1] not in (sim._ARRIVE, sim._BREAK)]
        past = [a for a in self.day.arrivals if a.at <= self.now_s]
        future = [a for a in fresh.arrivals if a.at > self.now_s]
        run.day = replace(self.day, arrivals=tuple(past + future))
        for k, a in enumerate(future, start=len(past)):
            run.heap.append((a.at, sim._ARRIVE, 10**9 + k, k))
        for at, wid, length in fresh.breaks:
            if at > self.now_s:
                run.heap.append((at, sim._BREAK, 2 * 10**9 + len(run.heap), (wid, length)))
        heapq.heapify(run.heap)
        handlers = {sim._ARRIVE: run._arrive, sim._DONE: run._done, sim._OPEN: run._open, sim._CLOSE: run._close,
                    sim._BREAK: run._break, sim._RESUME: run._resume, sim._SAMPLE: run._sample}
        ticket = run.hall.tickets[tid]
        while run.heap and ticket.status == TicketStatus.WAITING:
            t, kind, _, payload = heapq.heappop(run.heap)
            if run.waiting:
                run.waited_integral += t - run.now_s
            run.now_s = t
            handlers[kind](payload)
            ticket = run.hall.tickets[tid]
        end = ticket.called_at or run._now()
        return (end - ticket.issued_at).total_seconds() / 60


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1-10")
    p.add_argument("--sample", type=int, default=40, help="tickets per seed")
    p.add_argument("--reps", type=int, default=15, help="replays per ticket")
    p.add_argument("--knows-services", action="store_true",
                   help="the oracle also knows how long the services in progress will last (else redrawn beyond "
                        "the time they have lasted)")
    args = p.parse_args()
    cfg = sim.sim_config(load_config(DEMO))
    rows = []  # (waited, oracle median, oracle mean, kiosk estimate) minutes
    started = time.perf_counter()
    for s in seeds(args.seeds):
        day = sim.draw_day(cfg, s)
        sample = set(random.Random(f"sample-{s}").sample(range(len(day.arrivals)), min(args.sample, len(day.arrivals))))
        o = Oracle(cfg, day, s, sample, args.reps, fair=not args.knows_services)
        o.result()
        got = []
        for tid, waits in o.oracle.items():
            t, est = o.hall.tickets[tid], o.estimates[tid]
            if t.called_at is None or est.wait_s is None:
                continue
            got.append(((t.called_at - t.issued_at).total_seconds() / 60, statistics.median(waits),
                        statistics.fmean(waits), est.wait_s / 60))
        rows += got
        print(f"seed {s:2d}: {line(got)}", flush=True)
    print(f"all ({time.perf_counter() - started:.0f} s): {line(rows)}")


def line(rows) -> str:
    n = len(rows)
    mean = sum(r[0] for r in rows) / n
    def mae(k):
        return sum(abs(r[k] - r[0]) for r in rows) / n
    return (f"{n} tickets, mean wait {mean:.1f} min; MAE oracle median {mae(1):.2f} min ({mae(1) / mean:.0%}), "
            f"oracle mean {mae(2):.2f} ({mae(2) / mean:.0%}), kiosk estimate {mae(3):.2f} ({mae(3) / mean:.0%})")


if __name__ == "__main__":
    main()
