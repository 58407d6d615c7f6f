"""`hall-controller config export|import`: the current configuration version as TOML, and a TOML file as a
new version — on a running hall over its API (`--url`, an admin's account), or on a stopped hall's ledger
(`--db`)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from hall_controller import config_loader
from hall_controller.core.clock import SystemClock
from hall_controller.core.errors import HallError
from hall_controller.core.feature import Section
from hall_controller.core.ledger import Ledger
from hall_controller.core.service import HallService
from hall_controller.features.admin.service import Versions, latest
from hall_controller.features.backup.service import BackupError, serving_lock

PASSWORD_ENV = "HALL_ADMIN_PASSWORD"


def add_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="export the current configuration version as TOML, or import TOML as a new one")
    actions = p.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="write the current version as TOML (stdout, or --out)")
    export.add_argument("--out", type=Path)
    imp = actions.add_parser("import", help="make a TOML file the new current version")
    imp.add_argument("path", type=Path)
    imp.add_argument("--summary", help="one line for the version list (default: the diff's)")
    for a in (export, imp):
        where = a.add_mutually_exclusive_group(required=True)
        where.add_argument("--url", help="a running hall, e.g. http://127.0.0.1:8000 (signs in as --user)")
        where.add_argument("--db", type=Path, help="a stopped hall's ledger, e.g. var/hall.db")
        a.add_argument("--user", default="admin", help=f"admin account for --url (password from ${PASSWORD_ENV} or asked)")
    p.set_defaults(run=command)


def to_toml(doc: dict[str, Any]) -> str:
    return tomli_w.dumps(doc)


def command(args: argparse.Namespace, open_ledger: Callable[[str], Ledger], sections: Iterable[Section]) -> int:
    try:
        if args.url:
            return _over_api(args)
        return _on_ledger(args, open_ledger, tuple(sections))
    except (config_loader.ConfigError, HallError, BackupError, OSError, httpx.HTTPError) as exc:
        message = exc.message if isinstance(exc, HallError) else str(exc)
        print(f"config {args.action}: {message}", file=sys.stderr)
        return 2


def _read_toml(path: Path) -> dict[str, Any]:
    text = path.read_bytes().decode("utf-8-sig")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise config_loader.ConfigError(str(path), "(file)", f"TOML syntax error: {e}") from None


def _on_ledger(args: argparse.Namespace, open_ledger: Callable[[str], Ledger], sections: tuple[Section, ...]) -> int:
    if not args.db.exists():
        raise OSError(f"{args.db}: no such ledger")
    if args.action == "import":
        with serving_lock(args.db):  # a running hall would not see it: use --url for that
            return _import_on_ledger(args, open_ledger, sections)
    ledger = open_ledger(str(args.db))
    try:
        row = _current(ledger, args.db)
        return _write(args, to_toml(json.loads(row["document"])), row["version"])
    finally:
        ledger.close()


def _current(ledger: Ledger, db: Path) -> dict[str, Any]:
    row = latest(ledger)
    if row is None:
        raise HallError("unversioned", f"{db} 中还没有配置版本：先启动一次大厅（以配置文件为第 1 版）。", 404)
    return row


def _import_on_ledger(args: argparse.Namespace, open_ledger: Callable[[str], Ledger], sections: tuple[Section, ...]) -> int:
    ledger = open_ledger(str(args.db))
    try:
        row = _current(ledger, args.db)
        doc = json.loads(row["document"])
        config = config_loader.config_from_dict(doc, str(args.db), sections)
        service = HallService(replace(config, version=row["version"], document=doc), ledger,
                              SystemClock(config.timezone))
        result = Versions(service, sections, args.db.parent).put(
            _read_toml(args.path), row["version"], "cli", summary=args.summary, source=f"import:{args.path}")
    finally:
        ledger.close()
    print(f"OK: version {result['version']} ({', '.join(result['changed']) or 'no change'})")
    return 0


def _write(args: argparse.Namespace, text: str, version: int) -> int:
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"OK: version {version} → {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _over_api(args: argparse.Namespace) -> int:
    password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"{args.user} 的密码: ")
    with httpx.Client(base_url=args.url.rstrip("/"), timeout=60) as http:
        signed = _json(http.post("/api/manager/sign-in", json={"manager_id": args.user, "password": password}))
        headers = {"authorization": f"Bearer {signed['token']}"}
        current = _json(http.get("/api/admin/config", headers=headers))
        if args.action == "export":
            return _write(args, to_toml(current["config"]), current["version"])
        body = {"base_version": current["version"], "config": config_loader.document(_read_toml(args.path))}
        if args.summary:
            body["summary"] = args.summary
        result = _json(http.put("/api/admin/config", headers=headers, json=body))
    print(f"OK: version {result['version']} ({', '.join(result['changed']) or 'no change'})")
    return 0


def _json(response: httpx.Response) -> dict[str, Any]:
    data = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code >= 400:
        where = f" [{data['field']}]" if data.get("field") else ""
        raise HallError(data.get("error", "http_error"), f"{response.status_code} {data.get('message', '')}{where}",
                        response.status_code)
    return data
