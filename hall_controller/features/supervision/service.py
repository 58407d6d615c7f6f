"""督查 at the edge: loading the period's cases, complaints, ratings, tickets and sign-ins from the ledger, running
the pure figures (`rules.py`, `efficiency.py`, `assessment.py`), their charts, the manager's 考核 notes, and the
month-to-date figures the manager board shows."""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from hall_controller.core.decision import Decision
from hall_controller.core.errors import not_found
from hall_controller.core.model import Ticket, TicketStatus
from hall_controller.core.service import HallService
from hall_controller.features.ratings.service import case_from_row, complaint_from_row
from hall_controller.features.ratings.settings import rules as rating_rules
from hall_controller.features.reports import attendance as att
from hall_controller.features.reports import charts
from hall_controller.features.reports import rules as reports
from hall_controller.features.reports.service import attendance_report
from hall_controller.features.supervision import assessment, efficiency
from hall_controller.features.supervision import rules as sup
from hall_controller.features.supervision.settings import settings_of
from hall_controller.http.pages import names as config_names


def _has(service: HallService, table: str) -> bool:
    return table in service.ledger.tables


def _order(service: HallService) -> dict[str, list[str]]:
    cfg = service.config
    return {"window": [w.id for w in sorted(cfg.windows, key=lambda w: w.number)], "staff": [s.id for s in cfg.staff],
            "service": [s.id for s in cfg.services]}


def cases_between(service: HallService, start: date, end: date) -> list[dict[str, Any]]:
    """差评 cases opened in [start, end)."""
    if not _has(service, "cases"):
        return []
    return [case_from_row(r) for r in service.ledger.records(
        "SELECT * FROM cases WHERE opened_at >= ? AND opened_at < ? ORDER BY opened_at",
        (start.isoformat(), end.isoformat()))]


def complaints_between(service: HallService, start: date, end: date) -> list[dict[str, Any]]:
    if not _has(service, "complaints"):
        return []
    return [complaint_from_row(r) for r in service.ledger.records(
        "SELECT * FROM complaints WHERE registered_at >= ? AND registered_at < ? ORDER BY registered_at",
        (start.isoformat(), end.isoformat()))]


def bad_ratings_between(service: HallService, start: date, end: date) -> list[dict[str, Any]]:
    if not _has(service, "ratings"):
        return []
    rows = service.ledger.records(
        "SELECT id, day, service_id, window_id, staff_id, level, reasons FROM ratings WHERE bad = 1 AND day >= ? "
        "AND day < ? ORDER BY at", (start.isoformat(), end.isoformat()))
    for r in rows:
        r["reasons"] = json.loads(r["reasons"] or "[]")
    return rows


# ------------------------------------------------------------------------------------ 整改率 and 回复率


def rectification_report(service: HallService, period: str, day: date, by: str) -> dict[str, Any]:
    start, end = reports.period_bounds(period, day)
    now = service.clock.now()
    r = sup.rectification(cases_between(service, start, end), complaints_between(service, start, end), by,
                          config_names(service.config), rating_rules(service.config), service.config.hours, now,
                          _order(service))
    r.update({"hall": service.config.name, "period": period, "period_name": reports.PERIODS[period],
              "start": start.isoformat(), "end": (end - timedelta(days=1)).isoformat()})
    return r


def rectification_chart(report: dict[str, Any]) -> str:
    rows = report["rows"] if report["by"] != "all" else [report["total"]]
    return charts.bars(f"差评整改率、回复率、按时办结率（按{report['group_name']}，%）", [r["name"][:8] for r in rows],
                       [(name, [round((r[key] or 0) * 100, 1) for r in rows])
                        for key, name in (("rectify_rate", "整改率"), ("reply_rate", "回复率"),
                                          ("on_time_rate", "按时办结率"))])


# ------------------------------------------------------------------------------------ causes of 差评


def causes_report(service: HallService, period: str, day: date) -> dict[str, Any]:
    start, end = reports.period_bounds(period, day)
    before = reports.period_bounds(period, start - timedelta(days=1))
    ratings = bad_ratings_between(service, start, end)
    valid = {c["rating_id"]: c["valid"] for c in cases_between(service, start - timedelta(days=1), end)}
    r = sup.causes(ratings, valid, dict(rating_rules(service.config).reasons), config_names(service.config), start, end,
                   bad_ratings_between(service, *before))
    r.update({"hall": service.config.name, "period": period, "period_name": reports.PERIODS[period],
              "start": start.isoformat(), "end": (end - timedelta(days=1)).isoformat(),
              "previous": {"start": before[0].isoformat(), "end": (before[1] - timedelta(days=1)).isoformat()}})
    return r


def causes_charts(report: dict[str, Any]) -> dict[str, str]:
    reasons = [r for r in report["reasons"] if r["count"]]
    top = [r["code"] for r in reasons[:3]]
    weeks = report["weeks"]
    return {
        "reasons": charts.hbars(f"差评原因（{report['start']} 至 {report['end']}，次）",
                                [(r["label"], r["count"]) for r in reasons], "次"),
        "trend": charts.bars("主要差评原因按周变化（次）", [w["label"] for w in weeks],
                             [(report["labels"][c], [w["reasons"].get(c, 0) for w in weeks]) for c in top]
                             or [("差评", [w["bad"] for w in weeks])]),
    }


def causes_tables(report: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, str]], list[dict[str, Any]]]]:
    """The cause analysis as sheets: by reason, then service, window and staff with a column per reason, by week."""
    codes = list(report["labels"])
    reason_cols = [(f"r:{c}", report["labels"][c], "int") for c in codes]
    sheets: list[tuple[str, list[tuple[str, str, str]], list[dict[str, Any]]]] = [
        ("差评原因", [("label", "原因", "text"), ("count", "次数", "int"), ("share", "占差评比例", "share"),
                  ("valid", "其中有效", "int"), ("previous", "上期次数", "int"), ("change", "增减", "int")],
         report["reasons"])]
    for key, title in (("by_service", "按事项"), ("by_window", "按窗口"), ("by_staff", "按人员")):
        rows = [{**r, **{f"r:{c}": r["reasons"].get(c, 0) for c in codes}} for r in report[key]]
        sheets.append((title, [("name", "名称", "text"), ("bad", "差评数", "int"), ("top", "首要原因", "text"),
                               *reason_cols], rows))
    weeks = [{**w, **{f"r:{c}": w["reasons"].get(c, 0) for c in codes}} for w in report["weeks"]]
    sheets.append(("按周趋势", [("week", "周（周一）", "text"), ("bad", "差评数", "int"), *reason_cols], weeks))
    return sheets


# ------------------------------------------------------------------------------------ the monthly 效能 return


def month_bounds(month: str) -> tuple[date, date]:
    return att.month_bounds(month)


def _first_calls(service: HallService, start: date, end: date) -> dict[str, datetime]:
    out: dict[str, datetime] = {}
    for at, ticket_id in service.ledger.query(
            "SELECT at, ticket_id FROM events WHERE type = 'ticket.called' AND at >= ? AND at < ? ORDER BY seq",
            (start.isoformat(), (end + timedelta(days=1)).isoformat())):
        out.setdefault(ticket_id, datetime.fromisoformat(at))
    return out


def efficiency_report(service: HallService, month: str) -> dict[str, Any]:
    """The month's 政务服务效能 return: per department (the unit of the staff who served) and per window."""
    cfg = service.config
    start, end = month_bounds(month)
    unit = {s.id: s.unit for s in cfg.staff}
    tickets = [Ticket.from_dict(json.loads(r[0])) for r in service.ledger.query(
        "SELECT data FROM tickets WHERE day >= ? AND day < ?", (start.isoformat(), end.isoformat()))]
    first = _first_calls(service, start, end)
    ticket_rows = []
    for t in tickets:
        called = first.get(t.id) or t.called_at
        ticket_rows.append({"window_id": t.window_id, "department": unit.get(t.staff_id or "", ""),
                            "wait_s": (called - t.issued_at).total_seconds() if called else None,
                            "served": t.status == TicketStatus.FINISHED})
    work = []
    if _has(service, "applications"):
        work = [{"window_id": w, "department": unit.get(s or "", "")} for w, s in service.ledger.query(
            "SELECT window_id, staff_id FROM applications WHERE accepted_at >= ? AND accepted_at < ?",
            (start.isoformat(), end.isoformat()))]
    ratings = []
    if _has(service, "ratings"):
        ratings = [{"window_id": w, "department": unit.get(s or "", ""), "bad": bool(b)}
                   for w, s, b in service.ledger.query(
                       "SELECT window_id, staff_id, bad FROM ratings WHERE day >= ? AND day < ?",
                       (start.isoformat(), end.isoformat()))]
    now, r_rules = service.clock.now(), rating_rules(cfg)
    cases = [{"window_id": c["window_id"], "department": unit.get(c["staff_id"] or "", ""),
              **sup.case_facts(c, r_rules, cfg.hours, now)} for c in cases_between(service, start, end)]
    windows = sorted(cfg.windows, key=lambda w: w.number)
    r = efficiency.efficiency_return(ticket_rows, work, ratings, cases, cfg.queue.max_wait_minutes * 60,
                                     {w.id: w.name for w in windows}, [w.id for w in windows])
    r.update({"hall": cfg.name, "month": month, "max_wait_minutes": cfg.queue.max_wait_minutes})
    return r


# ------------------------------------------------------------------------------------ 考核


def _on_duty(service: HallService, start: date, end: date) -> dict[str, list[tuple[str, str, str | None]]]:
    events = [{"type": t, "at": at, "data": json.loads(d)} for t, at, d in service.ledger.query(
        "SELECT type, at, data FROM events WHERE type IN ('staff.signed_in', 'staff.signed_out') AND at >= ? AND at < ? "
        "ORDER BY seq", ((start - timedelta(days=1)).isoformat(), (end + timedelta(days=1)).isoformat()))]
    out: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
    for iv in att.intervals(events):
        out[iv.window_id].append((iv.staff_id, iv.start.isoformat(), iv.end.isoformat() if iv.end else None))
    return out


def notes(service: HallService, month: str) -> list[dict[str, Any]]:
    if not _has(service, "assessment_notes"):
        return []
    return service.ledger.records("SELECT * FROM assessment_notes WHERE month = ? ORDER BY at", (month,))


def assessment_report(service: HallService, month: str) -> dict[str, Any]:
    """Every staff member's month: score, 等次 and the evidence behind each point, with the managers' notes."""
    cfg = service.config
    a_rules = settings_of(cfg).assessment
    start, end = month_bounds(month)
    now, r_rules = service.clock.now(), rating_rules(cfg)
    ratings: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if _has(service, "ratings"):
        for staff_id, level, rid in service.ledger.query(
                "SELECT staff_id, level, id FROM ratings WHERE day >= ? AND day < ?", (start.isoformat(), end.isoformat())):
            ratings[staff_id or ""].append({"level": level, "id": rid})
    cases: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in cases_between(service, start, end):
        cases[c["staff_id"] or ""].append({**c, **sup.case_facts(c, r_rules, cfg.hours, now)})
    window_names = {w.id: w.name for w in cfg.windows}
    complaints = [{**c, "window_name": window_names.get(c.get("window_id") or "", "")}
                  for c in complaints_between(service, start, end) if c.get("window_id")]
    by_staff = assessment.attribute_complaints(complaints, _on_duty(service, start, end))
    served: dict[str, int] = defaultdict(int)
    for (staff_id, n) in service.ledger.query(
            "SELECT staff_id, COUNT(*) FROM tickets WHERE day >= ? AND day < ? AND status = ? "
            "GROUP BY 1", (start.isoformat(), end.isoformat(), TicketStatus.FINISHED.value)):
        served[staff_id or ""] = n
    attendance = {s["staff_id"]: s for s in attendance_report(service, month)["staff"]}
    month_notes = notes(service, month)
    staff = []
    for st in cfg.staff:
        items = assessment.evidence(st.id, ratings.get(st.id, []), cases.get(st.id, []), by_staff.get(st.id, []),
                                    attendance.get(st.id), served.get(st.id, 0), a_rules)
        result = assessment.score(items, [n for n in month_notes if n["staff_id"] == st.id], a_rules)
        staff.append({"staff_id": st.id, "name": st.name, "unit": st.unit, "served": served.get(st.id, 0), **result})
    return {"hall": cfg.name, "month": month, "staff": staff, "base": a_rules.base, "ceiling": a_rules.ceiling,
            "grades": [{"min": low, "name": name} for low, name in a_rules.grades]}


def add_note(service: HallService, month: str, staff_id: str, points: float, note: str, voids: str | None,
             by: str) -> dict[str, Any]:
    """A manager's 考核 note (加减分 with its reason, or voiding an evidence item), one ledger decision."""
    if service.config.staff_member(staff_id) is None:
        raise not_found("staff", staff_id)
    items = next(s["evidence"] for s in assessment_report(service, month)["staff"] if s["staff_id"] == staff_id)
    assessment.check_note(points, note, voids, items)

    def decide(now: datetime) -> Decision:
        row = {"id": f"N{now:%Y%m%d}-{secrets.token_hex(3)}", "month": month, "staff_id": staff_id,
               "points": float(points), "note": note.strip(), "voids": voids or None, "by": by, "at": now.isoformat()}
        d = Decision(rows=[("assessment_notes", row)], result=row)
        d.emit("assessment.noted", row)
        return d

    return service.execute(decide)


# ------------------------------------------------------------------------------------ the manager board


def board(service: HallService) -> dict[str, Any]:
    """Month to date for the manager board: the 整改 and 回复 figures and the B岗 warnings of today."""
    now = service.clock.now()
    start = now.date().replace(day=1)
    r = sup.rectification(cases_between(service, start, now.date() + timedelta(days=1)),
                          complaints_between(service, start, now.date() + timedelta(days=1)), "all", {},
                          rating_rules(service.config), service.config.hours, now)
    warnings = [json.loads(d)["message"] for (d,) in service.ledger.query(
        "SELECT data FROM events WHERE type = 'rota.standin_warning' AND at >= ? ORDER BY seq",
        (now.date().isoformat(),))]
    return {"from": start.isoformat(), **{k: r["total"][k] for k in (
        "cases", "valid", "rectify_rate", "named", "reply_rate", "on_time_rate", "overdue", "complaints",
        "answer_rate", "complaints_overdue")}, "standin_warnings": warnings}
