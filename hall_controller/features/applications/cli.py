"""`hall-controller applications show|list|report`: the 办件 from a terminal — one 办件 with its history, the
list (by status, matter, period, or only the 超期 ones) and the period's counts with 一件事 bundles — on a
running hall over its API (`--url`, a manager's account), or read-only on a ledger file (`--db`: a stopped
hall's, a backup copy, or a running hall's without touching it)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from hall_controller import config_loader
from hall_controller.core.clock import SystemClock
from hall_controller.core.errors import HallError
from hall_controller.core.feature import Section
from hall_controller.core.model import OUTCOMES
from hall_controller.core.settings import HallConfig
from hall_controller.features.applications.rules import STATUSES, report_period
from hall_controller.features.applications.store import Register

PASSWORD_ENV = "HALL_MANAGER_PASSWORD"


def add_command(sub: argparse._SubParsersAction, default_config: str) -> None:
    p = sub.add_parser("applications", help="办件: show one, list them (--overdue: the 超期 ones), count a period")
    actions = p.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="one 办件 with its history")
    show.add_argument("application_no")
    listing = actions.add_parser("list", help="办件, newest first")
    listing.add_argument("--status", choices=tuple(STATUSES))
    listing.add_argument("--service", help="a service id (事项)")
    listing.add_argument("--overdue", action="store_true", help="only those past their 容缺 or 承诺 deadline")
    report = actions.add_parser("report", help="counts by status and outcome, 一件事 bundles and matters")
    for a in (listing, report):
        a.add_argument("--from", dest="day_from", type=date.fromisoformat, help="YYYY-MM-DD (list: accepted on or after)")
        a.add_argument("--to", dest="day_to", type=date.fromisoformat, help="YYYY-MM-DD (inclusive)")
    for a in (show, listing, report):
        where = a.add_mutually_exclusive_group(required=True)
        where.add_argument("--url", help="a running hall, e.g. http://127.0.0.1:8000 (signs in as --user)")
        where.add_argument("--db", type=Path, help="a ledger file, read only, e.g. var/hall.db")
        a.add_argument("--user", default="manager", help=f"manager account for --url (password from ${PASSWORD_ENV} or asked)")
        a.add_argument("--config", default=default_config,
                       help="--db: the hall's TOML, when the ledger holds no configuration version")
        a.add_argument("--json", action="store_true", help="the API's JSON instead of text")
    p.set_defaults(run=command)


def command(args: argparse.Namespace, load_config: Callable[[str], HallConfig], sections: Iterable[Section]) -> int:
    try:
        answer = _over_api(args) if args.url else _on_ledger(args, load_config, tuple(sections))
    except (config_loader.ConfigError, HallError, OSError, sqlite3.Error, httpx.HTTPError) as exc:
        print(f"applications {args.action}: {exc.message if isinstance(exc, HallError) else exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
    else:
        print("\n".join({"show": show_text, "list": list_text, "report": report_text}[args.action](answer)))
    return 0


def _on_ledger(args: argparse.Namespace, load_config: Callable[[str], HallConfig],
               sections: tuple[Section, ...]) -> dict[str, Any]:
    if not args.db.is_file():
        raise OSError(f"--db: no ledger at {args.db}")
    # Read only: never migrates, locks or writes the hall's ledger (a running hall goes on undisturbed).
    conn = sqlite3.connect(f"{args.db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'applications'").fetchone():
            raise OSError(f"--db: {args.db} is not a hall's ledger with 办件 (no applications table)")
        config = _config(conn, args, load_config, sections)
        register = Register(lambda sql, params=(): conn.execute(sql, tuple(params)).fetchall(), lambda: config,
                            SystemClock(config.timezone).now)
        if args.action == "show":
            return register.view(register.get(args.application_no.strip()))
        if args.action == "list":
            return {"applications": register.search(
                args.status, args.service, args.overdue, args.day_from.isoformat() if args.day_from else None,
                args.day_to.isoformat() if args.day_to else None), "hall": config.name}
        return {**register.report(*report_period(args.day_from, args.day_to, register.now().date())),
                "hall": config.name}
    finally:
        conn.close()


def _config(conn: sqlite3.Connection, args: argparse.Namespace, load_config: Callable[[str], HallConfig],
            sections: tuple[Section, ...]) -> HallConfig:
    """The configuration the hall runs on: the ledger's current version, else the TOML file."""
    try:
        row = conn.execute("SELECT document FROM config_versions ORDER BY version DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # a ledger from before configuration versions
        row = None
    if row is None:
        return load_config(args.config)
    return config_loader.config_from_dict(json.loads(row[0]), str(args.db), sections)


def _over_api(args: argparse.Namespace) -> dict[str, Any]:
    password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"{args.user} 的密码: ")
    with httpx.Client(base_url=args.url.rstrip("/"), timeout=30) as http:
        signed = _json(http.post("/api/manager/sign-in", json={"manager_id": args.user, "password": password}))
        headers = {"authorization": f"Bearer {signed['token']}"}
        if args.action == "show":
            return _json(http.get(f"/api/applications/{args.application_no.strip()}", headers=headers))
        params = {k: v for k, v in (("from", args.day_from), ("to", args.day_to)) if v}
        if args.action == "report":
            return _json(http.get("/api/applications/report", headers=headers, params=params))
        params.update({k: v for k, v in (("status", args.status), ("service_id", args.service)) if v})
        if args.overdue:
            params["overdue"] = "true"
        return _json(http.get("/api/applications", headers=headers, params=params))


def _json(response: httpx.Response) -> dict[str, Any]:
    data = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code >= 400:
        raise HallError(data.get("error", "http_error"), f"{response.status_code} {data.get('message', '')}",
                        response.status_code)
    return data


# ---------------------------------------------------------------------- text


def _day(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "—"


def list_text(answer: dict[str, Any]) -> list[str]:
    apps = answer["applications"]
    lines = [f"{len(apps)} 件办件" + (f"（{answer['hall']}）" if answer.get("hall") else "")]
    for a in apps:
        late = "  超期" if a["overdue"] else ""
        lines.append(f"{a['application_no']:<22} {a['status_label']:<5} {_day(a['accepted_at'])}  "
                     f"期限 {_day(a['watched_due'])}  {a['service_name']}{late}")
    return lines


def show_text(a: dict[str, Any]) -> list[str]:
    lines = [f"办件 {a['application_no']}  {a['service_name']}（事项编码 {a.get('service_code') or '—'}）",
             f"状态：{a['status_label']}" + ("  【超期】" if a["overdue"] else ""),
             f"办结类型：{a.get('outcome_label') or '—'}    号票：{a.get('ticket_number') or '—'}"
             f"    窗口：{a.get('window_id') or '—'}    经办人：{a.get('staff_id') or '—'}",
             f"受理：{_day(a['accepted_at'])}    承诺办结：{_day(a.get('due_at'))}"]
    if a.get("missing"):
        lines.append("需补正 / 容缺材料：" + "、".join(a["missing"]))
    if a.get("commitment_due"):
        lines.append(f"容缺补交承诺：{_day(a['commitment_due'])}" + (f"（已于 {_day(a['supplied_at'])} 补交）"
                                                                   if a.get("supplied_at") else ""))
    if a.get("reason"):
        lines.append(f"不予受理理由：{a['reason']}")
    if a.get("delivery"):
        d = a["delivery"]
        lines.append(f"政务专递：{d['carrier']} {d['waybill']} · {d['address']}（{d['recipient']} {d['phone']}）")
    lines.append("历程：")
    lines += [f"  {_day(h['at'])}  {STATUSES.get(h['status'], h['status'])}  {h['what']}  {h.get('by') or ''}".rstrip()
              for h in a.get("history") or ()]
    return lines


def report_text(r: dict[str, Any]) -> list[str]:
    lines = [f"{r['from']} 至 {r['to']}：办件 {r['total']} 件",
             "按状态：" + ("，".join(f"{STATUSES.get(k, k)} {n}" for k, n in sorted(r["by_status"].items())) or "—"),
             "按办结类型：" + ("，".join(f"{OUTCOMES.get(k, '未办结')} {n}" for k, n in sorted(r["by_outcome"].items()))
                            or "—")]
    lines += [f"一件事 {b['name']}：{b['bundles']} 件，{b['matters']} 个事项" for b in r["bundles"]]
    return lines
