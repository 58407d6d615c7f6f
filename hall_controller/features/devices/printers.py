"""Ticket printers (取号打印机): each a blocking ESC/POS client behind its own single-thread executor; a
ticket printed after it is committed, a test page, and the paper and online status watched and recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from drivers.printer import (
    NoticePrint,
    PrinterStatus,
    PrintResult,
    TicketPrint,
    TicketPrinter,
    demo_ticket,
)
from drivers.printer_sim import PrinterSimulator
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.core.waits import WaitEstimate
from hall_controller.features.applications.settings import materials_of
from hall_controller.features.devices.records import DeviceRecords
from hall_controller.features.devices.settings import PrinterSpec
from hall_controller.features.rota import service as rota


def window_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 4, 7] -> "1–4、7"."""
    parts: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if parts and parts[-1][1] == n - 1:
            parts[-1] = (parts[-1][0], n)
        else:
            parts.append((n, n))
    return "、".join(f"{a}–{b}" if b > a + 1 else (f"{a}、{b}" if b == a + 1 else f"{a}") for a, b in parts)


class Printer:
    """One printer: its client, its simulator in the demo, and its last status."""

    def __init__(self, spec: PrinterSpec, url: str, sim: PrinterSimulator | None) -> None:
        self.spec, self.url, self.sim = spec, url, sim
        self.printer = TicketPrinter(url, status_query=spec.status)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"printer-{spec.id}")
        self.status: PrinterStatus | None = None
        self.checked_at: datetime | None = None

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def close(self) -> None:
        self.executor.submit(self.printer.close)
        self.executor.shutdown(wait=True)
        if self.sim is not None:
            self.sim.unplug()

    def view(self) -> dict[str, Any]:
        st = self.status
        return {"id": self.spec.id, "connection": self.url, "simulated": self.sim is not None,
                "paper_width": self.spec.paper_width, "paper": st.paper if st else "unknown",
                "online": st.online if st else None, "error": st.error if st else None,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None}


class Printers(Mapping[str, Printer]):
    """The hall's printers by id."""

    def __init__(self, service: HallService, records: DeviceRecords, status_interval_s: float) -> None:
        self.service, self._records, self._interval = service, records, status_interval_s
        self._printers: dict[str, Printer] = {}
        self._watch: asyncio.Task[None] | None = None

    def __getitem__(self, printer_id: str) -> Printer:
        return self._printers[printer_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._printers)

    def __len__(self) -> int:
        return len(self._printers)

    def add(self, printer: Printer) -> None:
        self._printers[printer.spec.id] = printer

    def start(self) -> None:
        self._watch = asyncio.create_task(self._watch_status(), name="printer status")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for printer in self._printers.values():
            await asyncio.to_thread(printer.close)

    def clear(self, status_interval_s: float) -> None:
        """Forget the printers (stopped): the hub adds them again from new settings."""
        self._printers.clear()
        self._interval = status_interval_s

    async def _watch_status(self) -> None:
        while True:
            for printer in list(self._printers.values()):
                self._status(printer, await printer.run(printer.printer.status))
            await asyncio.sleep(self._interval)

    def _status(self, printer: Printer, status: PrinterStatus) -> None:
        before = printer.status
        printer.status, printer.checked_at = status, self.service.clock.now()
        if before is None or (before.paper, before.online) != (status.paper, status.online):
            self._records.record("printer.status", {"printer_id": printer.spec.id, "paper": status.paper,
                                                    "online": status.online, "error": status.error})

    def printer(self, printer_id: str) -> Printer:
        printer = self._printers.get(printer_id)
        if printer is None:
            raise HallError("unknown_printer", f"未找到打印机：{printer_id}", 404)
        return printer

    async def print_ticket(self, printer_id: str, ticket_view: dict[str, Any]) -> dict[str, Any]:
        """Prints a committed ticket. Never raises for device trouble: the kiosk shows the result instead."""
        printer = self.printer(printer_id)
        page = self.ticket_print(printer.spec, ticket_view)
        return self._result(printer, await printer.run(printer.printer.print_ticket, page))

    async def print_notice(self, printer_id: str, notice: NoticePrint) -> dict[str, Any]:
        """Prints a committed 办件's notice (补正材料通知书, 不予受理告知书) at the printer's paper width."""
        printer = self.printer(printer_id)
        page = replace(notice, paper_width=printer.spec.paper_width)
        return self._result(printer, await printer.run(printer.printer.print_notice, page))

    async def test_print(self, printer_id: str, by: str) -> dict[str, Any]:
        """Prints a test page; recorded, with who asked, before it returns."""
        printer = self.printer(printer_id)
        page = replace(demo_ticket(printer.spec.paper_width), hall_name=self.service.config.name,
                       issued_at=self.service.clock.now(), service_name="打印机测试页")
        result = self._result(printer, await printer.run(printer.printer.print_ticket, page))
        self._records.record("printer.test_printed", {"printer_id": printer_id, "by": by, **result})
        await self._records.flush()
        return result

    def _result(self, printer: Printer, result: PrintResult) -> dict[str, Any]:
        if result.status is not None:
            self._status(printer, result.status)
        return {"ok": result.ok, "code": result.code, "message": result.message}

    def ticket_print(self, spec: PrinterSpec, view: dict[str, Any]) -> TicketPrint:
        cfg = self.service.config
        svc = cfg.service(view["service_id"])
        priority = cfg.priority(view["priority"]) if view.get("priority") else None
        with self.service.lock:  # the hall's memory changes on the ledger's writer thread
            hall = self.service.hall
            ticket = hall.tickets.get(view["id"])
            serving = hall.windows_serving(ticket) if ticket else []
        numbers = [cfg.window(w).number for w in rota.hint_windows(self.service, serving)]
        return TicketPrint(
            hall_name=cfg.name,
            number=view["number"],
            service_name=view.get("service_name") or (svc.name if svc else view["service_id"]),
            category_name=view.get("category_name", ""),
            issued_at=datetime.fromisoformat(view["issued_at"]),
            # The estimate of the view the kiosk shows, so paper and screen say the same (core/waits.py).
            wait_text=WaitEstimate(int(view.get("ahead", 0)), view.get("estimated_wait_s"),
                                   int(view.get("windows_open", 0))).parts,
            status_url=view.get("status_url", ""),
            materials=[(m.name, m.required) for m in materials_of(cfg, svc)] if svc and spec.material_checklist else [],
            priority_label=priority.name if priority else None,
            # A plain hyphen: the en dash (GBK A8 43) is outside GB2312 and cheap printers lack it.
            window_hint=f"请留意 {window_ranges(numbers).replace('–', '-')} 号窗口" if numbers else None,
            paper_width=spec.paper_width,
        )

    def view(self) -> list[dict[str, Any]]:
        return [p.view() for p in self._printers.values()]
