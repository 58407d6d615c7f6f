"""The 办件 at the edges: reading and changing applications through the one write path, the counter's finish
extension, 出件 at the kiosk, notices on the printers, SMS to the citizen and the overdue watch.

Every change is one command (`HallService.execute`): the application row, its event and, where it applies,
the ticket and a notification row commit together. Reads inside a command see the group's earlier writes
(the ledger reads on the writer's connection there).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from drivers.printer import NoticePrint
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.model import ACTIVE, Ticket
from hall_controller.core.service import HallService
from hall_controller.features.applications import rules, store
from hall_controller.features.applications.notify import Notifier, SmsGateway
from hall_controller.features.applications.settings import settings_of

log = logging.getLogger(__name__)


class Applications(store.Register):
    """The hall's 办件 over one `HallService`."""

    def __init__(self, service: HallService, notifier: Notifier | None = None):
        super().__init__(service.ledger.query, lambda: service.config, service.clock.now)
        self.service = service
        self.notifier = notifier
        self.printers: Any = None  # the device hub's printers, when the devices feature runs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()

    # ------------------------------------------------------------ the counter

    def attach(self, window_id: str, no: str, by: str, token: str | None = None, citizen: str | None = None,
               phone: str | None = None, id_hash: str | None = None, system: str | None = None) -> dict[str, Any]:
        """Link a 办件编号 to the window's current ticket (typed, scanned, or sent by the business system)."""
        no = rules.check_number(no)

        def decide(now: datetime) -> Decision:
            t = self.counter_ticket(window_id, token)
            if self.settings.bundle_of(t.service_id):
                raise HallError("bundle_ticket", "“一件事”号票请在办结时按事项分别填写办件编号。", 422)
            if t.application_no and t.application_no != no:
                raise HallError("application_attached", f"该号票已关联办件 {t.application_no}。", 409)
            app = rules.received(no, self.find(no), t, self.service.config, now, by, citizen, phone, id_hash, system)
            t = replace(t, application_no=no)
            d = Decision(tickets=[t], rows=[("applications", store.row(app))], result=app)
            d.emit("application.attached", rules.event_data(app, by=by))
            return d

        return self.view(self.service.execute(decide))

    def on_finish(self, d: Decision, now: datetime, details: dict[str, Any]) -> None:
        """The finish extension: the 办件 each finished matter leaves, a pickup's 办件 closed — in the finish's
        own transaction, so a refused 办件 refuses the finish."""
        if not d.tickets:
            return
        t: Ticket = d.tickets[0]
        s = self.settings
        handed = []  # 出件: what this ticket's finish hands over, and what the counter mailed on it
        for app in self.where("pickup_ticket_id = ? AND status IN ('ready', 'mailed')", (t.id,)):
            if app["status"] == "ready":
                app = rules.picked_up(app, t, now)
                d.rows.append(("applications", store.row(app)))
                d.emit("application.picked_up", rules.event_data(app))
            handed.append(app)
        recorded = []
        # a 出件 ticket carries its 办件编号 for the rating; it records no matter of its own
        matters = [] if t.service_id in (s.pickup_service, s.mailing_service) and not details else \
            rules.matters_of(t, details, s)
        for i, m in enumerate(matters):
            existing = self.find(m.application_no) if m.application_no else (
                self.find(t.application_no) if t.application_no and not s.bundle_of(t.service_id) else None)
            if existing is None and m.application_no is None and t.application_no and not s.bundle_of(t.service_id):
                m = replace(m, application_no=t.application_no)
            app = rules.decide_matter(m, t, existing, i, self.service.config, s, now, strict=bool(details))
            d.rows.append(("applications", store.row(app)))
            notice = rules.notice(app, self.service.config, now)
            d.emit("application.recorded", rules.event_data(app, notice=notice.title if notice else None))
            recorded.append(app)
        if not recorded and not handed:
            return
        if len(recorded) == 1 and not s.bundle_of(t.service_id):
            t = replace(t, application_no=recorded[0]["application_no"])
            d.tickets[0] = t
            d.result = t
        for type_, data in d.events:
            if type_ == "ticket.finished":
                data["ticket"]["application_no"] = t.application_no
                data["applications"] = [{"application_no": a["application_no"], "service_id": a["service_id"],
                                         "service_code": a.get("service_code"), "outcome": a["outcome"],
                                         "status": a["status"]} for a in recorded + handed]

    def on_rating(self, d: Decision, now: datetime, details: dict[str, Any]) -> None:
        """The rating extension: file the rating under its 办件 — the one the pad was invited for, else the
        ticket's — with that 办件's 事项编码 (a 出件 ticket's rating is about the 办件 it handed over)."""
        rating = d.result
        for no in (details.get("application_no"), rating.get("application_no")):
            app = self.find(no) if no else None
            if app is not None and rating["ticket_id"] in (app.get("ticket_id"), app.get("pickup_ticket_id"),
                                                           *(app.get("tickets") or ())):
                d.result = {**rating, "application_no": app["application_no"],
                            "service_code": app.get("service_code") or rating.get("service_code")}
                return

    # ------------------------------------------------------------ after the counter

    def change(self, no: str, by: str, status: str | None = None, note: str | None = None, supplied: bool = False,
               phone: str | None = None, citizen: str | None = None) -> dict[str, Any]:
        """A status change the business system (or staff) reports; 可领取 queues the citizen's SMS."""
        sms = self.settings.sms

        def decide(now: datetime) -> Decision:
            app = self.get(no)
            before = app["status"]
            if phone:
                app = {**app, "phone": phone}
            if citizen:
                app = {**app, "citizen": rules.mask_name(citizen)}
            d = Decision()
            if supplied:
                app = rules.supplied(app, now, by)
                d.emit("application.supplied", rules.event_data(app, by=by))
            if status:
                app = rules.transition(app, status, now, by, note)
                if app["status"] != before:
                    d.emit("application.status_changed", rules.event_data(app, by=by, previous=before, note=note))
                if app["status"] == "ready" and before != "ready" and app.get("phone") and sms.url:
                    d.rows.append(("notifications", self._notification(app, now)))
            d.rows.append(("applications", store.row(app)))
            d.result = app
            return d

        app = self.service.execute(decide)
        self._wake_sender()
        return self.view(app)

    def _notification(self, app: dict[str, Any], now: datetime) -> dict[str, Any]:
        svc = self.service.config.service(app["service_id"])
        params = {"hall": self.service.config.name, "service": svc.name if svc else app["service_id"],
                  "application_no": app["application_no"]}
        return {"id": f"N{now:%Y%m%d}-{secrets.token_hex(5)}", "application_no": app["application_no"],
                "channel": "sms", "phone": app["phone"], "template": self.settings.sms.ready_template,
                "params": json.dumps(params, ensure_ascii=False), "state": "pending", "attempts": 0, "error": None,
                "created_at": now.isoformat(), "sent_at": None}

    def mail(self, no: str, by: str, mailing: rules.Mailing) -> dict[str, Any]:
        """政务专递: record the mailing (address, waybill) instead of a pickup."""

        def decide(now: datetime) -> Decision:
            app = rules.mailed(self.get(no), mailing, now, by)
            d = Decision(rows=[("applications", store.row(app))], result=app)
            d.emit("application.mailed", rules.event_data(app, by=by, waybill=app["delivery"]["waybill"],
                                                          carrier=app["delivery"]["carrier"]))
            return d

        return self.view(self.service.execute(decide))

    def counter_ticket(self, window_id: str, token: str | None) -> Ticket:
        """The window's current ticket, its sign-in checked again inside the command."""
        if token is not None:
            self.service.authorise(token, window_id)
        ws = self.service.hall.windows[self.service.hall.window_config(window_id).id]
        if ws.ticket_id is None:
            raise HallError("no_current_ticket", "本窗口当前没有号票，请先叫号。")
        return self.service.hall.tickets[ws.ticket_id]

    def mail_at_window(self, window_id: str, no: str | None, by: str, mailing: rules.Mailing,
                       token: str | None = None) -> dict[str, Any]:
        """政务专递 at the 统一出件 window: a 可领取 办件 leaves by post instead of being handed over, recorded on
        the ticket the citizen is served on (a 出件 ticket or a 政务专递 registration)."""
        s = self.settings

        def decide(now: datetime) -> Decision:
            t = self.counter_ticket(window_id, token)
            if t.service_id not in (s.pickup_service, s.mailing_service) or not t.service_id:
                raise HallError("not_a_pickup_ticket", "政务专递在统一出件窗口登记：当前号票不是出件或寄递登记号票。", 409)
            number = (no or "").strip() or t.application_no
            if not number:
                raise HallError("application_no_required", "请输入或扫描要寄递的办件编号。", 422,
                                field="application_no")
            app = self.find(rules.check_number(number))
            if app is None:
                raise HallError("unknown_application", f"未找到办件：{number}", 404, field="application_no")
            if app["status"] != "ready":
                raise HallError("not_ready", f"办件 {number} 当前为“{rules.STATUSES[app['status']]}”，"
                                             "只有可领取的办件可以登记寄递。", 409, field="application_no")
            app = rules.mailed(app, mailing, now, by, ticket=t)
            d = Decision(rows=[("applications", store.row(app))], result=app)
            if not t.application_no:  # the rating at this window is about the 办件 mailed
                d.tickets.append(replace(t, application_no=app["application_no"]))
            d.emit("application.mailed", rules.event_data(app, by=by, waybill=app["delivery"]["waybill"],
                                                          carrier=app["delivery"]["carrier"], window_id=window_id,
                                                          pickup_number=t.number))
            return d

        return self.view(self.service.execute(decide))

    def at_window(self, window_id: str) -> list[dict[str, Any]]:
        """The 办件 of the window's current ticket (at the 统一出件 window: what it hands over or mails)."""
        ws = self.service.hall.windows[self.service.hall.window_config(window_id).id]
        return [self.view(a) for a in self.of_ticket(ws.ticket_id)] if ws.ticket_id else []

    def evaluate(self, no: str, by: str, details: dict[str, Any]) -> dict[str, Any]:
        """The business system's "invite the rating": finishes the 办件's ticket if the window still holds it
        (the finish invites the pad), or asks the pad again for a finished one."""
        with self.service.lock:
            held = next(((w, self.service.hall.tickets[ws.ticket_id]) for w, ws in self.service.hall.windows.items()
                         if ws.ticket_id and self.service.hall.tickets[ws.ticket_id].application_no == no), None)
        if held is not None:
            window_id, t = held
            outcome = details.pop("outcome", None)
            self.service.window_command(window_id, "finish", outcome=outcome,
                                        details={"application_no": no, **details})
            return {"finished": True, "invited": True, "ticket_id": t.id, "window_id": window_id}
        app = self.get(no)
        t = self.service.find_ticket(app["ticket_id"]) if app.get("ticket_id") else None
        if t is None or t.status in ACTIVE or not t.window_id:
            raise HallError("not_finished", f"办件 {no} 的号票尚未在窗口办理。", 409)

        def decide(now: datetime) -> Decision:
            d = Decision(result=t)
            w = self.service.config.window(t.window_id)
            d.emit("application.evaluation_requested", {
                **rules.event_data(app, by=by), "ticket": self.service.hall.view(t), "window_id": t.window_id,
                "window_number": w.number if w else None})
            return d

        self.service.execute(decide)
        return {"finished": False, "invited": True, "ticket_id": t.id, "window_id": t.window_id}

    # ------------------------------------------------------------ 出件 at the kiosk

    def ready_for(self, no: str | None, id_hash: str | None) -> list[dict[str, Any]]:
        if no:
            app = self.find(no.strip())
            if app is None or (id_hash and app.get("id_hash") and app["id_hash"] != id_hash):
                raise HallError("unknown_application", "未找到该办件编号，请核对后重新输入。", 404)
            found = [app]
        else:
            found = self.where("id_hash = ? AND status = 'ready'", (id_hash,)) if id_hash else []
            if not found:
                raise HallError("nothing_ready", "未查询到您名下可领取的办件结果。", 404)
        not_ready = [a for a in found if a["status"] != "ready"]
        if not_ready:
            a = not_ready[0]
            raise HallError("not_ready", f"办件 {a['application_no']} 当前为“{rules.STATUSES[a['status']]}”，"
                                         "尚不可领取；办结后将短信通知您。", 409)
        return found

    def link_pickup(self, apps: list[dict[str, Any]]):
        """A rider for the kiosk's issue: the 出件 ticket and its 办件 are linked in the issue's transaction."""
        numbers = [a["application_no"] for a in apps]

        def add(d: Decision) -> None:
            if not d.tickets:  # a repeated request: linked the first time
                return
            t = replace(d.tickets[0], application_no=numbers[0])
            d.tickets[0] = t
            d.result = t
            for no in numbers:
                app = self.get(no)
                if app["status"] != "ready":
                    raise HallError("not_ready", f"办件 {no} 已不可领取。", 409)
                app = rules.pickup_ticket(app, t)
                d.rows.append(("applications", store.row(app)))
                d.emit("application.pickup_issued", rules.event_data(app, pickup_number=t.number))

        return add

    # ------------------------------------------------------------ notices

    def notice_for(self, no: str) -> rules.Notice:
        app = self.get(no)
        n = rules.notice(app, self.service.config, self.service.clock.now())
        if n is None:
            raise HallError("no_notice", f"办件 {no} 当前为“{rules.STATUSES[app['status']]}”，没有需打印的告知书。", 409)
        return n

    def printer_for(self, window_id: str | None) -> str | None:
        s = self.settings
        return s.window_printers.get(window_id or "") or s.notice_printer or None

    async def print_notice(self, no: str, printer_id: str | None = None) -> dict[str, Any]:
        n = self.notice_for(no)
        app = self.get(no)
        printer_id = printer_id or self.printer_for(app.get("window_id"))
        if not printer_id or self.printers is None:
            return {"ok": False, "code": "no_printer", "message": "本窗口未配置打印机，请从业务系统打印告知书。"}
        page = NoticePrint(self.service.config.name, n.title, n.application_no, n.paragraphs, n.items, n.footer)
        return await self.printers.print_notice(printer_id, page)

    def _on_event(self, event: dict[str, Any]) -> None:
        # Called on the committing thread: the printing and the SMS run on the loop, after the COMMIT.
        if self._loop is None:
            return
        if event["type"] == "application.recorded" and event["data"].get("notice"):
            self._loop.call_soon_threadsafe(self._print_after_finish, event["data"]["application_no"])
        elif event["type"] == "application.status_changed":
            self._loop.call_soon_threadsafe(self._wake.set)

    def _print_after_finish(self, no: str) -> None:
        async def run() -> None:
            try:
                result = await self.print_notice(no)
                if not result.get("ok"):
                    log.warning("notice for %s not printed: %s", no, result.get("message"))
            except Exception:  # the 办件 is committed whatever the printer does
                log.exception("printing the notice of %s failed", no)
        asyncio.ensure_future(run())

    def _wake_sender(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    # ------------------------------------------------------------ the watch and the sender

    def check_overdue(self) -> int:
        """One `application.overdue` per missed deadline (a new deadline may alert again)."""
        now = self.service.clock.now()
        late = [a for a in self.where("(status IN ('accepted', 'processing') AND due_at < ?) OR "
                                      "(commitment_due IS NOT NULL AND supplied_at IS NULL AND commitment_due < ?"
                                      " AND status != 'refused')", (now.isoformat(), now.isoformat()))
                if rules.overdue(a, now) and a.get("alerted_due") != rules.watched_due(a)]
        for app in late:
            def decide(now: datetime, no: str = app["application_no"]) -> Decision:
                a = self.get(no)
                due = rules.watched_due(a)
                if not rules.overdue(a, now) or a.get("alerted_due") == due:
                    return Decision()
                a = {**a, "alerted_due": due}
                kind = "commitment" if due == a.get("commitment_due") else "deadline"
                d = Decision(rows=[("applications", store.row(a))])
                d.emit("application.overdue", rules.event_data(a, kind=kind, overdue=True))
                return d
            self.service.execute(decide)
        return len(late)

    async def send_pending(self) -> int:
        """Deliver the pending notifications once each: marked sent in a transaction after the gateway took it
        (the gateway de-duplicates by our id should the mark be lost)."""
        sms = self.settings.sms
        if isinstance(self.notifier, SmsGateway) and self.notifier.s != sms:  # a new configuration version
            await self.notifier.close()
            self.notifier = None
        if self.notifier is None and sms.url:
            self.notifier = SmsGateway(sms)
        if self.notifier is None:
            return 0
        rows = self.service.ledger.records(
            "SELECT * FROM notifications WHERE state = 'pending' ORDER BY created_at LIMIT 20")
        sent = 0
        for n in rows:
            ok, error = await self.notifier.send(n["id"], n["phone"], n["template"], json.loads(n["params"]))

            def decide(now: datetime, n: dict[str, Any] = n, ok: bool = ok, error: str | None = error) -> Decision:
                attempts = n["attempts"] + 1
                state = "sent" if ok else ("failed" if attempts >= 5 else "pending")
                d = Decision(rows=[("notifications", {**n, "state": state, "attempts": attempts, "error": error,
                                                      "sent_at": now.isoformat() if ok else None})])
                if state != "pending":
                    d.emit("application.notified", {"application_id": n["application_no"],
                                                    "application_no": n["application_no"], "channel": n["channel"],
                                                    "ok": ok, "error": error, "notification_id": n["id"]})
                return d

            await self.service.call(self.service.execute, decide)
            sent += ok
            if not ok:
                break
        return sent

    async def run(self) -> None:
        while True:
            try:
                await self.service.call(self.check_overdue)
                await self.send_pending()
            except Exception:  # storage down, a bug: never end the watch
                log.exception("applications watch round failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.check_seconds)
            except TimeoutError:
                pass


def install(app: FastAPI) -> None:
    service: HallService = app.state.service
    sms = settings_of(service.config).sms
    apps = Applications(service, SmsGateway(sms) if sms.url else None)
    app.state.applications = apps
    service.extensions.setdefault("finish", []).append(apps.on_finish)
    service.extensions.setdefault("rating", []).append(apps.on_rating)
    service.bus.listen(apps._on_event)


async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    apps: Applications = app.state.applications
    apps._loop = asyncio.get_running_loop()
    apps._wake = asyncio.Event()
    devices = getattr(app.state, "devices", None)
    apps.printers = getattr(devices, "printers", None)
    task = asyncio.create_task(apps.run(), name="applications watch")
    try:
        yield
    finally:
        task.cancel()
        apps._loop = None
        if apps.notifier is not None:
            await apps.notifier.close()
