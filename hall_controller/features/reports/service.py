"""Reports from the ledger: service figures per period and group, attendance, daily summaries, their charts,
and the tables as CSV (UTF-8 with BOM, so Excel shows Chinese) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from hall_controller.core.model import Ticket
from hall_controller.core.service import HallService
from hall_controller.features.day.service import day_rows, load_ratings
from hall_controller.features.day.settings import settings_of
from hall_controller.features.reports import attendance as att
from hall_controller.features.reports import charts
from hall_controller.features.reports import rules as reports
from hall_controller.features.rota import rules as rota_rules
from hall_controller.features.rota import service as rota


def service_report(service: HallService, period: str, day: date, by: str) -> dict[str, Any]:
    start, end = reports.period_bounds(period, day)
    tickets = [Ticket.from_dict(json.loads(r[0])) for r in service.ledger.query(
        "SELECT data FROM tickets WHERE day >= ? AND day < ?", (start.isoformat(), end.isoformat()))]
    # One day before the period, so the window states and queue at its start are known for idle time.
    events = [{"type": t, "at": at, "data": json.loads(d)} for t, at, d in service.ledger.query(
        "SELECT type, at, data FROM events WHERE at >= ? AND at < ? ORDER BY seq",
        ((start - timedelta(days=1)).isoformat(), end.isoformat()))]
    ratings = load_ratings(service, "day >= ? AND day < ?", (start.isoformat(), end.isoformat()))
    report = reports.build(reports.Rows(tickets, events, ratings), service.config, period, day, by,
                           service.clock.now())
    report["hall"] = service.config.name
    return report


def attendance_report(service: HallService, month: str) -> dict[str, Any]:
    start, end = att.month_bounds(month)
    events = [{"type": t, "at": at, "data": json.loads(d)} for t, at, d in service.ledger.query(
        "SELECT type, at, data FROM events WHERE type IN ('staff.signed_in', 'staff.signed_out') "
        "AND at >= ? AND at < ? ORDER BY seq", ((start - timedelta(days=1)).isoformat(), (end + timedelta(days=1)).isoformat()))]
    first = service.ledger.query("SELECT at FROM events ORDER BY seq LIMIT 1")  # no absence before the system ran
    since = datetime.fromisoformat(first[0][0]).date() if first else service.clock.now().date()
    expected = leave = None
    if rota.has_tables(service):  # rostered sessions and leave; without the feature everyone, every working day
        expected = {(sid, d.isoformat()): sessions
                    for d, duties in rota.roster(service, start, end).items()
                    for sid, sessions in rota_rules.expected_sessions(d, duties, service.config.hours).items()}
        leave = rota.leave_on(service, start, end)
    report = att.attendance(events, service.config, settings_of(service.config), start, end, service.clock.now(), since,
                            expected, leave)
    report["month"], report["hall"] = month, service.config.name
    return report


def daily_summaries(service: HallService, month: str) -> list[dict[str, Any]]:
    rows = service.ledger.query(
        "SELECT day, opened_at, closed_at, policy, close_reason, summary FROM hall_days "
        "WHERE day LIKE ? ORDER BY day", (f"{month}-%",))
    today = service.clock.now().date().isoformat()
    out = [{"day": d, "opened_at": o, "closed_at": c, "policy": p, "close_reason": r,
            "summary": json.loads(s) if s else None, "so_far": False} for d, o, c, p, r, s in rows]
    for day in out:
        if day["day"] == today and day["summary"] is None:  # open now: the summary so far, as closing would make it
            day["summary"] = reports.daily_summary(day_rows(service, today, []), service.config, today)
            day["so_far"] = True
    return out


def report_charts(report: dict[str, Any]) -> dict[str, str]:
    s = report["series"]
    volume = charts.bars(f"{report['period_name']} 取号与办结（{report['start']} 至 {report['end']}）",
                         [r["label"] for r in s],
                         [("取号", [r["issued"] for r in s]), ("办结", [r["served"] for r in s])])
    groups = [(r["name"], r["wait_mean"]) for r in report["rows"] if r["wait_mean"] is not None]
    if report["by"] == "all":
        groups = [(r["label"], r["wait_mean"]) for r in s if r["wait_mean"] is not None]
    wait = charts.hbars(f"平均等候时间（按{report['group_name'] if report['by'] != 'all' else '时段'}，分钟）",
                        groups, "分", marker=report["target_wait_minutes"])
    return {"volume": volume, "wait": wait}


# ----------------------------------------------------------------------------- files


def _cell(value: Any, kind: str, for_csv: bool) -> Any:
    if value is None:
        return "—"
    if kind == "share":
        return f"{value * 100:.1f}%" if for_csv else value
    if kind == "minutes":
        return round(value, 1)
    return value


def table(columns: tuple[tuple[str, str, str], ...] | list[dict[str, str]], rows: list[dict[str, Any]],
          for_csv: bool) -> list[list[Any]]:
    cols = [(c["key"], c["name"], c["kind"]) if isinstance(c, dict) else c for c in columns]
    return [[name for _, name, _ in cols]] + [[_cell(r.get(k), kind, for_csv) for k, _, kind in cols] for r in rows]


def csv_bytes(title: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(title)
    w.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _text_width(value: Any) -> int:
    text = f"{value:.1%}" if isinstance(value, float) else "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def xlsx_bytes(sheets: list[tuple[str, list[str], list[list[Any]], list[str]]]) -> bytes:
    """sheets: (name, title line, rows with a header first, column kinds)."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, title, rows, kinds in sheets:
        ws = wb.create_sheet(name)
        ws.append([" ".join(title)])
        ws["A1"].font = Font(bold=True, size=13)
        for i, row in enumerate(rows):
            ws.append(row)
            if i == 0:
                for cell in ws[ws.max_row]:
                    cell.font = Font(bold=True)
            else:
                for cell, kind in zip(ws[ws.max_row], kinds):
                    if kind == "share" and isinstance(cell.value, float):
                        cell.number_format = "0.0%"
                    elif kind == "minutes" and isinstance(cell.value, float):
                        cell.number_format = "0.0"
        # each column as wide as its widest cell (header or value: a service's full name in the first column),
        # a Chinese character counting two
        for col in ws.iter_cols(min_row=2, max_row=ws.max_row):
            widest = max((_text_width(c.value) for c in col), default=0)
            ws.column_dimensions[col[0].column_letter].width = max(8, min(48, widest + 2))
        ws.freeze_panes = "B3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
