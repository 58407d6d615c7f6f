"""Display recovery benchmark: a window display that loses frames, on a simulated 9600-baud bus with line timing.

The hub's timing and device layout (4 windows: keypad, display, pad each — 12 devices); each round sets a new
number on one display while the bus drops frames to it:

- one lost frame: the DISPLAY_TEXT request is not heard once (the retry, same SEQ, brings it);
- a failed command: not heard three times (the request and both retries): the display goes offline, is
  probed at once, and gets the number again.

Printed: set_display → the display showing the new number, p50 / p95 / max in ms. Goal: one lost frame < 300 ms.

    .venv/bin/python bench/reprobe.py [--rounds 30] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from drivers.bus import BusMaster  # noqa: E402
from drivers.protocol import Cmd, DeviceType  # noqa: E402
from drivers.simulators import Fault, SimBus, SimDisplay, SimKeypad, SimPad  # noqa: E402
from hall_controller.features.devices.buses import HUB_TIMING  # noqa: E402

WINDOWS = 4


async def measure(rounds: int, lost: int) -> list[float]:
    devices = [d for w in range(WINDOWS) for d in (SimKeypad(1 + w), SimDisplay(11 + w), SimPad(21 + w))]
    displays = [d for d in devices if isinstance(d, SimDisplay)]
    layout = [(d.address, DeviceType.KEYPAD if isinstance(d, SimKeypad) else
               DeviceType.DISPLAY if isinstance(d, SimDisplay) else DeviceType.PAD) for d in devices]
    out = []

    async def nothing(*_: object) -> None:
        return None

    async with SimBus(devices, line_timing=True, seed=1) as sim:
        await sim.serve_tcp()
        bus = BusMaster(sim.url, layout, on_key=nothing, on_rating=nothing, timing=HUB_TIMING)
        await bus.start()
        try:
            while not all(bus.online(d.address) for d in displays):
                await asyncio.sleep(0.01)
            for n in range(rounds):
                disp = displays[n % WINDOWS]
                lines = (f"A{n:03d}", "周晓梅")
                sim.inject(Fault.DEAF, count=lost,
                           match=lambda f, a=disp.address: f.addr == a and f.command == Cmd.DISPLAY_TEXT)
                started = time.perf_counter()
                bus.set_display(disp.address, list(lines))
                await disp.wait_for(lambda d, want=lines: d.lines == want, timeout=30)
                out.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.3)  # let the bus settle (polls, probes) before the next round
        finally:
            await bus.stop()
    return out


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered)),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]), "max_ms": round(ordered[-1])}


async def main(rounds: int) -> dict[str, dict[str, float]]:
    return {"one lost frame": summary(await measure(rounds, 1)),
            "failed command (3 lost)": summary(await measure(rounds, 3))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args()
    result = asyncio.run(main(a.rounds))
    if a.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        sys.exit(0)
    for name, r in result.items():
        print(f"{name}: {r['n']} rounds, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, max {r['max_ms']} ms")
