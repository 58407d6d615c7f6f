"""Configuration as versioned data (配置版本): read, validate and commit versions through the one write path,
and the version a hall starts on.

A new version is validated as `check-config` validates a file (the same loader, on the JSON document), then
committed as one `config.changed` event with its row; the hall runs on it from that COMMIT on
(`Decision.config`). Features read their settings from `service.config` when they act, so they follow.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from hall_controller import config_loader
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.feature import Section
from hall_controller.core.ledger import Ledger
from hall_controller.core.service import HallService
from hall_controller.core.settings import HallConfig
from hall_controller.features.admin import rules

ADMIN_SOURCE = "<admin>"  # the "file" a ConfigError names for a document sent to the API
PHOTO_SIZE = (360, 480)  # 工作照 as stored: 3:4, enough for a window display
PHOTO_MAX_BYTES = 2 * 1024 * 1024  # the request body limit (http/limits.py) as well
PHOTO_MAX_PIXELS = 40_000_000  # a small file claiming a huge picture would take memory to decode


def validate(doc: Any, sections: Iterable[Section], source: str = ADMIN_SOURCE) -> HallConfig:
    """The configuration a document describes, or 422 naming the first bad key as `field`."""
    try:
        return config_loader.config_from_dict(doc, source, sections)
    except config_loader.ConfigError as e:
        raise HallError("invalid_config", f"配置有误：{e.key}：{e.zh or e.reason}", 422, field=e.key) from None


def _row(version: int, at: datetime, by: str, doc: Mapping[str, Any], before: Mapping[str, Any] | None,
         summary: str | None, source: str, source_hash: str = "") -> dict[str, Any]:
    lines = rules.diff(before or {}, doc) if before is not None else []
    return {"version": version, "at": at.isoformat(), "by": by,
            "summary": (summary or "").strip()[:rules.SUMMARY_MAX] or (rules.summary(lines) if before is not None
                                                                       else "初始配置"),
            "diff": json.dumps(lines, ensure_ascii=False), "document": json.dumps(doc, ensure_ascii=False),
            "source": source, "source_hash": source_hash}


def file_hash(config: HallConfig) -> str:
    return hashlib.sha256(rules.canonical(config.document).encode()).hexdigest()


def latest(ledger: Ledger) -> dict[str, Any] | None:
    rows = ledger.records("SELECT * FROM config_versions ORDER BY version DESC LIMIT 1")
    return rows[0] if rows else None


def startup_config(ledger: Ledger, from_file: HallConfig, sections: Iterable[Section], now: datetime) -> HallConfig:
    """The configuration a hall starts on. The ledger's current version — unless the file differs from the
    one it last read: a first start seeds version 1 from the file (no event: nothing changed), and an edited
    file becomes a new version (`config.changed`, by "file"), so editing the TOML and restarting still works."""
    sections = tuple(sections)
    digest = file_hash(from_file)
    current = latest(ledger)
    seeded = ledger.query("SELECT source_hash FROM config_versions WHERE source LIKE 'file:%' "
                          "ORDER BY version DESC LIMIT 1")
    if current is not None and seeded and seeded[0][0] == digest:
        return replace(validate(json.loads(current["document"]), sections, from_file.source),
                       version=current["version"])
    doc = rules.store_secrets(from_file.document, from_file)
    config = replace(validate(doc, sections, from_file.source), version=(current["version"] if current else 0) + 1)
    before = json.loads(current["document"]) if current else None
    row = _row(config.version, now, "file", doc, before, None, f"file:{from_file.source}", digest)
    d = Decision(rows=[("config_versions", row)])
    if current is not None:
        d.emit("config.changed", {"version": config.version, "by": "file", "summary": row["summary"],
                                  "changed": rules.changed_sections(before, doc), "moved": []})
    with ledger.transaction():
        ledger.write(d, now)
    return config


class Versions:
    """The hall's configuration versions over its service (`app.state.config_versions`)."""

    def __init__(self, service: HallService, sections: Iterable[Section], var_dir: Path):
        self.service, self.sections, self.photos = service, tuple(sections), Path(var_dir) / "photos"

    def ensure_versioned(self) -> None:
        """A hall built without `startup_config` (tests, tools) gets its running configuration as version 1."""
        if self.service.config.version or latest(self.service.ledger) is not None:
            return
        config = self.service.config
        doc = rules.store_secrets(config.document, config)

        def decide(now: datetime) -> Decision:
            if self.service.config.version:
                return Decision()
            row = _row(1, now, "system", doc, None, None, "running")
            return Decision(rows=[("config_versions", row)], config=replace(self.service.config, document=doc,
                                                                            version=1))

        self.service.execute(decide)

    # ------------------------------------------------------------------ reads

    def current(self) -> dict[str, Any]:
        """`{version, config}` with secrets shown as REDACTED (every reader, admins too: a version never hands
        out a hash to try PINs against)."""
        self.ensure_versioned()
        config = self.service.config
        return {"version": config.version, "config": rules.redact(config.document)}

    def full_document(self) -> dict[str, Any]:
        """The current document with its stored secrets (hashes): what `config export` writes on the hall's
        own machine."""
        self.ensure_versioned()
        return self.service.config.document

    def history(self, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        self.ensure_versioned()
        rows = self.service.ledger.records(
            "SELECT version, at, by, summary, diff, source FROM config_versions WHERE version < ? "
            "ORDER BY version DESC LIMIT ?", (before or 2 ** 62, limit))
        return [{**r, "diff": json.loads(r["diff"])} for r in rows]

    def document_of(self, version: int) -> dict[str, Any]:
        rows = self.service.ledger.query("SELECT document FROM config_versions WHERE version = ?", (version,))
        if not rows:
            raise HallError("unknown_version", f"未找到配置版本：{version}", 404)
        return json.loads(rows[0][0])

    def preview(self, doc: Any) -> dict[str, Any]:
        """What a document would change, validated, without committing anything (the forms' diff)."""
        self.ensure_versioned()
        current = self.service.config.document
        full = rules.unredact(doc, current)
        config = validate(full, self.sections)
        stored = rules.store_secrets(config.document, config)
        lines = rules.diff(current, stored)
        with self.service.lock:  # the writer changes memory meanwhile
            tickets, windows = list(self.service.hall.tickets.values()), list(self.service.hall.windows.values())
        return {"version": self.service.config.version, "diff": lines, "summary": rules.summary(lines),
                "changed": rules.changed_sections(current, stored), "conflicts": rules.conflicts(config, tickets, windows)}

    # ------------------------------------------------------------------ new versions

    def put(self, doc: Any, base_version: int, by: str, *, summary: str | None = None,
            moves: Mapping[str, str] | None = None, source: str = "admin") -> dict[str, Any]:
        """A new version from a whole document (REDACTED secrets kept as stored). Blocks: the event loop
        calls it through `service.call`."""
        self.ensure_versioned()
        full = rules.unredact(doc, self.service.config.document)
        config = validate(full, self.sections)
        stored = rules.store_secrets(config.document, config)
        # `source` stays the hall's file: photos and other paths in the document are relative to its folder.
        config = replace(config, document=stored, source=self.service.config.source)
        return self._commit(config, base_version, by, summary, moves or {}, source)

    def rollback(self, version: int, base_version: int | None, by: str) -> dict[str, Any]:
        """A new version equal to `version` (its stored secrets included)."""
        self.ensure_versioned()
        doc = self.document_of(version)
        config = replace(validate(doc, self.sections, f"{ADMIN_SOURCE} (版本 {version})"), document=doc,
                         source=self.service.config.source)
        base = self.service.config.version if base_version is None else base_version
        return self._commit(config, base, by, f"回退到版本 {version}", {}, f"rollback:{version}")

    def _commit(self, config: HallConfig, base: int, by: str, summary: str | None, moves: Mapping[str, str],
                source: str) -> dict[str, Any]:
        service = self.service

        def decide(now: datetime) -> Decision:
            current = service.config
            if rules.canonical(current.document) == rules.canonical(config.document) and base == current.version:
                return Decision(result=rules.Applied(current.version, [], []))
            version = current.version + 1
            row = _row(version, now, by, config.document, current.document, summary, source)
            return rules.new_version(current=current.version, base=base, config=replace(config, version=version),
                                     old_doc=current.document, row=row, tickets=list(service.hall.tickets.values()),
                                     windows=list(service.hall.windows.values()), targets=moves)

        applied: rules.Applied = service.execute(decide)
        return {"version": applied.version, "changed": applied.changed, "moved": applied.moved}

    # ------------------------------------------------------------------ staff photos

    def photo_of(self, staff_id: str) -> Path:
        """The file of a staff member's photo (relative paths from the hall file's folder, as the displays
        read them); 404 when there is none."""
        staff = self.service.config.staff_member(staff_id)
        path = Path(self.service.config.source).resolve().parent / staff.photo if staff and staff.photo else None
        if path is None or path.suffix.lower() not in (".jpg", ".jpeg", ".png") or not path.is_file():
            raise HallError("no_photo", "该工作人员还没有工作照。", 404)
        return path

    def save_photo(self, staff_id: str, data: bytes, by: str) -> dict[str, Any]:
        """A JPEG or PNG 工作照, resized to fit the window display, stored as `photos/<id>.jpg` and set on the
        staff member as a new configuration version."""
        self.ensure_versioned()
        if self.service.config.staff_member(staff_id) is None:
            raise HallError("unknown_staff", f"未找到工作人员：{staff_id}", 404)
        if len(data) > PHOTO_MAX_BYTES:
            raise HallError("photo_too_large", "照片不能超过 2 MB。", 413)
        try:
            image = Image.open(io.BytesIO(data))
            if image.format not in ("JPEG", "PNG"):
                raise HallError("invalid_photo", "照片须为 JPEG 或 PNG 格式。", 415)
            if image.width * image.height > PHOTO_MAX_PIXELS:
                raise HallError("photo_too_large", "照片像素过大，请缩小后再上传。", 413)
            image.draft("RGB", (PHOTO_SIZE[0] * 2, PHOTO_SIZE[1] * 2))  # JPEG: decode at a reduced scale
            image.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
            raise HallError("invalid_photo", "无法读取照片，请上传 JPEG 或 PNG 图片。", 415) from None
        image = image.convert("RGB")
        image.thumbnail(PHOTO_SIZE)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        digest = hashlib.sha256(out.getvalue()).hexdigest()[:12]
        self.photos.mkdir(parents=True, exist_ok=True)
        name = f"{staff_id}-{digest}.jpg"  # a new name per photo: screens never show a cached old one
        (self.photos / name).write_bytes(out.getvalue())
        doc = json.loads(json.dumps(self.service.config.document))
        for entry in doc.get("staff", []):
            if entry.get("id") == staff_id:
                entry["photo"] = str((self.photos / name).resolve())  # shown by /staff-photo/{id}
        return self.put(doc, self.service.config.version, by, summary=f"更新工作人员 {staff_id} 的工作照")
