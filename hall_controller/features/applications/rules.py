"""The 办件 (application) and its life, pure: what a counter's finish records, the status machine the window's
business system drives, working-day deadlines, 容缺 commitments, 一件事 bundles and the notices' text.

An application is a plain dict (its table row, lists as lists); every change returns a new dict with a line
more in its `history`. No I/O and no clock: callers pass `now`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hall_controller.core.calendar import add_working_days
from hall_controller.core.errors import HallError
from hall_controller.core.model import OUTCOMES, Ticket, parse_outcome
from hall_controller.core.settings import HallConfig, Material, Service

STATUSES: dict[str, str] = {
    "received": "收件",  # attached to a ticket at the counter, no outcome yet
    "supplement": "待补正",
    "accepted": "受理",
    "processing": "办理中",
    "completed": "办结",
    "refused": "不予受理",
    "ready": "可领取",
    "picked_up": "已领取",
    "mailed": "已寄递",
}
# What the window's business system (or staff) may move an application to, from each status.
NEXT: dict[str, frozenset[str]] = {
    "received": frozenset({"accepted", "refused"}),
    "supplement": frozenset({"accepted", "refused"}),
    "accepted": frozenset({"processing", "completed", "refused"}),
    "processing": frozenset({"completed", "refused"}),
    "completed": frozenset({"ready", "mailed"}),
    "ready": frozenset({"picked_up", "mailed"}),
    "refused": frozenset(),
    "picked_up": frozenset(),
    "mailed": frozenset(),
}
OPEN = ("accepted", "processing")  # the promised deadline runs
# The status a counter outcome (六件制) gives the 办件; 咨询 records none.
BY_OUTCOME = {"immediate": "completed", "promised": "accepted", "joint": "accepted", "escalated": "accepted",
              "supplement": "supplement", "returned": "refused"}
NOTICES = {"supplement": "补正材料通知书", "refused": "不予受理告知书"}
_PROMISED = re.compile(r"(\d+)\s*个?\s*工作日")
_NUMBER = re.compile(r"^[A-Za-z0-9-]{4,40}$")


@dataclass(frozen=True)
class Bundle:
    """一件事一次办: matters done as one, on one ticket of the bundle's own `service`."""

    id: str
    name: str
    service_id: str
    matters: tuple[str, ...]


@dataclass(frozen=True)
class System:
    """A window business system (窗口业务系统) allowed to call the integration API with its key."""

    id: str
    name: str
    key_sha256: str


@dataclass(frozen=True)
class SmsSettings:
    url: str = ""  # empty: no SMS gateway; the citizen sees the result on the ticket page only
    account: str = ""
    key: str = ""
    sign: str = ""  # 短信签名, e.g. 【清河政务】
    ready_template: str = ""  # pre-approved template id of 办件可领取
    timeout_s: float = 5.0


@dataclass(frozen=True)
class ApplicationSettings:
    systems: tuple[System, ...] = ()
    bundles: tuple[Bundle, ...] = ()
    commitment_days: int = 3  # 容缺 materials promised within, when the counter names no date
    pickup_service: str = ""  # the 出件 service a kiosk issues for a ready 办件
    mailing_service: str = ""  # 政务专递 registration at the 出件 window
    window_printers: dict[str, str] = field(default_factory=dict)  # window id -> printer id for notices
    notice_printer: str = ""  # fallback printer (a kiosk's) for notices
    number_prefix: str = "HT"  # the hall's own 办件编号 when the counter names none (补正, 不予受理, 一件事)
    check_seconds: float = 60.0
    sms: SmsSettings = SmsSettings()

    def bundle_of(self, service_id: str) -> Bundle | None:
        return next((b for b in self.bundles if b.service_id == service_id), None)

    def system(self, key_sha256: str) -> System | None:
        return next((s for s in self.systems if s.key_sha256 == key_sha256), None)


# ---------------------------------------------------------------------- small rules


def promised_days(service: Service) -> int | None:
    """承诺办结时限 in working days from the service's time limit ("承诺 15 个工作日" → 15)."""
    m = _PROMISED.search(service.time_limit)
    return int(m.group(1)) if m else None


def check_number(no: str) -> str:
    no = no.strip()
    if not _NUMBER.fullmatch(no):
        raise HallError("invalid_application_no", "办件编号应为 4–40 位字母、数字或“-”。", 422,
                        field="application_no")
    return no


def mask_name(name: str | None) -> str | None:
    """张三丰 → 张**: enough to call the right person, not to name them on a screen."""
    if not name:
        return None
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) >= 7 else None


def mask_number(no: str) -> str:
    """QH2026-110002 → QH20*****0002: what a pad at the window shows. A pad faces the queue, and the whole
    number could claim a result at the kiosk; the citizen knows their own by its end."""
    keep = 4 if len(no) > 8 else max(1, len(no) // 2 - 1)
    return no[:keep] + "*" * (len(no) - 2 * keep) + no[-keep:] if len(no) > 2 * keep else no


def rated(event_type: str, data: dict[str, Any], config: HallConfig) -> dict[str, Any] | None:
    """The 办件 a pad's invitation is about, from the inviting event: the one the business system named
    (`application.evaluation_requested`), or the one a finish recorded or a 出件 closed (`ticket.finished`).
    None for a plain service, or for a 一件事 finish of several matters (one rating of the whole bundle)."""
    if event_type == "application.evaluation_requested":
        found = data
    else:
        apps = data.get("applications") or []
        if len(apps) != 1:
            return None
        found = apps[0]
    no = found.get("application_no")
    if not no:
        return None
    svc = config.service(found.get("service_id") or "")
    return {"application_no": no, "shown": mask_number(no), "matter": svc.name if svc else "",
            "service_code": found.get("service_code")}


def merged_materials(bundle: Bundle, config: HallConfig) -> tuple[Material, ...]:
    """The bundle's one material list: its own service's, then each matter's, each material once (by name);
    a material any matter requires is required."""
    out: dict[str, Material] = {}
    for sid in (bundle.service_id, *bundle.matters):
        svc = config.service(sid)
        for m in svc.materials if svc else ():
            seen = out.get(m.name)
            if seen is None:
                out[m.name] = m
            elif m.required and not seen.required:
                out[m.name] = Material(m.name, True, seen.note)
    return tuple(out.values())


def report_period(day_from: date | None, day_to: date | None, today: date) -> tuple[str, str]:
    """A report's [from, to]: to today and from the 1st of its month by default, at most a year."""
    d_to = day_to or today
    d_from = day_from or d_to.replace(day=1)
    if d_from > d_to or d_to - d_from > timedelta(days=366):
        raise HallError("invalid_period", "统计区间无效（开始不晚于结束，且不超过一年）。", 422)
    return d_from.isoformat(), d_to.isoformat()


def watched_due(app: dict[str, Any]) -> str | None:
    """The deadline that matters now: a 容缺 commitment not yet met, else the promised deadline while open."""
    pending = []
    if app.get("commitment_due") and not app.get("supplied_at") and app["status"] not in ("refused",):
        pending.append(app["commitment_due"])
    if app.get("due_at") and app["status"] in OPEN:
        pending.append(app["due_at"])
    return min(pending) if pending else None


def overdue(app: dict[str, Any], now: datetime) -> bool:
    due = watched_due(app)
    return due is not None and due < now.isoformat()


def view(app: dict[str, Any], config: HallConfig, now: datetime) -> dict[str, Any]:
    """The 办件 as staff and managers see it (no phone, no identity hash)."""
    out = {k: v for k, v in app.items() if k not in ("phone", "id_hash")}
    svc = config.service(app["service_id"])
    out["service_name"] = svc.name if svc else app["service_id"]
    out["status_label"] = STATUSES[app["status"]]
    out["outcome_label"] = OUTCOMES.get(app.get("outcome") or "")
    out["phone_masked"] = mask_phone(app.get("phone"))
    out["watched_due"] = watched_due(app)
    out["overdue"] = overdue(app, now)
    return out


def public_view(app: dict[str, Any], config: HallConfig) -> dict[str, Any]:
    """What the citizen's own ticket page shows: status and what to do, nothing personal."""
    svc = config.service(app["service_id"])
    return {"application_no": app["application_no"], "service_name": svc.name if svc else app["service_id"],
            "status": app["status"], "status_label": STATUSES[app["status"]], "due_at": app.get("due_at"),
            "missing": app.get("missing") or [], "commitment_due": app.get("commitment_due"),
            "waybill": (app.get("delivery") or {}).get("waybill")}


def _line(app: dict[str, Any], now: datetime, by: str, what: str, **extra: Any) -> dict[str, Any]:
    return {**app, "updated_at": now.isoformat(),
            "history": [*app.get("history", []), {"at": now.isoformat(), "by": by, "what": what,
                                                   "status": app["status"], **extra}]}


def event_data(app: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An application event's data: what the ledger, the board's alerts and the push need (no phone, no id)."""
    return {"application_id": app["application_no"], "application_no": app["application_no"],
            "service_id": app["service_id"], "service_code": app.get("service_code") or None,
            "bundle_id": app.get("bundle_id"), "ticket_id": app.get("ticket_id"), "number": app.get("ticket_number"),
            "window_id": app.get("window_id"), "staff_id": app.get("staff_id"), "outcome": app.get("outcome"),
            "status": app["status"], "state": app["status"], "state_label": STATUSES[app["status"]],
            "due_at": watched_due(app), "promised_due": app.get("due_at"), "missing": app.get("missing") or [],
            "commitment_due": app.get("commitment_due"), "reason": app.get("reason"), **extra}


# ---------------------------------------------------------------------- the counter's finish


@dataclass(frozen=True)
class Matter:
    """What the counter says about one matter it finished."""

    service_id: str
    outcome: str | None
    application_no: str | None = None
    missing: tuple[str, ...] = ()
    reason: str | None = None
    commitment_due: str | None = None  # YYYY-MM-DD


def matters_of(ticket: Ticket, details: dict[str, Any], s: ApplicationSettings) -> list[Matter]:
    """The matters a finish records 办件 for: a 一件事 ticket's each (as the counter lists them, or all with the
    ticket's outcome); a plain ticket's one when it carries a 办件编号 or 办件 details; else none."""
    bundle = s.bundle_of(ticket.service_id)
    listed = details.get("matters") or []
    if bundle is None:
        if listed:
            raise HallError("not_a_bundle", "该号票不是“一件事”号票，不能分事项办结。", 422)
        no = details.get("application_no") or ticket.application_no
        if not (no or details.get("missing_materials") or details.get("reason") or details.get("commitment_due")):
            return []
        return [Matter(ticket.service_id, ticket.outcome, no, tuple(details.get("missing_materials") or ()),
                       details.get("reason"), details.get("commitment_due"))]
    if not listed:
        return [Matter(sid, ticket.outcome) for sid in bundle.matters]
    out: list[Matter] = []
    for m in listed:
        if m["service_id"] not in bundle.matters:
            raise HallError("not_in_bundle", f"事项 {m['service_id']} 不属于“{bundle.name}”。", 422)
        if any(x.service_id == m["service_id"] for x in out):
            raise HallError("matter_twice", f"事项 {m['service_id']} 重复办结。", 422)
        out.append(Matter(m["service_id"], m.get("outcome") or ticket.outcome, m.get("application_no"),
                          tuple(m.get("missing_materials") or ()), m.get("reason"), m.get("commitment_due")))
    return out


def decide_matter(m: Matter, ticket: Ticket, existing: dict[str, Any] | None, index: int, config: HallConfig,
                  s: ApplicationSettings, now: datetime, strict: bool = True) -> dict[str, Any]:
    """The 办件 one finished matter leaves: new, or an existing one moved on (a 补正 revisit). Not `strict`: a
    keypad's finish of an attached 办件, which cannot list materials or reasons (the business system holds them)."""
    code = parse_outcome(m.outcome)
    if code is None:
        raise HallError("invalid_outcome", f"办结类型无效：{m.outcome}", 422)
    svc = config.service(m.service_id)
    if svc is None:
        raise HallError("unknown_service", f"未找到事项：{m.service_id}", 404)
    name = svc.name
    if code == "consult":
        raise HallError("consult_no_application", f"“{name}”按咨询办结，不登记办件；请选择其他办结类型。", 422)
    status = BY_OUTCOME[code]
    missing = tuple(dict.fromkeys(x.strip() for x in m.missing if x.strip()))
    if strict and code == "supplement" and not missing:
        raise HallError("missing_materials_required", f"“{name}”补办件须列明需补正的材料（一次性告知）。", 422)
    if strict and code == "returned" and not (m.reason or "").strip():
        raise HallError("reason_required", f"“{name}”不予受理须说明理由（否决报备）。", 422)
    commitment_due = None
    if status == "accepted" and missing:  # 容缺受理: accepted now, the materials promised by a date
        if m.commitment_due:
            try:
                promised = date.fromisoformat(m.commitment_due)
            except ValueError:
                raise HallError("invalid_commitment_due", "补正承诺日期格式应为 YYYY-MM-DD。", 422) from None
            if promised < now.date():
                raise HallError("invalid_commitment_due", "补正承诺日期不能早于今天。", 422)
            commitment_due = datetime.combine(promised, add_working_days(now, 0, config.hours).time(),
                                              now.tzinfo).isoformat()
        else:
            commitment_due = add_working_days(now, s.commitment_days, config.hours).isoformat()
    elif m.commitment_due:
        raise HallError("commitment_without_missing", "容缺受理须列明容缺材料，并按受理类办结（承诺件等）。", 422)
    days = promised_days(svc)
    due_at = add_working_days(now, days, config.hours).isoformat() if status == "accepted" and days else None
    no = check_number(m.application_no) if m.application_no else None
    if no is None:
        suffix = f"-{index + 1}" if s.bundle_of(ticket.service_id) else ""
        no = f"{s.number_prefix}{ticket.id.replace('-', '')}{suffix}"
    fields = {
        "outcome": code, "status": status, "missing": list(missing), "reason": (m.reason or "").strip() or None,
        "commitment_due": commitment_due, "commitment_materials": list(missing) if commitment_due else [],
        "supplied_at": None, "due_at": due_at, "ticket_id": ticket.id, "ticket_number": ticket.number,
        "window_id": ticket.window_id, "staff_id": ticket.staff_id,
    }
    if existing is None:
        app = {"application_no": no, "service_id": svc.id, "service_code": svc.code or None,
               "bundle_id": (s.bundle_of(ticket.service_id) or Bundle("", "", "", ())).id or None,
               "accepted_at": now.isoformat(), "citizen": None, "phone": None, "id_hash": ticket.holder,
               "delivery": None, "pickup_ticket_id": None, "system": None, "alerted_due": None,
               "tickets": [ticket.id], "history": [], **fields}
        return _line(app, now, ticket.staff_id or "", "finished", outcome=code)
    if existing["service_id"] != svc.id:
        raise HallError("application_service_mismatch", f"办件 {no} 属于另一事项，不能按“{name}”办结。", 409)
    if existing["status"] not in ("received", "supplement") and existing.get("ticket_id") != ticket.id:
        raise HallError("application_closed_at_counter",
                        f"办件 {no} 已是“{STATUSES[existing['status']]}”状态，柜台不能再次办结。", 409)
    app = {**existing, **fields, "id_hash": existing.get("id_hash") or ticket.holder,
           "tickets": list(dict.fromkeys([*existing.get("tickets", []), ticket.id]))}
    return _line(app, now, ticket.staff_id or "", "finished", outcome=code)


def received(no: str, existing: dict[str, Any] | None, ticket: Ticket, config: HallConfig, now: datetime, by: str,
             citizen: str | None = None, phone: str | None = None, id_hash: str | None = None,
             system: str | None = None) -> dict[str, Any]:
    """收件: a 办件编号 attached to the ticket at the counter; a known 办件 (a 补正 revisit) keeps its state."""
    svc = config.service(ticket.service_id)
    contact = {k: v for k, v in (("citizen", mask_name(citizen)), ("phone", phone),
                                 ("id_hash", id_hash or ticket.holder), ("system", system)) if v}
    if existing is not None:
        if existing["status"] not in ("received", "supplement"):
            raise HallError("application_closed_at_counter",
                            f"办件 {no} 已是“{STATUSES[existing['status']]}”状态，不能再关联号票。", 409)
        return _line({**existing, **contact, "tickets": list(dict.fromkeys([*existing.get("tickets", []), ticket.id]))},
                     now, by, "attached", ticket_id=ticket.id)
    app = {"application_no": no, "service_id": ticket.service_id, "service_code": (svc.code if svc else "") or None,
           "bundle_id": None, "ticket_id": ticket.id, "ticket_number": ticket.number, "window_id": ticket.window_id,
           "staff_id": ticket.staff_id, "outcome": None, "status": "received", "accepted_at": now.isoformat(),
           "due_at": None, "missing": [], "reason": None, "commitment_due": None, "commitment_materials": [],
           "supplied_at": None, "citizen": None, "phone": None, "id_hash": None, "delivery": None,
           "pickup_ticket_id": None, "system": None, "alerted_due": None, "tickets": [ticket.id], "history": [],
           **contact}
    return _line(app, now, by, "attached", ticket_id=ticket.id)


# ---------------------------------------------------------------------- after the counter


def transition(app: dict[str, Any], status: str, now: datetime, by: str, note: str | None = None) -> dict[str, Any]:
    if status not in STATUSES:
        raise HallError("invalid_status", f"办件状态无效：{status}", 422)
    if status == app["status"]:
        return app
    if status not in NEXT[app["status"]]:
        raise HallError("invalid_transition",
                        f"办件 {app['application_no']} 当前为“{STATUSES[app['status']]}”，不能改为“{STATUSES[status]}”。", 409)
    if status == "mailed":
        raise HallError("mail_needs_waybill", "政务专递请登记收件地址和运单号（/mail）。", 422)
    moved = {**app, "status": status}
    if status == "refused" and note:
        moved["reason"] = note
    return _line(moved, now, by, "status", note=note)


def supplied(app: dict[str, Any], now: datetime, by: str) -> dict[str, Any]:
    """The 容缺 materials (or the 补正 ones) came in."""
    if not app.get("commitment_due") or app.get("supplied_at"):
        raise HallError("nothing_to_supply", f"办件 {app['application_no']} 没有待补交的容缺材料。", 409)
    return _line({**app, "supplied_at": now.isoformat()}, now, by, "supplied")


@dataclass(frozen=True)
class Mailing:
    """政务专递 as the counter or the business system gives it, checked field by field (`check_mailing`)."""

    recipient: str
    phone: str
    address: str
    waybill: str
    carrier: str = "中国邮政 EMS"


_MOBILE = re.compile(r"^1\d{10}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_WAYBILL = re.compile(r"^[A-Za-z0-9-]{6,40}$")


def check_mailing(m: Mailing) -> Mailing:
    """Each field's problem named in Chinese with the field, so a form shows it beside that field."""
    m = Mailing(*(x.strip() for x in (m.recipient, m.phone, m.address, m.waybill, m.carrier)))
    if not m.recipient:
        raise HallError("invalid_recipient", "请填写收件人姓名。", 422, field="recipient")
    if len(m.recipient) > 30:
        raise HallError("invalid_recipient", "收件人姓名不能超过 30 个字。", 422, field="recipient")
    if not (_MOBILE.fullmatch(m.phone) or _LANDLINE.fullmatch(m.phone)):
        raise HallError("invalid_phone", "请填写收件人的 11 位手机号码或带区号的固定电话。", 422, field="phone")
    if len(m.address) < 5:
        raise HallError("invalid_address", "请填写详细收件地址（省市县、街道门牌，至少 5 个字）。", 422, field="address")
    if len(m.address) > 200:
        raise HallError("invalid_address", "收件地址不能超过 200 个字。", 422, field="address")
    if not m.carrier or len(m.carrier) > 30:
        raise HallError("invalid_carrier", "请填写寄递单位（不超过 30 个字），如“中国邮政 EMS”。", 422, field="carrier")
    if not _WAYBILL.fullmatch(m.waybill):
        raise HallError("invalid_waybill", "运单号应为 6–40 位字母、数字或“-”，可扫描面单条码。", 422, field="waybill")
    return m


def mailed(app: dict[str, Any], m: Mailing, now: datetime, by: str, ticket: Ticket | None = None) -> dict[str, Any]:
    """政务专递: the result leaves by post instead of a pickup; at the 统一出件 window, `ticket` is the one the
    citizen is served on (the rating and the push file the mailing under it)."""
    if "mailed" not in NEXT[app["status"]]:
        raise HallError("invalid_transition",
                        f"办件 {app['application_no']} 当前为“{STATUSES[app['status']]}”，尚不能寄递。", 409)
    m = check_mailing(m)
    delivery = {"recipient": mask_name(m.recipient), "phone": mask_phone(m.phone), "address": m.address,
                "waybill": m.waybill, "carrier": m.carrier, "at": now.isoformat()}
    moved = {**app, "status": "mailed", "delivery": delivery}
    if ticket is not None:
        moved["pickup_ticket_id"] = ticket.id
        return _line(moved, now, by, "mailed", waybill=m.waybill, carrier=m.carrier, ticket_id=ticket.id,
                     number=ticket.number)
    return _line(moved, now, by, "mailed", waybill=m.waybill, carrier=m.carrier)


def pickup_ticket(app: dict[str, Any], ticket: Ticket) -> dict[str, Any]:
    """A 出件 ticket taken for this 办件 at the kiosk (a later one replaces a lost one)."""
    return _line({**app, "pickup_ticket_id": ticket.id}, ticket.issued_at, "kiosk", "pickup_ticket",
                 ticket_id=ticket.id, number=ticket.number)


def picked_up(app: dict[str, Any], ticket: Ticket, now: datetime) -> dict[str, Any]:
    if app["status"] != "ready":
        raise HallError("not_ready", f"办件 {app['application_no']} 当前为“{STATUSES[app['status']]}”，尚不可领取。", 409)
    return _line({**app, "status": "picked_up"}, now, ticket.staff_id or "", "picked_up", ticket_id=ticket.id)


# ---------------------------------------------------------------------- notices (补正材料通知书, 不予受理告知书)


@dataclass(frozen=True)
class Notice:
    title: str
    application_no: str
    paragraphs: tuple[str, ...]
    items: tuple[str, ...]  # the materials, one per line
    footer: tuple[str, ...]


def notice(app: dict[str, Any], config: HallConfig, now: datetime) -> Notice | None:
    """The written notice a counter outcome owes the citizen: 补正 (一次性告知) or 不予受理 (with the reason)."""
    svc = config.service(app["service_id"])
    name = svc.name if svc else app["service_id"]
    window = config.window(app["window_id"]) if app.get("window_id") else None
    where = f"{window.name}" if window else config.name
    footer = (f"经办窗口：{where}", f"经办人工号：{app.get('staff_id') or '—'}", f"日期：{now:%Y年%m月%d日}",
              f"{config.name}（盖章）")
    if app["status"] == "supplement":
        return Notice(NOTICES["supplement"], app["application_no"], (
            f"您申请办理的“{name}”事项，经审查，申请材料不齐全或不符合法定形式。",
            "根据一次性告知制度，请补正以下材料后再次提交：",
        ), tuple(app.get("missing") or ()), (
            "请补齐上述全部材料后，凭本通知书到综合窗口提交，窗口当即予以办理；办理时限自收到补正材料之日起计算。",
            *footer))
    if app["status"] == "refused":
        return Notice(NOTICES["refused"], app["application_no"], (
            f"您申请办理的“{name}”事项，经审查，决定不予受理。",
            f"理由：{app.get('reason') or ''}",
            "如对本决定有异议，可依法申请行政复议或者提起行政诉讼；也可到“办不成事”反映窗口反映。",
        ), (), footer)
    return None
