"""`hall-controller`: serve the hall, check a config, and the tools around them."""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hall_controller.app import SECTIONS, load_config, open_ledger
from hall_controller.config_loader import ConfigError
from hall_controller.core.calendar import is_working_day
from hall_controller.core.clock import Clock, OffsetClock, SystemClock
from hall_controller.core.migrations import SchemaError
from hall_controller.core.settings import HallConfig
from hall_controller.features.admin import cli as admin_cli
from hall_controller.features.applications import cli as applications_cli
from hall_controller.features.backup import cli as backup_cli
from hall_controller.features.simulation import cli as simulation_cli
from hall_controller.features.staffing import cli as staffing_cli
from hall_controller.http.observe import configure_logging
from region import cli as region_cli

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo-hall.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hall-controller", description="政务服务大厅排队叫号控制器")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the hall (API, pages, devices)")
    serve.add_argument("--config", default=str(DEFAULT_CONFIG))
    serve.add_argument("--db", default="var/hall.db")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true",
                       help="if the hall is closed now, run the hall clock shifted into its opening hours")
    serve.add_argument("--devices", choices=("simulated", "config", "none"),
                       help="simulated devices (the default with --demo), the ports in the config (the default "
                            "otherwise: simulators add unauthenticated /api/sim/* routes), or none")
    serve.add_argument("--rate-limit", type=float, default=50,
                       help="requests a second allowed per client address, bursts twice that (0 = no limit)")
    serve.add_argument("--ws-per-client", type=int, default=50,
                       help="open event streams (WS /ws/events) allowed per client address")
    serve.add_argument("--ws-max", type=int, default=1000, help="open event streams allowed in all")
    serve.add_argument("--clock-start", metavar="ISO_TIME",
                       help="run the hall clock from this local time (training, simulation, tests)")
    serve.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="json: one JSON object a line with the request id, for a log collector")

    check = sub.add_parser("check-config", help="validate a hall config without starting")
    check.add_argument("path")

    kiosk_key = sub.add_parser("kiosk-key", help="a new key for a kiosk: its key_hash for [[kiosks.kiosk]], and the "
                                                 "address to open once on the kiosk")
    kiosk_key.add_argument("kiosk_id")
    pad_key = sub.add_parser("pad-key", help="a new key for a window's tablet evaluation pad: its key_hash for "
                                             "[[devices.tablets]], and the address to open once on the tablet")
    pad_key.add_argument("window_id")

    devices = sub.add_parser("devices", help="press simulated keypads and pads, watch the window displays")
    devices.add_argument("--url", default="http://127.0.0.1:8000", help="a server run with --devices simulated")
    simulation_cli.add_command(sub, str(DEFAULT_CONFIG))
    staffing_cli.add_command(sub, str(DEFAULT_CONFIG))
    region_cli.add_command(sub)
    backup_cli.add_commands(sub)
    admin_cli.add_command(sub)
    applications_cli.add_command(sub, str(DEFAULT_CONFIG))

    args = parser.parse_args(argv)
    configure_logging(getattr(args, "log_format", "text"))
    if args.command == "check-config":
        return _check_config(args.path)
    if args.command == "kiosk-key":
        return _kiosk_key(args.kiosk_id)
    if args.command == "pad-key":
        return _pad_key(args.window_id)
    if args.command in ("simulate", "staffing"):
        return args.run(args, load_config)
    if args.command in ("region", "backup", "restore", "verify"):
        return args.run(args)
    if args.command == "config":
        return args.run(args, open_ledger, SECTIONS)
    if args.command == "applications":
        return args.run(args, load_config, SECTIONS)
    if args.command == "devices":
        from hall_controller.features.devices.cli import run

        return run(args.url)
    return _serve(args)


def _check_config(path: str) -> int:
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        print(f"配置错误 config error: {exc}", file=sys.stderr)
        return 2
    print(f"OK: {cfg.name}: {len(cfg.categories)} categories, {len(cfg.services)} services, "
          f"{len(cfg.windows)} windows, {len(cfg.staff)} staff")
    return 0


def _kiosk_key(kiosk_id: str) -> int:
    """Provisioning a kiosk: the hash goes into the config (the hall keeps no key), the key onto the kiosk once."""
    from hall_controller.http.issuing import key_hash, new_key

    key = new_key()
    print(f"# [[kiosks.kiosk]] id = \"{kiosk_id}\": put this line in its table")
    print(f'key_hash = "{key_hash(key)}"')
    print(f"# then open this once on the kiosk (the page keeps the key):  /kiosk/{kiosk_id}#key={key}")
    return 0


def _pad_key(window_id: str) -> int:
    """Provisioning a tablet pad, as a kiosk: the hash into the config, the key onto the tablet once."""
    from hall_controller.http.issuing import key_hash, new_key

    key = new_key()
    print("# [[devices.tablets]]: this window's tablet (or one entry of [devices] tablets = [...])")
    print(f'window = "{window_id}"')
    print(f'key_hash = "{key_hash(key)}"')
    print(f"# then open this once on the tablet (the page keeps the key):  /pad/{window_id}#key={key}")
    return 0


def demo_clock(cfg: HallConfig, last_event: datetime | None = None) -> Clock:
    """Real time if the hall is open now, else real time shifted into its opening hours (`demo_start`)."""
    clock = SystemClock(cfg.timezone)
    now = clock.now()
    start = demo_start(cfg, now, last_event)
    if start == now:
        return clock
    logging.getLogger(__name__).info("演示模式：大厅时钟从 %s 开始（实际时间 %s）", start, now)
    return OffsetClock(cfg.timezone, start - now)


def demo_start(cfg: HallConfig, now: datetime, last_event: datetime | None) -> datetime:
    """When the demo hall's clock starts: now if the hall is open now, else half an hour into the last working
    day's opening — but never before the ledger's last event. A restarted demo goes on from where its hall
    left off (the next working day's opening once that day's hours are over), so issue times never go
    backwards and no wait comes out negative."""
    start = now if _open(cfg, now) else _opening(cfg, _working_day(cfg, now.date(), -1), now.tzinfo)
    if last_event is None or last_event < start:
        return start
    resume = last_event.astimezone(now.tzinfo) + timedelta(seconds=1)
    day = resume.date()
    sessions = cfg.hours.sessions
    if is_working_day(day, cfg.hours) and sessions and sessions[0].start <= resume.time() < sessions[-1].end:
        return resume
    if is_working_day(day, cfg.hours) and sessions and resume.time() < sessions[0].start:
        return _opening(cfg, day, now.tzinfo)
    return _opening(cfg, _working_day(cfg, day + timedelta(days=1), +1), now.tzinfo)


def _open(cfg: HallConfig, at: datetime) -> bool:
    return is_working_day(at.date(), cfg.hours) and any(p.contains(at.time()) for p in cfg.hours.sessions)


def _working_day(cfg: HallConfig, day: date, step: int) -> date:
    """`day` if it is a working day, else the nearest one before (step -1) or after (+1) it."""
    while not is_working_day(day, cfg.hours):
        day += timedelta(days=step)
    return day


def _opening(cfg: HallConfig, day: date, tz) -> datetime:
    start = cfg.hours.sessions[0].start if cfg.hours.sessions else time(9)
    return datetime.combine(day, start, tz) + timedelta(minutes=30)


def last_event_at(db: str) -> datetime | None:
    """The time of the ledger's last event, read before the ledger is opened (None for a new one)."""
    if not Path(db).is_file():
        return None
    try:
        conn = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT at FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # not a ledger (yet): opening it says why
    return datetime.fromisoformat(row[0]) if row else None


def devices_mode(args: argparse.Namespace) -> str:
    """Simulators only for a demo unless asked for: their /api/sim/* routes let anyone press a keypad or rate."""
    return args.devices or ("simulated" if args.demo else "config")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hall_controller.app import build_app
    from hall_controller.core.ledger import StorageError
    from hall_controller.http.app import ServeOptions
    from hall_controller.http.ws import WS_MAX_MESSAGE

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"配置错误 config error: {exc}", file=sys.stderr)
        return 2
    if args.clock_start:
        try:
            start = datetime.fromisoformat(args.clock_start)
        except ValueError:
            print(f"--clock-start: not an ISO time: {args.clock_start}", file=sys.stderr)
            return 2
        start = start if start.tzinfo else start.replace(tzinfo=ZoneInfo(cfg.timezone))
        clock: Clock = OffsetClock(cfg.timezone, start - datetime.now(start.tzinfo))
    elif args.demo:
        clock = demo_clock(cfg, last_event_at(args.db))
    else:
        clock = SystemClock(cfg.timezone)
    var_dir = Path(args.db).resolve().parent
    try:
        var_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=var_dir).close()  # WAVs and device logs are written here
        app = build_app(cfg, args.db, clock, ServeOptions(
            devices=devices_mode(args), var_dir=var_dir, rate_limit=args.rate_limit,
            ws_per_client=args.ws_per_client, ws_max=args.ws_max,
            access_log=args.log_format == "json"))
    except SchemaError as exc:
        print(f"台账错误 ledger error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"存储错误 storage error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"存储错误 storage error: cannot write the directory {var_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    # loop="asyncio": pyserial-asyncio-fast sets attributes on socket:// transports, which uvloop's refuse
    # No per-message deflate: events are small, and compressing each one once per board client costs more
    # CPU than the LAN bytes it saves.
    # ws_max_size: a client's WebSocket message over a few KiB is refused before it is buffered (clients of the
    # event stream send nothing).
    # JSON: uvicorn's loggers go to ours (log_config=None) and our access line, with the request id, replaces its own.
    json_logs = {"log_config": None, "access_log": False} if args.log_format == "json" else {}
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", ws_ping_interval=20, loop="asyncio",
                ws_per_message_deflate=False, ws_max_size=WS_MAX_MESSAGE, **json_logs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
