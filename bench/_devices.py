"""The demo hall's simulated devices in a process of their own, as real ones are hardware outside the
controller: every `"sim"` bus and printer of a config served on loopback. Prints one JSON line
`{"buses": [url, …], "printers": [url, …]}` (config order) and serves until stdin closes.

    .venv/bin/python bench/_devices.py config/demo-hall.toml
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from drivers.printer_sim import PrinterSimulator  # noqa: E402
from drivers.simulators import SimBus  # noqa: E402
from hall_controller.app import load_config  # noqa: E402
from hall_controller.features.devices.hub import sim_device  # noqa: E402
from hall_controller.features.devices.settings import SIM, DeviceSettings  # noqa: E402


async def main(config_path: str) -> None:
    settings: DeviceSettings = load_config(config_path).sections["devices"]
    buses = []
    for spec in settings.buses:
        if spec.port == SIM:
            sim = SimBus([sim_device(d.kind, d.address) for d in spec.devices], baudrate=spec.baud)
            await sim.serve_tcp("127.0.0.1")
            buses.append(sim)
    printers = [PrinterSimulator("127.0.0.1") for p in settings.printers if p.connection == SIM]
    print(json.dumps({"buses": [b.url for b in buses], "printers": [p.url for p in printers]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the benchmark closes it
    for b in buses:
        await b.close()
    for p in printers:
        p.unplug()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
