"""Voice benchmark: call → audio start when every window calls at once (the hall opening), one speaker zone
against several.

21 windows each call a ticket within the same second; each zone's `Announcer` (real espeak-ng synthesis
through pyttsx3) hands its WAVs to a sink that takes the utterance's airtime, as the speaker does. Per call
it records announce() → the sink starting that call's first utterance, and how many calls were not said
because they could not start within the bound (`max_delay_s`). Run twice: the whole hall on one speaker,
then the demo hall's three zones.

    .venv/bin/python bench/voice.py [--windows 21] [--zones 3] [--max-delay 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from drivers.voice import Announcer, RecordingSink, Utterance, wav_seconds  # noqa: E402


class Speaker(RecordingSink):
    """Takes each utterance's airtime, and notes when each call's first utterance started."""

    def __init__(self) -> None:
        super().__init__()
        self.started: dict[str, float] = {}
        self._stop = threading.Event()

    def play(self, utterance: Utterance, wav: bytes) -> None:
        if utterance.repeat == 0:
            self.started[utterance.key] = time.monotonic()
        super().play(utterance, wav)
        self._stop.wait(wav_seconds(wav))

    def stop(self) -> None:
        self._stop.set()


async def burst(windows: int, zones: int, max_delay_s: float) -> dict:
    speakers = [Speaker() for _ in range(zones)]
    announcers = [Announcer(s, repeats=2, max_delay_s=max_delay_s) for s in speakers]
    for a in announcers:
        await a.start()
    called: dict[str, float] = {}
    for w in range(1, windows + 1):  # windows 1..n shared out among the zones in blocks, as a hall's floor plan
        zone = (w - 1) * zones // windows
        called[f"t{w}"] = time.monotonic()
        announcers[zone].announce(f"A{w:03d}", w, key=f"t{w}")
    for a in announcers:
        await a.drain()
    for s in speakers:
        s.stop()
    for a in announcers:
        await a.close()
    started = {k: t for s in speakers for k, t in s.started.items()}
    delays = sorted(started[k] - called[k] for k in started)
    expired = sum(a.stats.expired for a in announcers)
    return {
        "windows": windows, "zones": zones, "max_delay_s": max_delay_s, "said": len(delays), "expired": expired,
        "p50_s": round(statistics.median(delays), 1) if delays else None,
        "p95_s": round(delays[min(len(delays) - 1, int(0.95 * len(delays)))], 1) if delays else None,
        "max_s": round(delays[-1], 1) if delays else None,
    }


async def main(args: argparse.Namespace) -> list[dict]:
    return [await burst(args.windows, 1, args.max_delay), await burst(args.windows, args.zones, args.max_delay)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=21)
    parser.add_argument("--zones", type=int, default=3)
    parser.add_argument("--max-delay", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args()
    rows = asyncio.run(main(a))
    if a.json:
        print(json.dumps(rows, indent=2))
        sys.exit(0)
    print("| zones | calls | said | not said (past the bound) | start p50 | p95 | max |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['zones']} | {r['windows']} | {r['said']} | {r['expired']} | {r['p50_s']} s | {r['p95_s']} s | "
              f"{r['max_s']} s |")
