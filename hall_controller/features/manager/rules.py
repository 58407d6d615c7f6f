"""Alert rules of the manager's live board (pure); `[manager]` (settings.py) tunes them.

An alert exists while its condition holds: `evaluate` is a pure function of the hall's current state, the
few recent device/rating/acknowledgement events (folded by `fold_signals`) and `now`, re-run at every
refresh. Each alert has a `key` (what it is about) and a `since` (when this episode began); its `id`
joins both, so an acknowledgement (`manager.alert_acknowledged`) covers one episode and a later
recurrence alerts afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hall_controller.core.hall import Hall
from hall_controller.core.model import WindowState
from hall_controller.core.settings import HallConfig
from hall_controller.features.reports.kpis import RATING_LEVELS, is_bad

ALLOWED_KEYS = ("queue_alert", "idle_alert_minutes", "pause_alert_minutes", "refresh_seconds", "issuing_burst",
                "person_daily_tickets")

# Events the rules read besides the hall state.
DEVICE_EVENTS = ("device.offline", "device.online")
# A missed deadline (ratings' check_overdue), and the steps that may end it: done, or a new deadline.
OVERDUE_EVENTS = {"case.overdue": "case", "complaint.overdue": "complaint", "application.overdue": "application"}
CASE_EVENTS = ("case.verified", "case.appealed", "case.appeal_decided", "case.rectified", "case.replied",
               "case.closed", "complaint.classified", "complaint.answered",
               # a 办件's steps carry the deadline it is watched by now (due_at): met or moved, the alert ends
               "application.status_changed", "application.supplied", "application.mailed", "application.recorded")
DONE_STATES = ("closed", "answered")
LOCKOUT_EVENTS = ("lockout.alert", "lockout.cleared")
SIGNAL_EVENTS = (*DEVICE_EVENTS, "printer.status", "rating.recorded", "manager.alert_acknowledged",
                 "platform.rejected", *OVERDUE_EVENTS, *CASE_EVENTS, *LOCKOUT_EVENTS)

DEVICE_NAMES = {"keypad": "呼叫器", "pad": "评价器", "display": "窗口屏", "board": "综合屏", "printer": "打印机",
                "kiosk": "取号机", "voice": "语音播报", "speaker": "语音播报"}
LEVELS = ("danger", "warning")  # display order


@dataclass(frozen=True)
class ManagerSettings:
    queue_alert: int = 10  # people waiting in one category (主题) at which the queue alerts
    idle_alert_minutes: float = 5  # an open window not calling while its categories have people waiting
    pause_alert_minutes: float = 15  # a paused window while its categories have people waiting
    refresh_seconds: int = 5  # the board re-evaluates time-based alerts at least this often
    # 疑似黄牛: this many tickets from one device or staff member within a minute (a citizen at a kiosk takes a
    # few a minute at most), or from one person (ID card) in a day, across services; 0 = no such alert.
    issuing_burst: int = 10
    person_daily_tickets: int = 5




@dataclass(frozen=True)
class Alert:
    kind: str  # max_wait | queue | window_idle | window_paused | device_offline | paper | printer_unknown
    #           | bad_review | overdue | platform_rejected | scalping | lockout
    key: str
    since: datetime
    level: str  # danger | warning
    title: str
    detail: str
    subject: dict[str, Any] = field(default_factory=dict)
    acknowledged_by: str | None = None

    @property
    def id(self) -> str:
        return f"{self.key}@{self.since.isoformat()}"

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "level": self.level, "title": self.title, "detail": self.detail,
                "since": self.since.isoformat(), "for_s": max(0, int((now - self.since).total_seconds())),
                "subject": self.subject, "acknowledged_by": self.acknowledged_by}


@dataclass
class Signals:
    """What the recent events say: device states, printer paper, overdue cases, bad reviews, events the
    platform refused, acknowledgements."""

    offline: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)  # device -> (since, data)
    paper: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)  # device -> (since, data)
    unknown: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)  # printer -> (since, data)
    overdue: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)  # case:/complaint:id -> …
    bad_reviews: list[tuple[int, datetime, dict[str, Any]]] = field(default_factory=list)  # (seq, at, data)
    rejected: list[tuple[int, datetime, dict[str, Any]]] = field(default_factory=list)  # platform dead letters
    acknowledged: dict[str, str] = field(default_factory=dict)  # alert id -> manager id
    lockouts: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)  # account -> (since, data)


def fold_signals(events: Iterable[dict[str, Any]], into: Signals | None = None) -> Signals:
    """Fold events (`{"seq","type","at","data"}`, in seq order) into the signals (new ones, or `into`
    when following the ledger incrementally)."""
    s = into if into is not None else Signals()
    for e in events:
        data, at = e["data"], datetime.fromisoformat(e["at"])
        device = str(data.get("device_id") or data.get("printer_id") or "")
        if e["type"] == "device.offline":
            if device not in s.offline:  # an episode starts at its first offline report
                s.offline[device] = (at, data)
        elif e["type"] == "device.online":
            s.offline.pop(device, None)
        elif e["type"] == "printer.status":
            # An empty reply says nothing: online None / paper "unknown" clear no alert; they raise their own.
            online, paper = data.get("online"), data.get("paper")
            if online is False:  # a printer that cannot be reached is a device offline
                s.offline.setdefault(device, (at, {"kind": "printer", "device_id": device, **data}))
            elif online is True:
                s.offline.pop(device, None)
            if paper in ("near_end", "out"):
                current = s.paper.get(device)
                since = current[0] if current and current[1].get("paper") == paper else at
                s.paper[device] = (since, data)
            elif paper == "ok":
                s.paper.pop(device, None)
            if online is None or (online and paper not in ("ok", "near_end", "out")):
                s.unknown[device] = (s.unknown[device][0] if device in s.unknown else at, data)
            else:
                s.unknown.pop(device, None)
        elif e["type"] in OVERDUE_EVENTS:
            what = OVERDUE_EVENTS[e["type"]]
            key = f"{what}:{data.get(f'{what}_id')}"
            current = s.overdue.get(key)  # the same missed deadline keeps its episode
            same = current is not None and current[1].get("due_at") == data.get("due_at")
            s.overdue[key] = (current[0] if same else at, {"what": what, **data})
        elif e["type"] in CASE_EVENTS:
            what = e["type"].split(".")[0]
            key = f"{what}:{data.get(f'{what}_id')}"
            # done, or a step with a deadline of its own: this one no longer counts (a missed new one alerts anew)
            if key in s.overdue and (data.get("state") in DONE_STATES
                                     or data.get("due_at") != s.overdue[key][1].get("due_at")):
                s.overdue.pop(key)
        elif e["type"] == "rating.recorded":
            if is_bad(data):
                s.bad_reviews.append((e["seq"], at, data))
        elif e["type"] == "platform.rejected":
            s.rejected.append((e["seq"], at, data))
        elif e["type"] == "lockout.alert":
            s.lockouts[str(data.get("account"))] = (at, data)
        elif e["type"] == "lockout.cleared":
            s.lockouts.pop(str(data.get("account")), None)
        elif e["type"] == "manager.alert_acknowledged":
            s.acknowledged[str(data.get("alert_id"))] = str(data.get("by", ""))
    return s


def evaluate(hall: Hall, now: datetime, settings: ManagerSettings, signals: Signals,
             previous: Mapping[str, datetime] | None = None) -> list[Alert]:
    """Every alert whose condition holds now. `previous` maps the keys of the last evaluation's alerts to
    their since, so a condition without a natural start (a long queue) keeps the start it was first seen at."""
    previous = previous or {}
    config = hall.config
    alerts: list[Alert] = []
    max_wait_s = config.queue.max_wait_minutes * 60

    for c in config.categories:
        queue = hall.waiting.get(c.id)
        if not queue:
            continue
        overdue = [t for t in queue if (now - t.queue_at).total_seconds() > max_wait_s]
        if overdue:
            oldest = min(overdue, key=lambda t: t.queue_at)
            minutes = int((now - oldest.queue_at).total_seconds() // 60)
            alerts.append(Alert(
                "max_wait", f"max_wait:{c.id}", previous.get(f"max_wait:{c.id}", now), "danger", "等候超时",
                f"{c.name}：{len(overdue)} 人等候超过 {config.queue.max_wait_minutes:g} 分钟，"
                f"最长 {minutes} 分钟（{oldest.number}）",
                {"category_id": c.id, "ticket_id": oldest.id}))
        if len(queue) >= settings.queue_alert:
            key = f"queue:{c.id}"
            alerts.append(Alert("queue", key, previous.get(key, now), "warning", "排队过长",
                                f"{c.name} 等候 {len(queue)} 人（预警线 {settings.queue_alert} 人）",
                                {"category_id": c.id, "waiting": len(queue)}))

    for w in config.windows:
        ws = hall.windows[w.id]
        if ws.since is None or ws.state not in (WindowState.OPEN, WindowState.PAUSED):
            continue
        minutes = (now - ws.since).total_seconds() / 60
        paused = ws.state == WindowState.PAUSED
        if minutes < (settings.pause_alert_minutes if paused else settings.idle_alert_minutes):
            continue
        waiting = len(hall.eligible_waiting(w.id))
        if not waiting:
            continue
        kind = "window_paused" if paused else "window_idle"
        what = f"暂停服务 {int(minutes)} 分钟" + (f"（{ws.pause_reason}）" if paused and ws.pause_reason else "") \
            if paused else f"空闲 {int(minutes)} 分钟未叫号"
        alerts.append(Alert(kind, f"{kind}:{w.id}", ws.since, "warning", "窗口暂停" if paused else "窗口空闲",
                            f"{w.name} {what}，可办理的等候 {waiting} 人", {"window_id": w.id, "waiting": waiting}))

    for device, (since, data) in signals.offline.items():
        alerts.append(Alert("device_offline", f"device_offline:{device}", since, "danger", "设备离线",
                            f"{_device_name(data, config)} 离线", {"device_id": device,
                                                                  "window_id": data.get("window_id")}))
    for device, (since, data) in signals.paper.items():
        out = data.get("paper") == "out"
        alerts.append(Alert("paper", f"paper:{device}:{data.get('paper')}", since, "danger" if out else "warning",
                            "打印机缺纸" if out else "打印纸将尽",
                            f"{_device_name({'kind': 'printer', 'device_id': device, **data}, config)} "
                            f"{'已缺纸，无法出票' if out else '纸将用尽，请及时换纸'}", {"device_id": device}))
    for device, (since, data) in signals.unknown.items():
        alerts.append(Alert("printer_unknown", f"printer_unknown:{device}", since, "warning", "打印机状态未知",
                            f"{_device_name({'kind': 'printer', 'device_id': device, **data}, config)} "
                            f"{data.get('error') or '打印机无应答，状态未知'}", {"device_id": device}))
    for key, (since, data) in signals.overdue.items():
        alerts.append(Alert("overdue", f"overdue:{key}", since, "danger", OVERDUE_TITLES[data["what"]],
                            _overdue_text(data, config), {key.split(":")[0] + "_id": key.split(":", 1)[1],
                                                          "window_id": data.get("window_id")}))
    for seq, at, data in signals.rejected:  # a dead letter alerts until someone has looked into it
        alert = Alert("platform_rejected", f"platform_rejected:{seq}", at, "warning", "数据上报被拒收",
                      f"上级平台拒收 {data.get('type', '')} 事件（#{data.get('seq', '')}"
                      f"{'，HTTP ' + str(data['status']) if data.get('status') else ''}）：{data.get('error', '')}",
                      {"seq": data.get("seq")})
        if alert.id not in signals.acknowledged:
            alerts.append(alert)
    for account, (since, data) in signals.lockouts.items():  # until a manager clears it (or acknowledges it)
        alerts.append(Alert("lockout", f"lockout:{account}", since, "danger", "密码错误过多",
                            f"{_account_name(account, config)} 1 小时内密码错误 {data.get('failures')} 次，来自 "
                            f"{data.get('sources')} 个地址：陌生地址须等待后重试，本人常用设备不受影响；核实后可解除",
                            {"account": account}))
    for seq, at, data in signals.bad_reviews:
        alert = Alert("bad_review", f"bad_review:{seq}", at, "danger", "新差评", _review_text(data, config),
                      {"window_id": data.get("window_id"), "service_id": data.get("service_id"),
                       "staff_id": data.get("staff_id"), "seq": seq})
        if alert.id not in signals.acknowledged:  # a new bad review alerts until someone takes it up
            alerts.append(alert)

    alerts += scalping(hall, now, settings)
    alerts = [a if a.id not in signals.acknowledged else _acknowledged(a, signals.acknowledged[a.id]) for a in alerts]
    alerts.sort(key=lambda a: (a.acknowledged_by is not None, LEVELS.index(a.level), a.since))
    return alerts


BURST_SECONDS = 60
MOBILE_SOURCE = "platform"  # many people through one channel: counted per person, not as one source


def scalping(hall: Hall, now: datetime, settings: ManagerSettings) -> list[Alert]:
    """疑似黄牛: today's tickets bunched on one source (a kiosk's key, a staff member) or one person. An alert
    starts at the first ticket of the first such burst and stays for the day, until acknowledged, so a burst
    seen late is still seen."""
    day = now.date().isoformat()
    by_source: dict[str, list[Any]] = {}
    by_person: dict[str, list[Any]] = {}
    for t in hall.tickets.values():
        if t.day != day:
            continue
        if t.source and t.source != MOBILE_SOURCE:
            by_source.setdefault(t.source, []).append(t)
        if t.holder:
            by_person.setdefault(t.holder, []).append(t)
    alerts = []
    burst = settings.issuing_burst
    for source, tickets in sorted(by_source.items()) if burst else ():
        tickets.sort(key=lambda t: t.issued_at)
        start = next((i for i in range(len(tickets) - burst + 1)
                      if (tickets[i + burst - 1].issued_at - tickets[i].issued_at).total_seconds() <= BURST_SECONDS),
                     None)
        if start is None:
            continue
        first = tickets[start]
        alerts.append(Alert("scalping", f"scalping:{source}", first.issued_at, "danger", "疑似黄牛取号",
                            f"{_source_name(source, hall.config)} 1 分钟内取号 {burst} 张以上（自 {first.number} 起，"
                            f"今日共 {len(tickets)} 张），请核查", {"source": source, "count": len(tickets)}))
    limit = settings.person_daily_tickets
    for holder, tickets in by_person.items() if limit else ():
        if len(tickets) < limit:
            continue
        tickets.sort(key=lambda t: t.issued_at)
        alerts.append(Alert("scalping", f"scalping:person:{holder[:12]}", tickets[limit - 1].issued_at, "danger",
                            "疑似黄牛取号", f"同一证件今日取号 {len(tickets)} 张（{'、'.join(t.number for t in tickets[:8])}"
                            f"{'…' if len(tickets) > 8 else ''}），请核查", {"count": len(tickets)}))
    return alerts


def _account_name(account: str, config: HallConfig) -> str:
    kind, _, ident = account.partition(":")
    if kind == "staff":
        staff = config.staff_member(ident)
        return f"工号 {ident}（{staff.name}）" if staff else f"工号 {ident}（不存在）"
    manager = next((m for m in config.managers if m.id == ident), None)
    return f"管理账号 {ident}" + ("" if manager else "（不存在）")


def _source_name(source: str, config: HallConfig) -> str:
    kind, _, ident = source.partition(":")
    if kind == "kiosk":
        return f"取号机 {ident}"
    if kind == "staff":
        staff = config.staff_member(ident)
        return f"工作人员 {staff.name}（{ident}）" if staff else f"工作人员 {ident}"
    return source


def _acknowledged(a: Alert, by: str) -> Alert:
    return Alert(a.kind, a.key, a.since, a.level, a.title, a.detail, a.subject, by)


def _device_name(data: Mapping[str, Any], config: HallConfig) -> str:
    kind = str(data.get("kind", ""))
    name = DEVICE_NAMES.get(kind, kind or "设备")
    window = config.window(str(data["window_id"])) if data.get("window_id") is not None else None
    where = f"（{window.name}）" if window else ""
    return f"{name} {data.get('device_id', '')}{where}"


OVERDUE_TITLES = {"case": "差评整改超期", "complaint": "投诉答复超期", "application": "办件超期"}


def _overdue_text(data: Mapping[str, Any], config: HallConfig) -> str:
    window = config.window(str(data["window_id"])) if data.get("window_id") is not None else None
    where = f"{window.name} " if window else ""
    due = datetime.fromisoformat(data["due_at"]).strftime("%m-%d %H:%M")
    if data["what"] == "application":
        service = config.service(str(data.get("service_id")))
        what = "容缺材料补交" if data.get("kind") == "commitment" else "承诺办结"
        return (f"{where}办件 {data.get('application_no', '')}（{service.name if service else ''}）"
                f"{what}已超过期限（{due}）")
    if data["what"] == "case":
        return f"{where}{data.get('number', '')} 的差评{data.get('state_label', '')}，已超过期限（{due}）"
    return f"{where}投诉 {data.get('complaint_id', '')}{data.get('state_label', '')}，已超过答复期限（{due}）"


def _review_text(data: Mapping[str, Any], config: HallConfig) -> str:
    level = int(data.get("level", 0))
    name = RATING_LEVELS[level - 1] if 1 <= level <= len(RATING_LEVELS) else "差评"
    window = config.window(str(data["window_id"])) if data.get("window_id") is not None else None
    service = config.service(str(data["service_id"])) if data.get("service_id") is not None else None
    staff = config.staff_member(str(data["staff_id"])) if data.get("staff_id") is not None else None
    parts = [p for p in (window.name if window else None, service.name if service else None,
                         f"{staff.name}（{staff.id}）" if staff else None) if p]
    return f"{'，'.join(parts) or '未知窗口'}：{name}"
