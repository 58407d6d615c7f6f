"""Appointments (预约) at the edges: the `[appointments]` section, the table, the HTTP API and the no-show sweep.

The rules are in `domain/appointments.py`; every change goes through `HallService.execute`, and a
check-in issues its ticket through the normal issue path (`service.issue_ticket`) with an idempotency key
derived from the appointment, in the hall's own namespace (no client request_id can reach it), so a
repeated check-in returns the same ticket.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import date, datetime, time
from typing import Any

from fastapi import FastAPI

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.forecast import coming
from hall_controller.core.model import Ticket
from hall_controller.core.passwords import verify_secret
from hall_controller.core.service import HallService
from hall_controller.features.appointments import rules, store
from hall_controller.features.appointments.rules import (
    Appointment,
    AppointmentSettings,
    BookingRequest,
    Status,
)
from hall_controller.features.appointments.settings import settings_of

log = logging.getLogger(__name__)


SWEEP_INTERVAL_S = 60.0
IMPORT_MAX_ROWS = 5000
CSV_COLUMNS = ("service_id", "date", "slot", "name", "phone", "id_number", "channel")


class Appointments:
    """The hall's appointment book over one `HallService`."""

    def __init__(self, service: HallService):
        self.service = service
        # (configured hash, SHA-256 of a presented key) pairs already verified: PBKDF2 runs once per key,
        # not once per booking.
        self._verified: set[tuple[str, str]] = set()

    @property
    def settings(self) -> AppointmentSettings:
        return settings_of(self.service.config)

    def hash(self, value: str) -> str:
        return rules.identity_hash(value, self.settings.identity_key)

    def is_platform_key(self, presented: str) -> bool:
        configured = self.settings.platform_key_hash
        if not configured:
            return False
        seen = (configured, hashlib.sha256(presented.encode("utf-8", "surrogatepass")).hexdigest())
        if seen in self._verified:
            return True
        if verify_secret(presented, configured):
            self._verified.add(seen)
            return True
        return False

    def _select(self, where: str, params: tuple = ()) -> list[Appointment]:
        cols = ", ".join(f'"{c}"' for c in store.FIELDS)
        rows = self.service.ledger.query(f"SELECT {cols} FROM appointments WHERE {where}", params)
        return [store.from_row(tuple(r)) for r in rows]

    def by_code(self, code: str) -> Appointment:
        found = self._select("code = ?", (code.strip(),))
        if not found:
            raise HallError("unknown_appointment", "未找到该预约码，请核对后重新输入。", 404)
        return found[0]

    def by_id(self, appointment_id: str) -> Appointment:
        found = self._select("id = ?", (appointment_id,))
        if not found:
            raise HallError("unknown_appointment", "未找到该预约。", 404)
        return found[0]

    def of_day(self, day: str, service_id: str | None = None) -> list[Appointment]:
        if service_id:
            return self._select("day = ? AND service_id = ? ORDER BY slot_start, booked_at", (day, service_id))
        return self._select("day = ? ORDER BY slot_start, booked_at", (day,))

    def expected(self, now: datetime) -> list[Ticket]:
        """Today's bookings still to come, as the tickets they will be: wait estimates let them go first (at
        their slot's start, or now when it has begun; HallService.expected)."""
        out = []
        for a in self._select("day = ? AND status = ?", (now.date().isoformat(), Status.BOOKED.value)):
            svc = self.service.config.service(a.service_id)
            ends = datetime.combine(date.fromisoformat(a.day), time.fromisoformat(a.slot_end), now.tzinfo)
            if svc is not None and ends > now:
                out.append(coming(f"booked-{a.id}", svc, max(a.start_at(now.tzinfo), now), "appointment",
                                  1 << 61))
        return out

    # ------------------------------------------------------------ slots and booking

    def slots(self, service_id: str, day: str) -> list[dict[str, Any]]:
        svc = self.service.config.service(service_id)
        if svc is None:
            raise HallError("unknown_service", f"未找到事项：{service_id}", 404)
        try:
            d = date.fromisoformat(day)
        except ValueError:
            raise HallError("invalid_date", "日期格式应为 YYYY-MM-DD。", 422) from None
        booked = self.of_day(day, service_id)
        now = self.service.clock.now()
        out = []
        for s in rules.slots(svc, self.service.config, self.settings, d):
            start = f"{s.start:%H:%M}"
            used = rules.taken(booked, service_id, day, start)
            out.append({"start": start, "end": f"{s.end:%H:%M}", "capacity": s.capacity, "booked": used,
                        "available": max(0, s.capacity - used) if datetime.combine(d, s.start, now.tzinfo) > now else 0})
        return out

    def book(self, req: BookingRequest) -> Appointment:
        settings = self.settings
        phone_hash = self.hash(req.phone) if rules.valid_phone(req.phone) else ""
        id_hash = self.hash(req.id_number) if req.id_number else ""

        def decide(now: datetime) -> Decision:
            slot_bookings = self._select("service_id = ? AND day = ?", (req.service_id, req.day))
            history = self._select("phone_hash = ? OR (id_hash IS NOT NULL AND id_hash = ?)", (phone_hash, id_hash))
            a = rules.book(req, secrets.token_hex(8), self._new_code(), now, self.service.config, settings,
                           slot_bookings, history)
            d = Decision(rows=[("appointments", store.row(a))], result=a)
            d.emit("appointment.booked", {"appointment": a.view(), "by": req.booked_by})
            return d

        return self.service.execute(decide)

    def _new_code(self) -> str:
        while True:  # 8 digits: typed on the kiosk's number pad; unique over all bookings ever made
            code = f"{secrets.randbelow(10**8):08d}"
            if not self.service.ledger.query("SELECT 1 FROM appointments WHERE code = ?", (code,)):
                return code

    def cancel(self, code: str | None, by: str, staff: bool, phone: str | None = None,
               appointment_id: str | None = None) -> Appointment:
        """Cancel by the citizen's code, or by id (staff: their list shows no codes)."""
        settings = self.settings

        def decide(now: datetime) -> Decision:
            a = self.by_code(code) if code is not None else self.by_id(appointment_id or "")
            if not staff and (phone is None or self.hash(phone) != a.phone_hash):
                raise HallError("forbidden", "取消预约需提供预约时登记的手机号码。", 403)
            new = rules.cancel(a, now, settings, by, staff)
            d = Decision(result=new)
            if new != a:
                d.rows.append(("appointments", store.row(new)))
                d.emit("appointment.cancelled", {"appointment": new.view(), "by": by})
            return d

        return self.service.execute(decide)

    # ------------------------------------------------------------ check-in

    def find_for_check_in(self, *, code: str | None = None, id_number_hash: str | None = None) -> Appointment:
        """The appointment to check in, by its code or by the ID card swiped on a kiosk: what only its holder
        has. Never by a phone number alone, which others know (and which would hand them the ticket)."""
        if code:
            return self.by_code(code)
        today = self.service.clock.now().date().isoformat()
        if id_number_hash:
            found = self._select("id_hash = ? AND day = ?", (id_number_hash, today))
        else:
            raise HallError("invalid_request", "请输入预约码，或刷身份证签到。", 422)
        if not found:
            raise HallError("unknown_appointment", "未找到您今天的预约，请核对后重试，或直接取号。", 404)
        # Several bookings today: the one open for check-in now, else the next to come.
        now = self.service.clock.now()
        order = {rules.Timing.ON_TIME: 0, rules.Timing.LATE: 1, rules.Timing.EARLY: 2, rules.Timing.MISSED: 3}
        live = [a for a in found if a.status in (Status.BOOKED, Status.CHECKED_IN)] or found
        return min(live, key=lambda a: (a.status != Status.BOOKED, order[rules.timing(a, now, self.settings)], a.slot_start))

    def check_in(self, a: Appointment, channel: str = "appointment", source: str | None = None) -> dict[str, Any]:
        """Issue the appointment's ticket and mark it checked in; a repeat returns the same ticket, with its
        token only to the device (`source`) that checked it in first."""
        key = f"appointment:{a.id}"  # the hall's own idempotency key: no client request_id can reach it
        if a.status == Status.CHECKED_IN:
            if key not in self.service.hall.by_request:
                raise HallError("already_checked_in", f"该预约已签到，号票为 {a.ticket_id}。")
            view = self.service.issue_ticket(a.service_id, channel, key=key, source=source)  # the same ticket
            return {"ticket": view, "appointment": a.view(), "priority": not a.late}
        now = self.service.clock.now()
        try:
            priority = rules.check_in(a, now, self.settings)
        except HallError as exc:
            if exc.code == "check_in_late" and a.status == Status.BOOKED:
                self._refuse_late(a)
            raise
        view = self.service.issue_ticket(
            a.service_id, channel if priority else "kiosk", priority="appointment" if priority else None,
            key=key, appointment_id=a.id, holder=a.id_hash, source=source,
            check_hours=not priority,  # a booked slot was checked against the calendar when it was booked
        )

        def decide(now: datetime) -> Decision:
            current = self.by_id(a.id)
            if current.status == Status.CHECKED_IN:
                return Decision(result=current)
            new = rules.checked_in(current, now, view["id"], priority)
            d = Decision(rows=[("appointments", store.row(new))], result=new)
            d.emit("appointment.checked_in", {"appointment": new.view(), "ticket_id": view["id"],
                                              "number": view["number"], "late": new.late})
            return d

        new = self.service.execute(decide)
        return {"ticket": view, "appointment": new.view(), "priority": priority}

    def _refuse_late(self, a: Appointment) -> None:
        """Record that the citizen came but too late (`late = "refuse"`): not a no-show."""

        def decide(now: datetime) -> Decision:
            current = self.by_id(a.id)
            if current.status != Status.BOOKED:
                return Decision()
            new = rules.refused_late(current, now)
            d = Decision(rows=[("appointments", store.row(new))])
            d.emit("appointment.refused_late", {"appointment": new.view()})
            return d

        self.service.execute(decide)

    # ------------------------------------------------------------ no-shows

    def sweep(self) -> list[Appointment]:
        """Mark bookings whose slot plus grace has passed without check-in as no-shows."""
        settings = self.settings

        def decide(now: datetime) -> Decision:
            booked = self._select("status = ? AND day <= ?", (Status.BOOKED.value, now.date().isoformat()))
            missed = rules.due_no_shows(booked, now, settings)
            d = Decision(rows=[("appointments", store.row(a)) for a in missed], result=missed)
            for a in missed:
                d.emit("appointment.no_show", {"appointment": a.view()})
            return d

        return self.service.execute(decide)

    # ------------------------------------------------------------ CSV import

    def import_csv(self, raw: bytes, by: str) -> dict[str, Any]:
        text = _decode_csv(raw)
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in CSV_COLUMNS if c not in header and c != "id_number"]
        if missing:
            raise HallError("invalid_csv", f"CSV 缺少列：{', '.join(missing)}（第一行应为：{','.join(CSV_COLUMNS)}）。", 422)
        rows = [(line, {k.strip(): (v or "").strip() for k, v in row.items() if k is not None})  # None: extra cells
                for line, row in enumerate(reader, start=2)]
        rows = [(line, row) for line, row in rows if any(row.values())]
        # Counted before anything is booked: a file refused for its size leaves no booking behind.
        if len(rows) > IMPORT_MAX_ROWS:
            raise HallError("csv_too_large", f"一次最多导入 {IMPORT_MAX_ROWS} 条预约（本文件 {len(rows)} 条），"
                            "请分批导入。", 413)
        booked: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for line, row in rows:
            try:
                a = self.book(BookingRequest(
                    service_id=row.get("service_id", ""), day=row.get("date", ""), slot_start=row.get("slot", ""),
                    name=row.get("name", ""), phone=row.get("phone", ""), channel=row.get("channel", ""),
                    booked_by=by, id_number=row.get("id_number") or None,
                ))
                booked.append({"line": line, "code": a.code, "appointment": a.view()})
            except HallError as exc:
                errors.append({"line": line, "error": exc.code, "message": exc.message})
        self.service.execute(lambda now: Decision(events=[("appointment.imported", {
            "by": by, "imported": len(booked), "failed": len(errors)})]))
        return {"imported": len(booked), "failed": len(errors), "booked": booked, "errors": errors}


def _decode_csv(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")  # Excel in a Chinese locale saves CSV as GBK
        except UnicodeDecodeError:
            raise HallError("invalid_csv", "CSV 文件编码无法识别，请另存为 UTF-8。", 422) from None


async def sweeper(app: FastAPI) -> AsyncIterator[None]:
    book: Appointments = app.state.appointments

    async def loop() -> None:
        while True:
            try:
                await book.service.call(book.sweep)
            except HallError as exc:  # storage unavailable: try again next round
                log.warning("no-show sweep failed: %s", exc.message)
            await asyncio.sleep(SWEEP_INTERVAL_S)

    task = asyncio.create_task(loop(), name="appointments-no-show-sweep")
    yield
    task.cancel()
