"""Configuration versions, pure: secrets kept out of what is shown, the diff and summary of a version, and
what a new version may not take away from the hall while people are in it.

A configuration document is the TOML's shape as JSON (`config_loader.document`). Nothing here knows the
sections: lists of tables are matched by their entries' `id` (or `number`, `name`), whatever the section.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.model import TERMINAL, Ticket, TicketStatus, WindowStatus
from hall_controller.core.settings import HallConfig

REDACTED = "******"
# Keys whose values are secrets in any section: PINs, passwords, tokens, keys and their hashes. Shown as
# REDACTED; a document sent back with REDACTED keeps the stored value.
SECRET_KEY = re.compile(r"(^|_)(pin|password|token|secret|key)(_hash)?$")
# What names an entry of a list of tables, in this order (windows may be known by number only, materials
# by name, a window's tablet pad by its window).
ENTRY_KEYS = ("id", "number", "name", "window")
# Clear secrets of the core's accounts, stored as their hash: (list, clear key, hash key).
ACCOUNTS = (("staff", "pin", "pin_hash"), ("managers", "password", "password_hash"))
# Clear device keys (a demo file, a key typed at /admin), stored as their `key_hash` too: (section, list of
# tables, what names an entry, the loaded settings' list, what names its entries).
DEVICE_KEYS = (("kiosks", "kiosk", "id", "kiosks", "id"), ("devices", "tablets", "window", "tablets", "window_id"))
SUMMARY_MAX = 200


def canonical(doc: Any) -> str:
    """One text per document, for equality and hashes."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _entry_key(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in ENTRY_KEYS:
            if isinstance(item.get(key), (str, int)) and not isinstance(item.get(key), bool):
                return f"{key}={item[key]}"
    return None


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """A list of tables by entry key, or None when its entries are not all distinctly named."""
    keys = [_entry_key(i) for i in items]
    if not items or None in keys or len(set(keys)) != len(keys):
        return None
    return dict(zip(keys, items))  # type: ignore[arg-type]


# ------------------------------------------------------------------ secrets

def redact(doc: Any) -> Any:
    """The document with every non-empty secret replaced by REDACTED."""
    if isinstance(doc, dict):
        return {k: REDACTED if SECRET_KEY.search(k) and isinstance(v, str) and v else redact(v)
                for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact(v) for v in doc]
    return doc


def unredact(new: Any, current: Any) -> Any:
    """`new` with each REDACTED value taken from the same place in `current` (entries matched by key). A
    REDACTED hash beside a new clear secret (`pin_hash` beside `pin`: a PIN reset) is dropped."""
    if isinstance(new, dict):
        cur = current if isinstance(current, dict) else {}
        out = {}
        for k, v in new.items():
            if v == REDACTED and SECRET_KEY.search(k):
                if k.endswith("_hash") and new.get(k[:-5]) not in (None, REDACTED):
                    continue
                if k in cur:
                    out[k] = cur[k]
                    continue
            out[k] = unredact(v, cur.get(k))
        return out
    if isinstance(new, list):
        cur = current if isinstance(current, list) else []
        by_key = _keyed(cur)
        if by_key is not None:  # a named entry takes only its own stored secrets, never a neighbour's
            return [unredact(v, by_key.get(_entry_key(v))) for v in new]
        return [unredact(v, cur[i] if i < len(cur) else None) for i, v in enumerate(new)]
    return new


def store_secrets(doc: dict[str, Any], config: HallConfig) -> dict[str, Any]:
    """The document as stored: a clear PIN, password or device key (a demo file, a PIN reset, a new tablet
    key) replaced by the hash the loader made of it, so no version holds a clear secret and every later load
    reads the same hash."""
    hashes = {"staff": {s.id: s.pin_hash for s in config.staff},
              "managers": {m.id: m.password_hash for m in config.managers}}
    out = dict(doc)
    for section, clear, hashed in ACCOUNTS:
        if isinstance(out.get(section), list):
            out[section] = [
                {**{k: v for k, v in e.items() if k != clear}, hashed: hashes[section][e["id"]]}
                if isinstance(e, dict) and clear in e and e.get("id") in hashes[section] else e
                for e in out[section]]
    for section, table, name, listed, ident in DEVICE_KEYS:
        entries = out[section].get(table) if isinstance(out.get(section), dict) else None
        if not isinstance(entries, list):
            continue
        loaded = {str(getattr(x, ident)): x.key_hash for x in getattr(config.sections.get(section), listed, ())}
        out[section] = {**out[section], table: [
            {**{k: v for k, v in e.items() if k != "key"}, "key_hash": loaded[str(e.get(name))]}
            if isinstance(e, dict) and "key" in e and loaded.get(str(e.get(name))) else e
            for e in entries]}
    return out


# ------------------------------------------------------------------ diff and summary

def _show(value: Any) -> str:
    text = json.dumps(redact(value), ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def diff(old: Any, new: Any, path: str = "") -> list[str]:
    """What changed, one line per place: `+ path: value`, `- path: value`, `~ path: old → new`. Secrets show
    as REDACTED (a changed PIN shows as a change, never its value)."""
    return _diff(old, new, path)


def _diff(old: Any, new: Any, path: str) -> list[str]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for k in (*old, *(k for k in new if k not in old)):
            at = f"{path}.{k}" if path else k
            if k not in new:
                lines.append(f"- {at}: {_show(redact({k: old[k]})[k])}")
            elif k not in old:
                lines.append(f"+ {at}: {_show(redact({k: new[k]})[k])}")
            else:
                lines += _diff(old[k], new[k], at)
        return lines
    if isinstance(old, list) and isinstance(new, list):
        a, b = _keyed(old), _keyed(new)
        if a is not None and b is not None:
            lines = []
            for k in (*a, *(k for k in b if k not in a)):
                at = f"{path}[{k}]"
                if k not in b:
                    lines.append(f"- {at}")
                elif k not in a:
                    lines.append(f"+ {at}: {_show(b[k])}")
                else:
                    lines += _diff(a[k], b[k], at)
            if [k for k in a if k in b] != [k for k in b if k in a]:
                lines.append(f"~ {path}: 顺序调整")
            return lines
    if SECRET_KEY.search(path.rsplit(".", 1)[-1]):
        return [f"~ {path}: {REDACTED} → {REDACTED}（已更改）"]
    return [f"~ {path}: {_show(old)} → {_show(new)}"]


# The core's lists and tables by their Chinese names, for summaries; a feature's section keeps its key.
NAMES = {"hall": "大厅", "queue": "排队规则", "categories": "主题", "services": "事项", "windows": "窗口",
         "staff": "工作人员", "managers": "管理员"}


def _place(path: str) -> str:
    """`services[id=hukou_move]` → `事项 hukou_move`; `hall.hours.holidays` → `大厅.hours.holidays`."""
    m = re.match(r"^([^.\[]+)(?:\[[a-z]+=([^\]]+)\])?(.*)$", path)
    head, entry, rest = m[1], m[2], m[3]
    return f"{NAMES.get(head, head)} {entry}" if entry else NAMES.get(head, head) + rest


def summary(lines: list[str]) -> str:
    """One line for the version list: what was added, removed and changed, by entry (a change anywhere
    inside an entry is a change of that entry)."""
    parts: dict[str, list[str]] = {"新增": [], "删除": [], "修改": []}
    for line in lines:
        sign, rest = line[0], line[2:]
        path = rest.split(": ", 1)[0]
        inside = re.match(r"^[^.\[]+\[[^\]]+\][.\[]", path)
        what = "修改" if sign == "~" or inside or "." in path else {"+": "新增", "-": "删除"}[sign]
        place = _place(path)
        if place not in parts[what]:
            parts[what].append(place)
    text = "；".join(f"{what} {'、'.join(places)}" for what, places in parts.items() if places) or "无变化"
    return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX - 1] + "…"


def changed_sections(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The top-level keys (hall, services, devices, ...) whose content differs: what pages and devices reload."""
    return sorted(k for k in {*old, *new} if old.get(k) != new.get(k))


# ------------------------------------------------------------------ applying a version to a hall in use

@dataclass(frozen=True)
class Applied:
    version: int
    changed: list[str]
    moved: list[str]


def conflicts(config: HallConfig, tickets: Iterable[Ticket], windows: Iterable[WindowStatus]) -> list[str]:
    """Why `config` cannot replace the running one now: the services, categories (主题), priority classes and
    windows it drops that still have people — tickets waiting or at a window, a window staffed."""
    problems: list[str] = []
    by_place: dict[str, list[str]] = {}
    for t in tickets:
        if t.status in TERMINAL:
            continue
        if config.service(t.service_id) is None:
            by_place.setdefault(f"事项 {t.service_id}", []).append(t.number)
        elif config.category(t.category_id) is None:
            by_place.setdefault(f"主题 {t.category_id}", []).append(t.number)
        if t.priority and t.status == TicketStatus.WAITING and config.priority(t.priority) is None:
            by_place.setdefault(f"优先类别 {t.priority}", []).append(t.number)
        for wid in (t.window_id, t.target_window_id):
            if wid and config.window(wid) is None:
                by_place.setdefault(f"窗口 {wid}", []).append(t.number)
    for place, numbers in by_place.items():
        shown = "、".join(sorted(set(numbers))[:20]) + (" 等" if len(set(numbers)) > 20 else "")
        problems.append(f"{place} 仍有号票 {shown}（共 {len(set(numbers))} 张）")
    for ws in windows:
        if config.window(ws.id) is None and ws.staff_id:
            problems.append(f"窗口 {ws.id} 仍有工作人员 {ws.staff_id} 签到，请先签离")
    return problems


def moves(config: HallConfig, tickets: Iterable[Ticket], targets: Mapping[str, str]) -> list[Ticket]:
    """Waiting tickets of services `config` drops, moved to the service `targets` names for each: same number,
    same queue time (so the same place), the new service's category."""
    moved = []
    for t in tickets:
        if t.status != TicketStatus.WAITING or t.service_id not in targets or config.service(t.service_id):
            continue
        target = config.service(targets[t.service_id])
        if target is None:
            raise HallError("invalid_move", f"转入的事项 {targets[t.service_id]} 不在新配置中。", 422)
        moved.append(replace(t, service_id=target.id, category_id=target.category_id))
    return moved


def new_version(*, current: int, base: int, config: HallConfig, old_doc: Mapping[str, Any], row: dict[str, Any],
                tickets: list[Ticket], windows: list[WindowStatus], targets: Mapping[str, str]) -> Decision:
    """The decision of a new configuration version: refused (409) when `base` is not the current version or
    when the version would drop what still has people; otherwise one `config.changed` event, the version's
    row, the moved tickets, and the config the hall runs on from now on."""
    if base != current:
        raise HallError("version_conflict", f"配置已被他人修改：当前版本为 {current}，您编辑的是版本 {base}。"
                                            "请重新载入后再修改。", 409)
    moved = moves(config, tickets, targets)
    moved_ids = {t.id for t in moved}
    problems = conflicts(config, [m for m in moved] + [t for t in tickets if t.id not in moved_ids], windows)
    if problems:
        raise HallError("config_in_use", "新配置删除了仍在使用的内容：" + "；".join(problems)
                        + "。请先办结、转移或签离后再删除（待办号票可在提交时指定转入的事项）。", 409)
    changed = changed_sections(old_doc, config.document)
    d = Decision(rows=[("config_versions", row)], tickets=moved, config=config,
                 result=Applied(row["version"], changed, sorted(moved_ids)))
    d.emit("config.changed", {"version": row["version"], "by": row["by"], "summary": row["summary"],
                              "changed": changed, "moved": sorted(moved_ids)})
    return d
