"""`hall-controller region serve | add-hall`: the region service over PostgreSQL."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import re
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from fastapi import FastAPI

from region.store import Store

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("region", help="the region service: many halls in PostgreSQL (docs/region.md)")
    rsub = p.add_subparsers(dest="region_command", required=True)
    serve = rsub.add_parser("serve", help="ingest the halls' ledgers and serve the region's pages")
    serve.add_argument("--dsn", required=True, help="postgresql://user@host:port/dbname")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9000)
    serve.add_argument("--timezone", default="Asia/Shanghai", help="the region's days and months")
    serve.add_argument("--pool", type=int, default=8,
                       help="posts taken at once, each on its PostgreSQL connection, per worker (2-4 per core)")
    serve.add_argument("--workers", type=int, default=1,
                       help="processes serving the region (one per core the region's machine gives it)")
    serve.add_argument("--clock-start", metavar="ISO_TIME",
                       help="run the region's clock from this local time (training, tests), as the hall's serve does")
    add = rsub.add_parser("add-hall", help="register a hall (or give it a new key) and print its key")
    add.add_argument("--dsn", required=True)
    add.add_argument("--hall-id", required=True)
    add.add_argument("--name", required=True, help="the hall's name as the region shows it")
    add.add_argument("--timezone", default="Asia/Shanghai")
    user = rsub.add_parser("add-user", help="add a region user (监管人员) who may sign in to the pages and API, "
                                          "or set a user's name and password; the password is read from the "
                                          "terminal, or the first line of standard input")
    user.add_argument("--dsn", required=True)
    user.add_argument("--user-id", required=True)
    user.add_argument("--name", required=True, help="shown on the pages when signed in")
    user.add_argument("--timezone", default="Asia/Shanghai")
    remove = rsub.add_parser("remove-user", help="remove a region user; their sign-ins end at once")
    remove.add_argument("--dsn", required=True)
    remove.add_argument("--user-id", required=True)
    remove.add_argument("--timezone", default="Asia/Shanghai")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"--timezone: unknown time zone: {args.timezone}", file=sys.stderr)
        return 2
    clock, offset = None, timedelta()
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
            if not _ID.fullmatch(args.hall_id):
                print(f'--hall-id: "{args.hall_id}" is not a valid id: use 1-40 ASCII letters, digits, "_" or "-"',
                      file=sys.stderr)
                return 2
            key = store.add_hall(args.hall_id, args.name)
            print(f"[region]\nurl = \"http://<region host>:<port>\"\nhall_id = \"{args.hall_id}\"\nkey = \"{key}\"")
            return 0
        if args.region_command == "add-user":
            return _add_user(store, args)
        if args.region_command == "remove-user":
            if not store.remove_user(args.user_id):
                print(f"--user-id: no region user {args.user_id}", file=sys.stderr)
                return 2
            print(f"removed region user {args.user_id}")
            return 0
        return _serve(store, args, offset)
    finally:
        store.close()


MIN_PASSWORD = 8


def _add_user(store: Store, args: argparse.Namespace) -> int:
    if not _ID.fullmatch(args.user_id):
        print(f'--user-id: "{args.user_id}" is not a valid id: use 1-40 ASCII letters, digits, "_" or "-"',
              file=sys.stderr)
        return 2
    if sys.stdin.isatty():
        password = getpass.getpass("密码 password: ")
        if getpass.getpass("再次输入 again: ") != password:
            print("the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < MIN_PASSWORD:
        print(f"password: at least {MIN_PASSWORD} characters (the region's pages show every hall)", file=sys.stderr)
        return 2
    store.add_user(args.user_id, args.name, password)
    print(f"region user {args.user_id} ({args.name}) may sign in at /sign-in")
    return 0


def _serve(store: Store, args: argparse.Namespace, offset: timedelta) -> int:
    """Serve with `--workers` processes (uvicorn's), each with its own pool: the schema is made here first, once."""
    import uvicorn

    if args.workers < 1:
        print("--workers: at least 1", file=sys.stderr)
        return 2
    os.environ[SERVE_ENV] = json.dumps({"dsn": args.dsn, "timezone": args.timezone, "pool": args.pool,
                                        "clock_offset_s": offset.total_seconds()})
    store.close()
    logging.getLogger(__name__).info("区域服务 region service on http://%s:%d", args.host, args.port)
    uvicorn.run("region.cli:served_app", factory=True, workers=args.workers, host=args.host, port=args.port,
                log_level="warning")
    return 0


SERVE_ENV = "HALL_CONTROLLER_REGION_SERVE"


def served_app() -> FastAPI:
    """The app of one `region serve` worker, from what `_serve` put in the environment."""
    from region.app import create_region_app

    conf = json.loads(os.environ[SERVE_ENV])
    tz = ZoneInfo(conf["timezone"])
    offset = timedelta(seconds=conf["clock_offset_s"])
    clock = (lambda: datetime.now(tz) + offset) if offset else None
    store = Store(conf["dsn"], tz, max_size=conf["pool"], clock=clock).open(timeout=30)
    return create_region_app(store, owns_store=True)
