"""Attendance (考勤, 双签制) as a pure function of the staff sign-in / sign-out events and the hall's hours.

Each working day is judged per opening session (上午 / 下午): a staff member on the roster (every staff
member in the config) must be signed in at some window when the session starts.
- late (迟到): the first sign-in overlapping the session is after start + late_grace_minutes;
- absent (缺勤, half a day): no sign-in overlaps the session, or the first one is absent_after_minutes late
  or more;
- early (早退): the last sign-out in the session is before end − early_grace_minutes (a takeover by a
  stand-in counts: the person left the window);
- forgotten sign-out (未签离): still signed in when the day ended (the day driver signs such windows out at
  the next opening with reason "forgotten"); not counted as early;
- stand-in (替岗, AB岗): sign-ins flagged `standin` are counted per staff member.
A sign-in that spans the lunch break counts for both sessions. Sessions not yet over are judged only on
what is already known (late once the grace has passed; absent once absent_after_minutes have passed).
Days before `since` (the first day the ledger holds anything) are not judged at all: before the system
ran, nobody could sign in, so nobody was absent.

Who is expected comes from the rota (`expected`: the sessions each rostered person works on each day, special
service days included); without one, every staff member every session of every working day. A session of
approved leave (`leave`) is marked 请假, never 缺勤.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hall_controller.core.calendar import closing_time, is_open_day, is_working_day, sessions_on
from hall_controller.core.settings import HallConfig
from hall_controller.features.day.rules import DaySettings

SESSION_NAMES = ("上午", "下午", "晚间")


@dataclass
class Interval:
    staff_id: str
    window_id: str
    standin: bool
    start: datetime
    end: datetime | None = None  # None: still signed in
    forgotten: bool = False


@dataclass
class SessionMark:
    day: str
    session: str
    status: str  # "on_time" | "late" | "absent" | "pending" | "leave"
    late_minutes: float = 0
    early_minutes: float = 0
    windows: list[str] = field(default_factory=list)
    standin: bool = False
    leave: str = ""  # the leave type's name, for a session on leave


def intervals(events: Iterable[Mapping[str, Any]]) -> list[Interval]:
    """Sign-in periods from `staff.signed_in` / `staff.signed_out` events, in ledger order."""
    open_: dict[str, Interval] = {}
    done: list[Interval] = []
    for e in events:
        data = e["data"]
        if e["type"] == "staff.signed_in":
            iv = Interval(data["staff_id"], data["window_id"], bool(data.get("standin")), datetime.fromisoformat(e["at"]))
            if data["staff_id"] in open_:
                done.append(open_.pop(data["staff_id"]))
            open_[data["staff_id"]] = iv
        elif e["type"] == "staff.signed_out" and data.get("staff_id") in open_:
            iv = open_.pop(data["staff_id"])
            if data.get("reason") == "forgotten":
                iv.forgotten = True
            else:
                iv.end = datetime.fromisoformat(e["at"])
            done.append(iv)
    return sorted([*done, *open_.values()], key=lambda iv: iv.start)


def month_bounds(month: str) -> tuple[date, date]:
    start = date.fromisoformat(f"{month}-01")
    return start, (start + timedelta(days=32)).replace(day=1)


def attendance(events: Iterable[Mapping[str, Any]], config: HallConfig, settings: DaySettings, start: date,
               end: date, now: datetime, since: date | None = None,
               expected: Mapping[tuple[str, str], tuple[int, ...]] | None = None,
               leave: Mapping[tuple[str, str], Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Per staff member: the marks of every session they are expected at (by (staff id, day): session indexes;
    None = every session of every working day) in [start, end) from `since` up to now, sessions on leave
    (by (staff id, day): the leave's view, `half` "", "am" or "pm") marked as such, and the month's totals."""
    leave = leave or {}
    tz = now.tzinfo
    ivs = intervals(events)
    for iv in ivs:  # forgotten sign-outs count until the closing time of the day signed in
        if iv.forgotten or (iv.end is None and iv.start.date() < now.date()):
            iv.forgotten = True
            iv.end = max(iv.start, closing_time(iv.start.date(), config.hours, tz)
                         or datetime.combine(iv.start.date(), datetime.max.time(), tz))
    by_staff: dict[str, list[Interval]] = {}
    for iv in ivs:
        by_staff.setdefault(iv.staff_id, []).append(iv)
    counted_from = max(start, since) if since is not None else start
    days = [counted_from + timedelta(days=i) for i in range((end - counted_from).days)]
    days = [d for d in days if d <= now.date() and is_open_day(d, config.hours)]
    staff_rows = []
    for st in config.staff:
        mine = by_staff.get(st.id, [])
        marks: list[SessionMark] = []
        forgotten_days: set[str] = set()
        worked_s = 0.0
        for d in days:
            sessions = sessions_on(d, config.hours)
            day_end = closing_time(d, config.hours, tz) or (datetime.combine(d, sessions[-1].end, tz) if sessions
                                                             else datetime.combine(d, datetime.max.time(), tz))
            midnight = datetime.combine(d, datetime.min.time(), tz)
            todays = [iv for iv in mine if _end(iv, now) > midnight and iv.start < midnight + timedelta(days=1)]
            for iv in todays:
                if iv.forgotten and iv.start.date() == d:
                    forgotten_days.add(d.isoformat())
                worked_s += max(0.0, (min(_end(iv, now), day_end) - max(iv.start, midnight)).total_seconds())
            # Without a rota: everyone, every session of a working day (a special service day needs a rota).
            mine_expected = (expected.get((st.id, d.isoformat()), ()) if expected is not None
                             else tuple(range(len(sessions))) if is_working_day(d, config.hours) else ())
            away = leave.get((st.id, d.isoformat()))
            for i, session in enumerate(sessions):
                if away is not None and _half_covers(away.get("half") or "", i):
                    if now >= datetime.combine(d, session.start, tz):
                        marks.append(SessionMark(d.isoformat(), _session_name(i), "leave", leave=away.get("type_name", "")))
                    continue
                if i not in mine_expected:
                    continue
                mark = _judge(d, i, session, todays, settings, now)
                if mark is not None:
                    marks.append(mark)
        late = [m for m in marks if m.status == "late"]
        early = [m for m in marks if m.early_minutes > 0]
        staff_rows.append({
            "staff_id": st.id, "name": st.name, "unit": st.unit,
            "days_present": len({m.day for m in marks if m.status in ("on_time", "late")}),
            "late": len(late), "late_minutes": round(sum(m.late_minutes for m in late), 1),
            "early": len(early), "early_minutes": round(sum(m.early_minutes for m in early), 1),
            "absent_sessions": sum(1 for m in marks if m.status == "absent"),
            "leave_sessions": sum(1 for m in marks if m.status == "leave"),
            "forgotten_sign_outs": len(forgotten_days),
            "standin_sign_ins": sum(1 for iv in mine if iv.standin and start <= iv.start.date() < end),
            "worked_hours": round(worked_s / 3600, 2),
            "marks": [m.__dict__ for m in marks],
        })
    return {"start": start.isoformat(), "end": (end - timedelta(days=1)).isoformat(),
            "counted_from": counted_from.isoformat(), "staff": staff_rows}


def _half_covers(half: str, session: int) -> bool:
    """Whether a leave (whole day "", or "am" / "pm") covers the session: 上午 is the first, 下午 the rest."""
    return not half or (half == "am") == (session == 0)


def _session_name(i: int) -> str:
    return SESSION_NAMES[i] if i < len(SESSION_NAMES) else f"第{i + 1}段"


def _end(iv: Interval, now: datetime) -> datetime:
    """Where an interval stops counting: its sign-out (or the closing time, if forgotten), else now."""
    return iv.end if iv.end is not None else now


def _judge(d: date, i: int, session: Any, ivs: list[Interval], settings: DaySettings, now: datetime) -> SessionMark | None:
    tz = now.tzinfo
    s_start = datetime.combine(d, session.start, tz)
    s_end = datetime.combine(d, session.end, tz)
    if now < s_start:
        return None
    name = _session_name(i)
    inside = [iv for iv in ivs if iv.start < s_end and _end(iv, now) > s_start]
    absent_at = s_start + timedelta(minutes=settings.absent_after_minutes)
    if not inside:
        return SessionMark(d.isoformat(), name, "absent" if now >= absent_at else "pending")
    first = min(iv.start for iv in inside)
    late_s = (first - s_start).total_seconds()
    mark = SessionMark(d.isoformat(), name, "on_time", windows=sorted({iv.window_id for iv in inside}),
                       standin=any(iv.standin for iv in inside))
    if late_s >= settings.absent_after_minutes * 60:
        mark.status = "absent"
    elif late_s > settings.late_grace_minutes * 60:
        mark.status, mark.late_minutes = "late", round(late_s / 60, 1)
    last = max(inside, key=lambda iv: _end(iv, now))
    if last.end is not None and not last.forgotten and now >= s_end:
        early_s = (s_end - last.end).total_seconds()
        if early_s > settings.early_grace_minutes * 60:
            mark.early_minutes = round(early_s / 60, 1)
    return mark
