"""`hall-controller region serve | add-hall`: the region service over PostgreSQL."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from region.store import Store

_HALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("region", help="the region service: many halls in PostgreSQL (docs/region.md)")
    rsub = p.add_subparsers(dest="region_command", required=True)
    serve = rsub.add_parser("serve", help="ingest the halls' ledgers and serve the region's pages")
    serve.add_argument("--dsn", required=True, help="postgresql://user@host:port/dbname")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9000)
    serve.add_argument("--timezone", default="Asia/Shanghai", help="the region's days and months")
    serve.add_argument("--pool", type=int, default=8, help="PostgreSQL connections at most")
    serve.add_argument("--clock-start", metavar="ISO_TIME",
                       help="run the region's clock from this local time (training, tests), as the hall's serve does")
    add = rsub.add_parser("add-hall", help="register a hall (or give it a new key) and print its key")
    add.add_argument("--dsn", required=True)
    add.add_argument("--hall-id", required=True)
    add.add_argument("--name", required=True, help="the hall's name as the region shows it")
    add.add_argument("--timezone", default="Asia/Shanghai")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"--timezone: unknown time zone: {args.timezone}", file=sys.stderr)
        return 2
    clock = None
    if getattr(args, "clock_start", None):
        try:
            start = datetime.fromisoformat(args.clock_start)
        except ValueError:
            print(f"--clock-start: not an ISO time: {args.clock_start}", file=sys.stderr)
            return 2
        offset = (start if start.tzinfo else start.replace(tzinfo=tz)) - datetime.now(tz)
        clock = lambda: datetime.now(tz) + offset  # noqa: E731
    store = Store(args.dsn, tz, max_size=getattr(args, "pool", 2), clock=clock)
    try:
        store.open(timeout=30)
    except (psycopg.Error, TimeoutError) as exc:
        print(f"数据库连接失败 cannot reach PostgreSQL at {args.dsn}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.region_command == "add-hall":
            if not _HALL_ID.fullmatch(args.hall_id):
                print(f'--hall-id: "{args.hall_id}" is not a valid id: use 1-40 ASCII letters, digits, "_" or "-"',
                      file=sys.stderr)
                return 2
            key = store.add_hall(args.hall_id, args.name)
            print(f"[region]\nurl = \"http://<region host>:<port>\"\nhall_id = \"{args.hall_id}\"\nkey = \"{key}\"")
            return 0
        return _serve(store, args)
    finally:
        store.close()


def _serve(store: Store, args: argparse.Namespace) -> int:
    import uvicorn

    from region.app import create_region_app

    logging.getLogger(__name__).info("区域服务 region service on http://%s:%d", args.host, args.port)
    uvicorn.run(create_region_app(store), host=args.host, port=args.port, log_level="warning")
    return 0
