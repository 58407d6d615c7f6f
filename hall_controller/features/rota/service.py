"""排班 and 请销假 at the edge: loading weeks and leave, the commands (through the one write path), the B岗 check
every staff sign-in passes, and who is rostered — the small read other features use (attendance, staffing
advice, the kiosk's and printer's window hints)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from hall_controller.core.calendar import is_open_day, is_working_day, service_day, sessions_on
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError, not_found
from hall_controller.core.model import WindowState
from hall_controller.core.service import HallService
from hall_controller.features.rota import rules
from hall_controller.features.rota.rules import Duty
from hall_controller.features.rota.settings import settings_of


def has_tables(service: HallService) -> bool:
    """Whether the ledger holds the rota's tables (a hall built without the feature has none)."""
    return "rota_weeks" in service.ledger.tables


# ------------------------------------------------------------------------------------ reads


def week_row(service: HallService, week: date) -> dict[str, Any] | None:
    if not has_tables(service):
        return None
    rows = service.ledger.records("SELECT * FROM rota_weeks WHERE week = ?", (week.isoformat(),))
    if not rows:
        return None
    row = rows[0]
    row["entries"] = json.loads(row["entries"] or "[]")
    return row


def leaves(service: HallService, start: date | None = None, end: date | None = None, staff_id: str | None = None,
           state: str | None = None) -> list[dict[str, Any]]:
    """Leave overlapping [start, end] (dates, inclusive), newest first."""
    if not has_tables(service):
        return []
    where, params = ["1 = 1"], []
    if start is not None:
        where.append('"end" >= ?')
        params.append(start.isoformat())
    if end is not None:
        where.append("start <= ?")
        params.append(end.isoformat())
    if staff_id:
        where.append("staff_id = ?")
        params.append(staff_id)
    if state:
        where.append("state = ?")
        params.append(state)
    rows = service.ledger.records(f"SELECT * FROM leaves WHERE {' AND '.join(where)} ORDER BY start DESC, id", params)
    for r in rows:
        r["late"] = bool(r["late"])
        r["half"] = r["half"] or ""
    return rows


def _leave(service: HallService, leave_id: str) -> dict[str, Any]:
    rows = service.ledger.records("SELECT * FROM leaves WHERE id = ?", (leave_id,)) if has_tables(service) else []
    if not rows:
        raise not_found("leave", leave_id)
    row = rows[0]
    row["late"], row["half"] = bool(row["late"]), row["half"] or ""
    return row


def roster(service: HallService, start: date, end: date) -> dict[date, dict[str, Duty]]:
    """Who is rostered on each day of [start, end) — the published weeks, else the standing arrangement —
    minus approved leave."""
    away = [lv for lv in leaves(service, start, end - timedelta(days=1)) if lv["state"] in ("approved", "returned")]
    away = [{**lv, "state": "approved"} for lv in away]  # 销假 keeps the days actually taken (`covers`)
    weeks: dict[date, dict[str, Any] | None] = {}
    out = {}
    d = start
    while d < end:
        week = rules.week_of(d)
        if week not in weeks:
            weeks[week] = week_row(service, week)
        out[d] = rules.rostered(d, weeks[week], away, service.config)
        d += timedelta(days=1)
    return out


def rostered_on(service: HallService, day: date) -> dict[str, Duty]:
    """Who works on `day` and where (staff id → Duty), leave taken off. For staffing advice and wait estimates."""
    return roster(service, day, day + timedelta(days=1))[day]


def leave_on(service: HallService, start: date, end: date) -> dict[tuple[str, str], dict[str, Any]]:
    """Approved (or returned-from) leave by (staff id, day) over [start, end), for attendance."""
    out = {}
    for lv in leaves(service, start, end - timedelta(days=1)):
        if lv["state"] not in ("approved", "returned"):
            continue
        d = max(start, date.fromisoformat(lv["start"]))
        while d < end and d.isoformat() <= lv["end"]:
            if rules.covers({**lv}, d):
                out[(lv["staff_id"], d.isoformat())] = {**rules.view(lv, settings_of(service.config))}
            d += timedelta(days=1)
    return out


def standin_history(service: HallService, year: int) -> dict[str, set[str]]:
    """Each staff member's B岗 days of the year around it: recorded at sign-in and planned in published rotas."""
    out: dict[str, set[str]] = {}
    if not has_tables(service):
        return out
    lo, hi = f"{year - 1}-12-01", f"{year + 1}-01-31"
    for staff_id, day in service.ledger.query("SELECT staff_id, day FROM standin_days WHERE day BETWEEN ? AND ?",
                                              (lo, hi)):
        out.setdefault(staff_id, set()).add(day)
    for (entries,) in service.ledger.query("SELECT entries FROM rota_weeks WHERE week BETWEEN ? AND ?", (lo, hi)):
        for e in json.loads(entries or "[]"):
            staff = service.config.staff_member(e["staff_id"])
            if staff is not None and e["window_id"] not in staff.windows:
                out.setdefault(e["staff_id"], set()).add(e["day"])
    return out


def standin_usage(service: HallService, today: date) -> list[dict[str, Any]]:
    """B岗 days per staff member who stands in anywhere: this year's count and the current spell."""
    s = settings_of(service.config)
    history = standin_history(service, today.year)
    out = []
    for st in service.config.staff:
        days = history.get(st.id, set())
        if not st.standin_windows and not days:
            continue
        past = {d for d in days if d <= today.isoformat()}
        count = rules.standin_count(today, past, service.config.hours, s) if today.isoformat() in past else None
        out.append({"staff_id": st.id, "name": st.name, "standin_windows": list(st.standin_windows),
                    "year_days": sum(1 for d in days if d[:4] == str(today.year) and d <= today.isoformat()),
                    "planned_days": sorted(d for d in days if d > today.isoformat()),
                    "run_days": count.run if count else 0, "verdict": count.verdict if count else "ok",
                    "message": count.message if count else "",
                    "run_limit": s.standin_run_days, "year_limit": s.standin_year_days})
    return out


def week_view(service: HallService, week: date) -> dict[str, Any]:
    """The week as the rota page shows it: its days, the published or standing duties, leave, B岗 usage."""
    cfg = service.config
    row = week_row(service, week)
    days = [week + timedelta(days=i) for i in range(7)]
    duties = roster(service, week, week + timedelta(days=7))
    away = leave_on(service, week, week + timedelta(days=7))
    out_days = []
    for d in days:
        special = service_day(d, cfg.hours)
        out_days.append({
            "day": d.isoformat(), "weekday": "一二三四五六日"[d.weekday()], "open": is_open_day(d, cfg.hours),
            "service_day": special.name if special else None,
            "sessions": [f"{p.start:%H:%M}-{p.end:%H:%M}" for p in sessions_on(d, cfg.hours)],
            "duties": [duty.view() for duty in duties[d].values()],
            "leave": [{"staff_id": sid, "type_name": lv["type_name"], "half": lv.get("half") or ""}
                      for (sid, day), lv in away.items() if day == d.isoformat()],
        })
    return {
        "week": week.isoformat(), "published": row is not None,
        "published_by": row["by"] if row else None, "published_at": row["at"] if row else None,
        "note": row["note"] if row else "", "entries": row["entries"] if row else [],
        "days": out_days, "shifts": rules.SHIFTS,
        "staff": [{"id": s.id, "name": s.name, "unit": s.unit, "windows": list(s.windows),
                   "standin_windows": list(s.standin_windows)} for s in cfg.staff],
        "windows": [{"id": w.id, "number": w.number, "name": w.name, "lunch_duty": w.lunch_duty} for w in cfg.windows],
        "lunch_duty": cfg.hours.lunch_duty is not None,
        "standin": standin_usage(service, service.clock.now().date()),
    }


# ------------------------------------------------------------------------------------ commands


def publish(service: HallService, week: date, entries: list[dict[str, Any]], note: str, by: str) -> dict[str, Any]:
    """Publish (or re-publish) a week's rota: checked entries, B岗 limits (refused past one, warned near one)."""
    cfg = service.config
    s = settings_of(cfg)
    if week != rules.week_of(week):
        raise HallError("invalid_rota", "排班按周发布，week 应为周一的日期。", 422)

    def decide(now: datetime) -> Decision:
        if week < rules.week_of(now.date()):
            raise HallError("rota_past", "不能修改已过去的周的排班。", 409)
        if week > rules.week_of(now.date()) + timedelta(weeks=s.weeks_ahead):
            raise HallError("rota_too_far", f"最多可提前 {s.weeks_ahead} 周排班。", 422)
        duties = rules.check_week(week, entries, cfg, leaves(service, week, week + timedelta(days=6)))
        history = standin_history(service, week.year)
        days = {(week + timedelta(days=i)).isoformat() for i in range(7)}
        history = {sid: {d for d in ds if d not in days} | _recorded(service, sid, days)
                   for sid, ds in history.items()}
        warnings = rules.check_planned_standins(duties, cfg, history, s)
        return rules.publish_week(week, duties, note.strip(), by, now, warnings)

    return service.execute(decide)


def _recorded(service: HallService, staff_id: str, days: set[str]) -> set[str]:
    """Stand-in days already signed in (they stay, whatever the new rota of their week says)."""
    rows = service.ledger.query(f"SELECT day FROM standin_days WHERE staff_id = ? AND day IN ({','.join('?' * len(days))})",
                                (staff_id, *sorted(days)))
    return {r[0] for r in rows}


def request_leave(service: HallService, staff_id: str, type_: str, start: str, end: str, half: str, reason: str,
                  by: str, manager: bool) -> dict[str, Any]:
    s = settings_of(service.config)

    def decide(now: datetime) -> Decision:
        leave_id = f"L{now:%Y%m%d}-{secrets.token_hex(3)}"
        return rules.request_leave(leave_id, staff_id, type_, start, end, half, reason, by, manager, service.config,
                                   s, leaves(service, staff_id=staff_id), now)

    return rules.view(service.execute(decide), s)


def decide_leave(service: HallService, leave_id: str, approve: bool, note: str, by: str) -> dict[str, Any]:
    s = settings_of(service.config)
    row = service.execute(lambda now: rules.decide_leave(_leave(service, leave_id), approve, note, by, s, now))
    return rules.view(row, s)


def cancel_leave(service: HallService, leave_id: str, by: str, staff_id: str | None = None) -> dict[str, Any]:
    s = settings_of(service.config)

    def decide(now: datetime) -> Decision:
        leave = _leave(service, leave_id)
        if staff_id is not None and leave["staff_id"] != staff_id:
            raise HallError("forbidden", "只能撤销本人的请假。", 403)
        return rules.cancel_leave(leave, by, s, now)

    return rules.view(service.execute(decide), s)


def return_from_leave(service: HallService, leave_id: str, returned_on: str | None, by: str) -> dict[str, Any]:
    s = settings_of(service.config)

    def decide(now: datetime) -> Decision:
        return rules.return_from_leave(_leave(service, leave_id), returned_on or now.date().isoformat(), by, s, now)

    return rules.view(service.execute(decide), s)


def leave_list(service: HallService, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Leave for the manager's page: the view plus the reason and whether 销假 is overdue."""
    s = settings_of(service.config)
    today = service.clock.now().date()
    late = {lv["id"] for lv in rules.unreturned(rows, today)}
    return [{**rules.view(lv, s), "reason": lv["reason"], "unreturned": lv["id"] in late,
             "name": (service.config.staff_member(lv["staff_id"]).name
                      if service.config.staff_member(lv["staff_id"]) else lv["staff_id"])} for lv in rows]


# ------------------------------------------------------------------------------------ sign-in and hints


def standin_check(service: HallService):
    """The check every staff sign-in passes (`HallService.extensions["sign-in"]`): a B岗 sign-in on a working day is
    counted against the limits — refused past one; near one it goes through with a `rota.standin_warning`
    event the manager board shows — and its day recorded in `standin_days`."""
    def check(d: Decision, now: datetime, details: dict[str, Any]) -> None:
        s = settings_of(service.config)  # read each time: the config is versioned data a manager may change
        signed = next((data for type_, data in d.events if type_ == "staff.signed_in"), None)
        if signed is None or not signed.get("standin"):
            return
        staff_id, day = signed["staff_id"], now.date()
        if not is_working_day(day, service.config.hours):
            return  # a weekend or holiday session is not a 代岗 working day
        staff = service.config.staff_member(staff_id)
        recorded = {r[0] for r in service.ledger.query(
            "SELECT day FROM standin_days WHERE staff_id = ? AND day BETWEEN ? AND ?",
            (staff_id, f"{day.year - 1}-12-01", day.isoformat()))}
        if day.isoformat() in recorded:
            return
        count = rules.standin_sign_in(staff.name if staff else staff_id, day, recorded, service.config.hours, s)
        d.rows.append(("standin_days", {"staff_id": staff_id, "day": day.isoformat(),
                                        "window_id": signed["window_id"], "at": now.isoformat()}))
        if count.verdict == "warn":
            d.emit("rota.standin_warning", {"staff_id": staff_id, "window_id": signed["window_id"],
                                            "run_days": count.run, "year_days": count.year, "message": count.message})

    return check


def hint_windows(service: HallService, window_ids: list[str]) -> list[str]:
    """Of the windows that may serve a ticket, those with someone there now or rostered today — what the
    kiosk and the printed ticket point a citizen to; all of them when none is (the hall's own fallback)."""
    if not window_ids:
        return window_ids
    now = service.clock.now()
    with service.lock:
        staffed = {wid for wid, ws in service.hall.windows.items()
                   if ws.staff_id is not None and ws.state != WindowState.CLOSED}
    if has_tables(service):
        staffed |= {duty.window_id for duty in rostered_on(service, now.date()).values()}
    shown = [w for w in window_ids if w in staffed]
    return shown or window_ids
