"""What a kiosk does: the catalogue with live waits, issuing (idempotent, with the ID swipe's rules),
appointment check-in, and printing through the device hub — each ticket printed at most once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import HTTPConnection

from hall_controller.core.calendar import (
    describe_periods,
    is_open_day,
    issuing_open,
    issuing_periods,
)
from hall_controller.core.errors import HallError
from hall_controller.core.forecast import coming
from hall_controller.core.model import ACTIVE
from hall_controller.core.service import FORECAST_STALE_S, HallService
from hall_controller.core.settings import Service
from hall_controller.core.waits import WaitEstimate
from hall_controller.features.applications.settings import materials_of, matters_of
from hall_controller.features.appointments.service import Appointments
from hall_controller.features.devices.printers import window_ranges
from hall_controller.http.issuing import devices_of
from hall_controller.features.rota import service as rota
from kiosk_ui.readers import Readers, Swipe
from kiosk_ui.settings import Kiosk, KioskSettings, settings_of

log = logging.getLogger(__name__)

ISSUED_ELSEWHERE = {"ok": False, "code": "issued_elsewhere", "message": "该号票已在签到时发放，请以首次取得的号票为准。"}
NO_PRINTER = {"ok": False, "code": "unavailable", "message": "本机暂不提供打印，请用手机拍下二维码或记下您的号码。"}


MOBILE_SOURCE = "platform"  # tickets the platform's mobile channel took


def source_of(kiosk: Kiosk) -> str:
    """The ticket's `source` for what this kiosk issues: its replays get the token again, no one else's."""
    return f"kiosk:{kiosk.id}"


class KioskDesk:
    def __init__(self, service: HallService, book: Appointments, readers: Readers, devices: Any):
        self.service, self.book, self.readers, self.devices = service, book, readers, devices
        self._printed: dict[str, asyncio.Future[dict[str, Any]]] = {}  # ticket id → print result

    @property
    def settings(self) -> KioskSettings:
        """The running configuration version's: a change made at /admin applies to the next tap."""
        return settings_of(self.service.config)

    def kiosk(self, kiosk_id: str) -> Kiosk:
        k = self.settings.kiosk(kiosk_id)
        if k is None:
            raise HallError("unknown_kiosk", f"未找到取号机：{kiosk_id}", 404)
        return k

    def authorised(self, connection: HTTPConnection, kiosk_id: str) -> Kiosk:
        """The kiosk, if the request carries its key (`X-Kiosk-Key`, http/issuing.py): issuing, check-in and the
        swiped card are the kiosk's own, not anyone's on the hall LAN."""
        kiosk = self.kiosk(kiosk_id)
        devices_of(connection).require(connection, source_of(kiosk))
        return kiosk

    # ------------------------------------------------------------ catalogue

    def catalogue(self) -> list[dict[str, Any]]:
        cfg = self.service.config
        return [{"id": c.id, "name": c.name,
                 "services": [self.service_view(s) for s in cfg.services if s.category_id == c.id]}
                for c in cfg.categories if any(s.category_id == c.id for s in cfg.services)]

    def service_view(self, svc: Service) -> dict[str, Any]:
        cfg = self.service.config
        return {"id": svc.id, "name": svc.name, "category_id": svc.category_id, "pinyin": svc.pinyin,
                "description": svc.description, "time_limit": svc.time_limit, "code": svc.code,
                "basis": svc.basis, "conditions": svc.conditions, "fee": svc.fee, "phone": svc.phone,
                "materials": [{"name": m.name, "required": m.required, "note": m.note}
                              for m in materials_of(cfg, svc)],
                "matters": matters_of(cfg, svc),  # a 一件事 bundle's, shown with its merged material list
                "issuing_hours": describe_periods(issuing_periods(svc, self.service.config.hours)),
                "closed": self.closed_reason(svc), **self.estimate(svc).to_dict()}

    def estimate(self, svc: Service) -> WaitEstimate:
        """The wait of a ticket taken now, behind everyone waiting in its queue (core/waits.py)."""
        now = self.service.clock.now()
        # Numbered after every ticket issued so far: the probe sorts behind all of them.
        probe = coming(svc.id, svc, now)
        expected = self.service.expected_tickets(now)
        with self.service.lock:
            hall = self.service.hall
            queue = hall.waiting.get(svc.category_id)
            ahead = len(queue.normals) + len(queue.priorities) if queue else 0
            return hall.wait_estimate(probe, ahead, now=now, expected=expected, stale_s=FORECAST_STALE_S)

    def closed_reason(self, svc: Service) -> str | None:
        """Why the kiosk cannot issue this service now, in the citizen's words; None when it can."""
        cfg = self.service.config
        now = self.service.clock.now()
        if not is_open_day(now.date(), cfg.hours):
            return "今日为非工作日，大厅不办理业务。"
        if not issuing_open(svc, cfg.hours, now):
            return f"当前不在取号时间，取号时间为{describe_periods(issuing_periods(svc, cfg.hours))}。"
        day = now.date().isoformat()
        if svc.daily_cap is not None and self.service.hall.issued_per_service.get((day, svc.id), 0) >= svc.daily_cap:
            return f"今日号源已取完（每日{svc.daily_cap}个），请明日再来或网上预约。"
        full = self.settings.queue_full_at
        queue = self.service.hall.waiting.get(svc.category_id)
        if full and queue is not None and len(queue) >= full:
            return f"当前排队已满（{len(queue)}人等候），请稍后再取号或网上预约。"
        return None

    # ------------------------------------------------------------ issuing

    async def issue(self, kiosk: Kiosk, service_id: str, request_id: str, swipe_id: str | None,
                    base_url: str) -> dict[str, Any]:
        svc = self.service.config.service(service_id)
        if svc is None:
            raise HallError("unknown_service", f"未找到事项：{service_id}", 404)
        repeat = self.service.is_replay(request_id)
        swipe: Swipe | None = None
        priority = None
        if not repeat:
            try:
                full = self.settings.queue_full_at
                queue = self.service.hall.waiting.get(svc.category_id)
                if full and queue is not None and len(queue) >= full:
                    raise HallError("queue_full", f"“{svc.name}”当前排队已满，请稍后再取号或网上预约。")
                swipe = self.readers.take(kiosk.id, swipe_id)
                if swipe is None:
                    self.admit_unswiped(svc.id)
                else:
                    self.check_daily_limit(swipe.holder, svc)
                    if swipe.elderly and self.settings.elderly_priority:
                        priority = self.settings.elderly_priority
                view = await self.service.call(self.service.issue_ticket, svc.id, "kiosk", priority=priority,
                                               request_id=request_id, holder=swipe.holder if swipe else None,
                                               source=source_of(kiosk))
            finally:
                # Issued or refused, the card has had its turn: the next citizen at this kiosk must not
                # inherit its priority or be counted against its daily limit.
                self.readers.clear(kiosk.id)
        else:
            view = await self.service.call(self.service.issue_ticket, svc.id, "kiosk", request_id=request_id,
                                           source=source_of(kiosk))
        if "token" in view:
            view["status_url"] = f"{base_url}/t/{view['token']}"
        return await self._finish(kiosk, view)

    def admit_unswiped(self, service_id: str) -> None:
        """Refuse a ticket without an ID card for a service the hall issues only to a swiped card: its
        per-person limit must not be skipped by not swiping (nor by the plain API, which has no reader)."""
        if self.settings.swipe_required(service_id) and self.settings.per_person_daily_limit:
            svc = self.service.config.service(service_id)
            raise HallError("swipe_required", f"办理“{svc.name if svc else service_id}”须先在读卡区刷身份证再取号"
                            f"（每人每天限取 {self.settings.per_person_daily_limit} 次）。", 403)

    def check_daily_limit(self, holder: str, svc: Service) -> None:
        """The per-person limit, counted over every channel the person took this service's numbers by."""
        limit = self.settings.per_person_daily_limit
        if not limit:
            return
        day = self.service.clock.now().date().isoformat()
        with self.service.lock:
            taken = sum(1 for t in self.service.hall.tickets.values()
                        if t.day == day and t.holder == holder and t.service_id == svc.id)
        if taken >= limit:
            raise HallError("person_daily_limit",
                            f"您今天已取“{svc.name}”号 {taken} 次，每人每天限取 {limit} 次。如有疑问请咨询服务台。")

    async def issue_mobile(self, service_id: str, holder: str, request_id: str | None, base_url: str
                           ) -> dict[str, Any]:
        """A ticket through the platform's mobile channel for a person it verified (实名): the per-person limit,
        and at most `mobile_per_service` a service a day, so the channel cannot take a day's numbers."""
        svc = self.service.config.service(service_id)
        if svc is None:
            raise HallError("unknown_service", f"未找到事项：{service_id}", 404)
        if request_id is None or not self.service.is_replay(request_id):
            cap = self.settings.mobile_per_service
            day = self.service.clock.now().date().isoformat()
            with self.service.lock:
                taken = sum(1 for t in self.service.hall.tickets.values()
                            if t.day == day and t.channel == "mobile" and t.service_id == svc.id)
            if taken >= cap:
                raise HallError("mobile_cap_reached", f"“{svc.name}”今日手机取号名额已满（每日{cap}个），"
                                "请到大厅自助取号机取号。")
            self.check_daily_limit(holder, svc)
        view = await self.service.call(self.service.issue_ticket, svc.id, "mobile", request_id=request_id,
                                       holder=holder, source=MOBILE_SOURCE)
        if "token" in view:
            view["status_url"] = f"{base_url}/t/{view['token']}"
        return view

    async def check_in(self, kiosk: Kiosk, code: str | None, swipe_id: str | None, base_url: str) -> dict[str, Any]:
        holder = None
        if swipe_id:
            try:
                swipe = self.readers.take(kiosk.id, swipe_id)
            finally:
                self.readers.clear(kiosk.id)  # found or not, the card has had its turn
            holder = swipe.holder if swipe else None
        appointment = self.book.find_for_check_in(code=code, id_number_hash=holder)
        result = await self.service.call(self.book.check_in, appointment, source=source_of(kiosk))
        view = result["ticket"]
        if "token" in view:
            view["status_url"] = f"{base_url}/t/{view['token']}"
        out = await self._finish(kiosk, view)
        out["appointment"] = result["appointment"]
        out["appointment_priority"] = result["priority"]
        return out

    async def _finish(self, kiosk: Kiosk, view: dict[str, Any]) -> dict[str, Any]:
        # No token: the ticket was taken on another device (a repeated check-in), whose QR and print stand.
        token = view.pop("token", None)
        ticket = self.service.hall.tickets.get(view["id"])
        serving = self.service.hall.windows_serving(ticket) if ticket else []
        numbers = sorted(self.service.config.window(w).number for w in rota.hint_windows(self.service, serving))
        priority = self.service.config.priority(view["priority"]) if view.get("priority") else None
        return {"ticket": view, "qr": f"/kiosk/qr/{token}.svg" if token else None,
                "windows": window_ranges(numbers) if numbers else "",
                "priority_name": priority.name if priority else None,
                "print": await self._print_once(kiosk, {**view, "token": token})}

    async def _print_once(self, kiosk: Kiosk, view: dict[str, Any]) -> dict[str, Any]:
        pending = self._printed.get(view["id"])
        if pending is None and view["token"] is None:
            return ISSUED_ELSEWHERE
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._printed[view["id"]] = pending
            pending.set_result(await self._print(kiosk, view))
            self._forget_old()
        return await asyncio.shield(pending)

    async def _print(self, kiosk: Kiosk, view: dict[str, Any]) -> dict[str, Any]:
        if not self.printing_available(kiosk):
            return NO_PRINTER
        try:
            result = await self.devices.print_ticket(kiosk.printer, view)
        except HallError as e:
            log.warning("kiosk %s: print refused: %s", kiosk.id, e.message)
            result = {"ok": False, "code": e.code, "message": e.message}
        except Exception:  # the ticket is committed whatever the printer does: report, never fail the issue
            log.exception("kiosk %s: printing failed", kiosk.id)
            result = {"ok": False, "code": "printer_error", "message": "打印机故障。"}
        if not result.get("ok"):
            result = {**result, "message": f"{result.get('message') or '打印失败'}，号票未能打印。请用手机拍下二维码或记下您的号码。"}
        return result

    def printing_available(self, kiosk: Kiosk) -> bool:
        printers = getattr(self.devices, "printers", None)
        return bool(kiosk.printer) and printers is not None and kiosk.printer in printers

    def printer_status(self, kiosk: Kiosk) -> dict[str, Any]:
        if not self.printing_available(kiosk):
            return {"available": False, "paper": None}
        status = self.devices.printers[kiosk.printer].status
        return {"available": True, "paper": status.paper if status else "unknown",
                "online": status.online if status else None}

    def _forget_old(self) -> None:
        """Print results are only needed for repeats within the day."""
        today = self.service.clock.now().date().isoformat().replace("-", "")
        for tid in [t for t in self._printed if not t.startswith(today)]:
            del self._printed[tid]

    # ------------------------------------------------------------ the mobile page

    def public_ticket(self, token: str, base_url: str) -> dict[str, Any]:
        view = self.service.ticket_by_token(token)
        hall = self.service.hall
        ticket = hall.tickets.get(view["id"])
        # The windows that could call this ticket, and the number each is serving right now (a window
        # between citizens shows none): "正在办理" is the present, not the latest calls.
        window_ids = hall.windows_serving(ticket) if ticket else []
        serving = []
        for wid in window_ids:
            status = hall.windows.get(wid)
            current = hall.tickets.get(status.ticket_id) if status and status.ticket_id else None
            if current is not None and current.status in ACTIVE:
                serving.append({"number": current.number, "window_number": self.service.config.window(wid).number,
                                "status": current.status.value})
        serving.sort(key=lambda s: s["window_number"])
        return {"hall": self.service.config.name, "ticket": view, "now_serving": serving,
                "status_url": f"{base_url}/t/{token}", "at": self.service.clock.now().isoformat()}
