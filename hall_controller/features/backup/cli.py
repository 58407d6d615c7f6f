"""`hall-controller backup | restore | verify`: the ledger's copies, made while the hall is served."""

from __future__ import annotations

import argparse
import json
import sys

from hall_controller.features.backup.service import BackupError, Report, backup, restore, verify

DEFAULT_DB = "var/hall.db"


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="copy the ledger while it is served (SQLite online backup), then verify the copy")
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument("--to", required=True, metavar="PATH", help="the copy to write (replaced only when whole)")
    p.set_defaults(run=_backup)
    p = sub.add_parser("restore", help="put a verified backup in the ledger's place (stop the controller first)")
    p.add_argument("--from", dest="source", required=True, metavar="PATH")
    p.add_argument("--db", default=DEFAULT_DB)
    p.set_defaults(run=_restore)
    p = sub.add_parser("verify", help="integrity check, gap-free event sequence, projections equal to a replay")
    p.add_argument("--db", default=DEFAULT_DB)
    p.add_argument("--json", action="store_true", help="the report as one JSON object")
    p.set_defaults(run=_verify)


def _backup(args: argparse.Namespace) -> int:
    try:
        report = backup(args.db, args.to)
    except BackupError as exc:
        print(f"备份失败 backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"已备份 backed up {args.db} → {report.path}: {_summary(report)}")
    return 0


def _restore(args: argparse.Namespace) -> int:
    try:
        report, kept = restore(args.source, args.db)
    except BackupError as exc:
        print(f"恢复失败 restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"已恢复 restored {args.source} → {args.db}: {_summary(report)}")
    if kept:
        print(f"原台账保留在 the replaced ledger is kept at {kept}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        report = verify(args.db)
    except BackupError as exc:
        print(f"校验失败 verify failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    elif report.ok:
        print(f"OK {report.path}: {_summary(report)}")
    else:
        print(f"有问题 FAILED {report.path}: {_summary(report)}")
        for problem in report.problems:
            print(f"  - {problem}")
    return 0 if report.ok else 1


def _summary(r: Report) -> str:
    return f"{r.events} events (last seq {r.last_seq}, {r.last_event_at or '-'}), {r.tickets} tickets"
