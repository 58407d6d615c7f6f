"""事项库 import, pure: the province's service catalogue (its CSV or JSON export) read through a column
mapping and merged into a configuration document (同源发布, 政务服务分中心运行规范 5.3.3.4).

Matters are matched by 事项编码 (`code`). A matter already in the hall takes the catalogue's published texts
(name, 办理时限, 材料 and the other "十公开" fields) and keeps everything local (category, prefix, minutes,
windows, daily cap); a new code becomes a new service with the defaults given; services without a code are
the hall's own (local additions) and are never touched, nor is a coded service the catalogue no longer lists
(it is reported, for a person to decide).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from typing import Any

from hall_controller.core.errors import HallError

# The fields a catalogue fills, and the column each is read from unless the mapping says otherwise.
DEFAULT_MAPPING: dict[str, str] = {
    "code": "事项编码", "name": "事项名称", "time_limit": "办理时限", "materials": "申请材料",
    "basis": "设定依据", "conditions": "受理条件", "fee": "收费标准", "phone": "监督电话",
    "description": "事项说明",
}
PUBLISHED = tuple(k for k in DEFAULT_MAPPING if k != "code")  # what a re-import updates
# Keys of a material in a JSON export, and their usual Chinese names.
MATERIAL_KEYS = {"name": ("name", "材料名称", "名称"), "required": ("required", "是否必交", "必交"),
                 "note": ("note", "备注", "说明")}
_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_OPTIONAL = re.compile(r"^(?P<name>.+?)[（(]容缺(?:[：:](?P<note>.*))?[）)]$")
MAX_ROWS = 5000


def _fail(message: str, field: str | None = None) -> HallError:
    return HallError("invalid_catalogue", message, 422, field=field)


def read(text: str, fmt: str) -> list[dict[str, Any]]:
    """The rows of an export: CSV with a header line (UTF-8, a BOM allowed), or JSON — a list of objects or
    an object holding one (`{"data": [...]}`, any key)."""
    text = text.lstrip("\ufeff")
    if fmt == "csv":
        rows = [dict(r) for r in csv.DictReader(io.StringIO(text))]
    elif fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise _fail(f"JSON 格式错误：第 {e.lineno} 行 {e.msg}") from None
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), None)
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise _fail("JSON 须为事项对象的列表，或包含该列表的对象。")
        rows = data
    else:
        raise _fail(f"不支持的格式：{fmt}（可用 csv、json）", "format")
    if len(rows) > MAX_ROWS:
        raise _fail(f"一次最多导入 {MAX_ROWS} 个事项。")
    return rows


def _materials(value: Any, where: str) -> list[dict[str, Any]]:
    """A materials cell: a JSON list (strings or objects), or text with one material per line or `；`,
    `名称（容缺）` / `名称（容缺：备注）` marking one that may come later."""
    out: list[dict[str, Any]] = []
    items = value if isinstance(value, list) else [s for s in re.split(r"[；;\n]", str(value or "")) if s.strip()]
    for item in items:
        if isinstance(item, dict):
            m = {k: next((item[n] for n in names if n in item), None) for k, names in MATERIAL_KEYS.items()}
            if not isinstance(m["name"], str) or not m["name"].strip():
                raise _fail(f"{where}：材料缺少名称", where)
            material = {"name": m["name"].strip()}
            if m["required"] in (False, "否", "容缺", "false", 0):
                material["required"] = False  # written only when 容缺, as in a hand-written file
            if m["note"]:
                material["note"] = str(m["note"])
        else:
            text = str(item).strip()
            optional = _OPTIONAL.match(text)
            material = {"name": optional["name"].strip(), "required": False} if optional else {"name": text}
            if optional and optional["note"]:
                material["note"] = optional["note"].strip()
        if not material.get("required", True) and "note" not in material:
            material["note"] = "容缺受理"
        if all(x["name"] != material["name"] for x in out):
            out.append(material)
    return out


def matters(rows: list[dict[str, Any]], mapping: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each row as the service fields it fills, through `mapping` (field → column; DEFAULT_MAPPING for the
    fields it does not name)."""
    columns = {**DEFAULT_MAPPING, **{k: v for k, v in mapping.items() if v}}
    unknown = [k for k in mapping if k not in DEFAULT_MAPPING]
    if unknown:
        raise _fail(f"未知的映射字段：{'、'.join(unknown)}；可用：{'、'.join(DEFAULT_MAPPING)}", f"mapping.{unknown[0]}")
    if rows and columns["code"] not in rows[0]:
        raise _fail(f"找不到事项编码列“{columns['code']}”；文件的列：{'、'.join(map(str, rows[0]))}", "mapping.code")
    out, seen = [], set()
    for i, row in enumerate(rows):
        code = str(row.get(columns["code"]) or "").strip()
        where = f"第 {i + 1} 行"
        if not code:
            raise _fail(f"{where}：事项编码为空", "mapping.code")
        if code in seen:
            raise _fail(f"{where}：事项编码 {code} 重复", "mapping.code")
        seen.add(code)
        matter: dict[str, Any] = {"code": code}
        for field in PUBLISHED:
            if columns[field] not in row:
                continue
            value = row[columns[field]]
            if field == "materials":
                matter[field] = _materials(value, f"{where}（{code}）")
            elif value is not None and str(value).strip():
                matter[field] = str(value).strip()
        if not matter.get("name"):
            raise _fail(f"{where}（{code}）：事项名称为空", "mapping.name")
        out.append(matter)
    return out


def service_id(code: str, taken: set[str]) -> str:
    """An id for a new matter: its code when that is a valid id, else the code's id characters."""
    base = (_ID_CHARS.sub("", code) or "matter")[-36:]
    base = base if base[0].isalnum() else "m" + base[1:]
    sid, n = base, 1
    while sid in taken:
        n += 1
        sid = f"{base[:36]}-{n}"
    return sid


def merge(doc: Mapping[str, Any], imported: list[dict[str, Any]], defaults: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The document with the catalogue merged in, and a report: `added` and `changed` (with the fields that
    changed), `unchanged`, `local` (services without a code, kept) and `missing` (coded services the
    catalogue does not list, kept)."""
    services = [dict(s) for s in doc.get("services", [])]
    by_code = {s["code"]: s for s in services if s.get("code")}
    taken = {s.get("id") for s in services}
    report: dict[str, Any] = {"added": [], "changed": [], "unchanged": 0,
                              "local": [s.get("id") for s in services if not s.get("code")], "missing": []}
    for m in imported:
        current = by_code.get(m["code"])
        if current is None:
            missing = [k for k in ("category", "prefix", "minutes") if k not in defaults]
            if missing:
                raise _fail(f"新事项 {m['code']} {m['name']} 需要默认的{'、'.join(missing)}（主题、号票字母、预计分钟）",
                            f"defaults.{missing[0]}")
            sid = service_id(m["code"], taken)
            taken.add(sid)
            new = {"id": sid, "name": m["name"], "category": defaults["category"], "prefix": defaults["prefix"],
                   "minutes": defaults["minutes"], "time_limit": m.get("time_limit", "即办"),
                   **{k: v for k, v in m.items() if k not in ("name", "time_limit")}}
            services.append(new)
            report["added"].append({"code": m["code"], "id": sid, "name": m["name"]})
            continue
        fields = [k for k in PUBLISHED if k in m and current.get(k) != m[k]]
        for k in fields:
            current[k] = m[k]
        if fields:
            report["changed"].append({"code": m["code"], "id": current["id"], "name": m["name"], "fields": fields})
        else:
            report["unchanged"] += 1
    listed = {m["code"] for m in imported}
    report["missing"] = [s["id"] for s in services if s.get("code") and s["code"] not in listed]
    return {**doc, "services": services}, report
