"""Hall configuration: TOML → the core's settings (`core/settings.py`) and each feature's section,
validated up front; a problem is a `ConfigError` naming the file, the key and the reason."""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hall_controller.core.feature import Section
from hall_controller.core.passwords import hash_secret, parse_hash
from hall_controller.core.settings import (
    FAIRNESS,
    Category,
    HallConfig,
    Hours,
    Manager,
    Material,
    Period,
    PriorityClass,
    QueueRules,
    Service,
    ServiceDay,
    Staff,
    Window,
)


class ConfigError(Exception):
    """A config problem, naming the file, the key and what is wrong."""

    def __init__(self, file: str, key: str, reason: str, zh: str = ""):
        # zh: the reason in Chinese for the admin pages, given by the common checks below (types, ranges,
        # references); a reason without one is shown as it is.
        self.file, self.key, self.reason, self.zh = file, key, reason, zh
        super().__init__(f"{file}: {key}: {reason}")


# ---------------------------------------------------------------------------------------------------
# Loader: read TOML, validate everything up front, and fail with ConfigError(file, key, reason).
# Keys are dotted paths. Entries of a list are named by id once their id is known
# (`services[id=hukou_move].category`, `windows[id=5].weights.social`), by position before that
# (`services[3].id`, positions count from 0).

_REQUIRED: Any = object()  # sentinel default: the key must be present
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
_PREFIX = re.compile(r"[A-Z]{1,2}")
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PIN = re.compile(r"[0-9]{4,8}")  # counter keypads are numeric
_PINYIN = re.compile(r"[a-z]*")
_MODES = ("comprehensive", "categorised", "special")
_ROLES = ("manager", "admin")
# A matter's "十公开" texts beside its name, time limit and materials, and its province 事项编码 (`code`).
OPEN_FIELDS = ("code", "basis", "conditions", "fee", "phone")
_MAX_MINUTES = 480  # one service longer than a working day is a typo (seconds? hours?)
# A secret written in clear in the file gains nothing from a slow hash, and the demo hashes ~30 at
# start; hashes pasted into the file (pin_hash / password_hash) keep whatever count they were made with.
CLEAR_SECRET_ITERATIONS = 10_000


def name_initials(name: str) -> str:
    """Pinyin initials of a name for kiosk search ("户籍迁移" → "hjqy"); see `names_initials`."""
    return names_initials((name,))[name]


@lru_cache(maxsize=8)
def names_initials(names: tuple[str, ...]) -> dict[str, str]:
    """Pinyin initials of each name. pypinyin's phrase dictionary picks the reading of a 多音字 from its word
    (银行 → yh, 重庆 → cq); letters in a name are kept, other characters dropped.

    Worked out in a short-lived child process: that dictionary costs ~55 MB resident, a process does not
    give it back after the lookups (measured: unloading the modules left the controller 53 MB larger), and
    the hall needs it only while its config loads."""
    if not names:
        return {}
    done = subprocess.run([sys.executable, "-c", _INITIALS], input=json.dumps(names), capture_output=True,
                          text=True, encoding="utf-8", timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"pinyin initials: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


_INITIALS = """
import json, sys
from pypinyin import Style, lazy_pinyin
names = json.load(sys.stdin)
json.dump({n: "".join(c for c in "".join(lazy_pinyin(n, style=Style.FIRST_LETTER)).lower() if "a" <= c <= "z")
           for n in names}, sys.stdout)
"""


def _kind(value: object) -> str:
    """How a value looks in TOML terms, for 'must be X, got Y' messages."""
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f'a string ("{value}")' if len(value) <= 40 else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (date, time)):
        return f"an unquoted date/time ({value})"
    return type(value).__name__


class _Table:
    """One TOML table under a dotted path: rejects unknown keys and hands out checked values."""

    def __init__(self, source: str, path: str, data: object, keys: Iterable[str], *, check: bool = True):
        self.source, self.path, self.allowed = source, path, tuple(keys)
        if not isinstance(data, dict):
            raise ConfigError(source, path or "(top level)", f"must be a table, got {_kind(data)}", "应为一组设置（表）")
        self.data: dict[str, Any] = data
        if check:
            self.reject_unknown()

    def reject_unknown(self) -> None:
        for key in self.data:
            if key not in self.allowed:
                close = difflib.get_close_matches(str(key), self.allowed, n=1)
                hint = f'did you mean "{close[0]}"?' if close else f"allowed keys: {', '.join(self.allowed)}"
                self.fail(key, f'unknown key "{key}"; {hint}',
                          f"无此设置项「{key}」" + (f"，是否应为「{close[0]}」？" if close else ""))

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, reason: str, zh: str = "") -> NoReturn:
        raise ConfigError(self.source, self.at(key), reason, zh)

    def raw(self, key: str, default: Any = _REQUIRED) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _REQUIRED:
            self.fail(key, "is required but missing", "必填")
        return default

    def text(self, key: str, default: Any = _REQUIRED, *, empty: bool = False) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str):
            self.fail(key, f"must be a string in quotes, got {_kind(value)}", "应为文字")
        if not empty and not value.strip():
            self.fail(key, "must not be empty", "不能为空")
        return value

    def ident(self, default: Any = _REQUIRED) -> str:
        value = self.text("id", default)
        if not _ID.fullmatch(value):
            self.fail("id", f'"{value}" is not a valid id: use 1-40 ASCII letters, digits, "_" or "-"',
                      "编号只能用 1–40 个英文字母、数字、“_”或“-”")
        return value

    def integer(self, key: str, default: Any = _REQUIRED, *, low: int, high: int | None = None) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be a whole number, got {_kind(value)}", "应为整数")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            zh = f"应在 {low} 到 {high} 之间" if high is not None else f"应不小于 {low}"
            self.fail(key, f"must be {bound}, got {value}", f"{zh}（现为 {value}）")
        return value

    def number(self, key: str, default: Any = _REQUIRED, *, positive: bool, high: float = math.inf) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(key, f"must be a number, got {_kind(value)}", "应为数字")
        if (value <= 0 if positive else value < 0) or value > high:
            bound = "greater than 0" if positive else "0 or more"
            zh = "应大于 0" if positive else "应不小于 0"
            if high < math.inf:
                bound += f" and at most {high:g}"
                zh += f"且不大于 {high:g}"
            self.fail(key, f"must be {bound}, got {value}", f"{zh}（现为 {value}）")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {_kind(value)}", "应为是或否")
        return value

    def items(self, key: str, default: Any = _REQUIRED) -> list[Any]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            self.fail(key, f"must be a list [...], got {_kind(value)}", "应为列表")
        return value

    def tables(self, key: str, keys: Iterable[str], *, required: bool = False, by_id: bool = False) -> list[_Table]:
        """An array of tables ([[key]] or a list of inline tables). With by_id, unknown keys are
        reported by _unique_id, so that the message can name the entry by its id."""
        found = self.items(key, _REQUIRED if required else [])
        allowed = tuple(keys)
        return [_Table(self.source, f"{self.at(key)}[{i}]", item, allowed, check=not by_id)
                for i, item in enumerate(found)]


def _time(table: _Table, key: str, value: object) -> time:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        table.fail(key, f'must be a time "HH:MM" in quotes, 24-hour clock (e.g. "08:30"), got {_kind(value)}',
                   "应为 24 小时制时间，如 08:30")
    return time(int(match[1]), int(match[2]))


def _period(table: _Table, key: str, value: object) -> Period:
    if not isinstance(value, list) or len(value) != 2:
        table.fail(key, f'must be a pair of times like ["08:30", "12:00"], got {_kind(value)}',
                   "应为起止两个时间，如 08:30–12:00")
    start, end = _time(table, f"{key}[0]", value[0]), _time(table, f"{key}[1]", value[1])
    if end <= start:
        table.fail(key, f"end {end:%H:%M} must be later than start {start:%H:%M}",
                   f"结束时间 {end:%H:%M} 应晚于开始时间 {start:%H:%M}")
    return Period(start, end)


def _periods(table: _Table, key: str, *, required: bool) -> tuple[Period, ...]:
    values = table.items(key, _REQUIRED if required else [])
    if required and not values:
        table.fail(key, "must list at least one period", "至少填写一个时段")
    periods = tuple(_period(table, f"{key}[{i}]", v) for i, v in enumerate(values))
    for i in range(1, len(periods)):
        if periods[i].start < periods[i - 1].end:
            table.fail(f"{key}[{i}]", "periods must be in time order and must not overlap", "时段应按时间先后排列且不重叠")
    return periods


def _dates(table: _Table, key: str) -> tuple[str, ...]:
    result: list[str] = []
    for i, value in enumerate(table.items(key, [])):
        if isinstance(value, date) and not isinstance(value, datetime):
            value = value.isoformat()  # TOML's unquoted date literal is fine too
        try:
            if not isinstance(value, str) or not _DATE.fullmatch(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            table.fail(f"{key}[{i}]", f'must be a date "YYYY-MM-DD" (e.g. "2026-10-01"), got {_kind(value)}',
                       "应为日期，如 2026-10-01")
        if value in result:
            table.fail(f"{key}[{i}]", f"{value} is listed twice", f"{value} 重复填写")
        result.append(value)
    return tuple(result)


# What `_refs` and `_unique_id` call an entry, in the Chinese reasons.
_WHAT_ZH = {"service": "事项", "window": "窗口", "staff": "工作人员", "manager": "管理员", "category": "主题",
            "priority class": "优先类别"}


def _refs(table: _Table, key: str, known: Mapping[str, object], what: str, default: Any = _REQUIRED) -> tuple[str, ...]:
    """A list of ids that must exist in `known` (numbers are accepted for window ids, e.g. [1, 2])."""
    result: list[str] = []
    for i, value in enumerate(table.items(key, default)):
        if what == "window" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            table.fail(f"{key}[{i}]", f"must be a {what} id in quotes, got {_kind(value)}",
                       f"应为{_WHAT_ZH[what]}编号")
        if value not in known:
            table.fail(f"{key}[{i}]", f'unknown {what} "{value}"', f"没有{_WHAT_ZH[what]}「{value}」")
        if value in result:
            table.fail(f"{key}[{i}]", f'{what} "{value}" is listed twice', f"{_WHAT_ZH[what]}「{value}」重复填写")
        result.append(value)
    return tuple(result)


def _unique_id(table: _Table, seen: dict[str, str], what: str, default: Any = _REQUIRED) -> str:
    """Read the entry's id, refuse duplicates, rename the table to `list[id=...]`, then check its keys."""
    if "id" not in table.data and default is _REQUIRED:
        table.reject_unknown()  # a misspelt "id" is better reported as such than as missing
    value = table.ident(default)
    if value in seen:
        table.fail("id", f'duplicate {what} id "{value}" (first used at {seen[value]})',
                   f"{_WHAT_ZH[what]}编号「{value}」已被使用")
    seen[value] = table.path
    table.path = f"{table.path.rsplit('[', 1)[0]}[id={value}]"
    table.reject_unknown()
    return value


def code_labels(table: _Table, key: str, default: Mapping[str, str], what: str, what_zh: str) -> dict[str, str]:
    """A list of `{code, label}` tables (差评 reasons, leave types), or `default` when the key is absent."""
    if key not in table.data:
        return dict(default)
    found = table.tables(key, ("code", "label"))
    if not found:
        table.fail(key, f"must list at least one {what}", f"至少设置一个{what_zh}")
    labels: dict[str, str] = {}
    for entry in found:
        code = entry.text("code")
        if code in labels:
            entry.fail("code", f'duplicate {what} code "{code}"', f"{what_zh}代码「{code}」重复")
        labels[code] = entry.text("label")
    return labels


def _secret(table: _Table, clear_key: str, hash_key: str, *, keypad: bool) -> str:
    """Exactly one of a clear secret (hashed here) or a ready hash."""
    if (clear_key in table.data) == (hash_key in table.data):
        table.fail(clear_key, f'give exactly one of "{clear_key}" (clear, for demos) or "{hash_key}"',
                   "请设置密码")
    if hash_key in table.data:
        hashed = table.text(hash_key)
        try:
            parse_hash(hashed)
        except ValueError as e:
            table.fail(hash_key, f"is not a valid hash: {e}", "密码摘要格式不正确")
        return hashed
    plain = table.text(clear_key)
    if keypad and not _PIN.fullmatch(plain):
        table.fail(clear_key, "must be 4 to 8 digits in quotes (the counter keypad only has digits)",
                   "应为 4–8 位数字（叫号键盘只有数字键）")
    return hash_secret(plain, iterations=CLEAR_SECRET_ITERATIONS)


def _hours(table: _Table) -> Hours:
    sessions = _periods(table, "sessions", required=True)
    lunch = None
    if "lunch_duty" in table.data:
        lunch = _period(table, "lunch_duty", table.data["lunch_duty"])
        if any(lunch.start < s.end and s.start < lunch.end for s in sessions):
            table.fail("lunch_duty", "overlaps an opening session; lunch duty covers the break between sessions",
                       "午间值班应在两个办公时段之间，不能与办公时段重叠")
    weekdays = table.items("weekdays", [1, 2, 3, 4, 5])
    if not weekdays:
        table.fail("weekdays", "must list at least one opening weekday", "至少选择一个办公日")
    for i, day in enumerate(weekdays):
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 7:
            table.fail(f"weekdays[{i}]", f"must be an ISO weekday 1 (Monday) to 7 (Sunday), got {_kind(day)}",
                       "应为星期一（1）到星期日（7）")
        if day in weekdays[:i]:
            table.fail(f"weekdays[{i}]", f"weekday {day} is listed twice", f"星期 {day} 重复填写")
    holidays, workdays = _dates(table, "holidays"), _dates(table, "workdays")
    for i, day in enumerate(workdays):
        if day in holidays:
            table.fail(f"workdays[{i}]", f"{day} is also listed in holidays", f"{day} 同时列在节假日中")
        if date.fromisoformat(day).isoweekday() in weekdays:
            table.fail(f"workdays[{i}]", f"{day} is already a regular opening day; workdays lists extra (调休) days",
                       f"{day} 本来就是办公日；调休上班日只填周末或节假日")
    hours = Hours(sessions, lunch, tuple(weekdays), holidays, workdays)
    days: list[ServiceDay] = []
    for entry in table.tables("service_days", ("date", "sessions", "services", "name")):
        day = _dates(_Table(entry.source, entry.path, {"date": [entry.raw("date")]}, ("date",)), "date")[0]
        if day not in holidays and (day in workdays or date.fromisoformat(day).isoweekday() in weekdays):
            entry.fail("date", f"{day} is already an opening day; service_days lists weekend or holiday sessions",
                       f"{day} 本来就是办公日；节假日服务只填周末或节假日")
        if any(d.date == day for d in days):
            entry.fail("date", f"{day} is listed twice", f"{day} 重复填写")
        days.append(ServiceDay(day, _periods(entry, "sessions", required=True), tuple(entry.items("services", [])),
                               entry.text("name", "节假日服务")))
    return replace(hours, service_days=tuple(days))


def _queue(table: _Table) -> QueueRules:
    d = QueueRules()
    max_wait = table.number("max_wait_minutes", d.max_wait_minutes, positive=True)
    target = table.number("target_wait_minutes", d.target_wait_minutes, positive=True)
    if target > max_wait:
        table.fail("target_wait_minutes", f"({target:g}) must not exceed max_wait_minutes ({max_wait:g})",
                   f"目标等候（{target:g} 分钟）不能超过最长等候（{max_wait:g} 分钟）")
    level, within = table.raw("service_level_percent", None), table.raw("service_level_minutes", None)
    if (level is None) != (within is None):
        table.fail("service_level_percent" if level is None else "service_level_minutes",
                   "service_level_percent and service_level_minutes go together (e.g. 80 % within 10 minutes)",
                   "服务水平目标的比例与分钟数须同时填写（如 80% 在 10 分钟内）")
    if level is not None:
        level = table.number("service_level_percent", None, positive=True, high=99.9)
        within = table.number("service_level_minutes", None, positive=True, high=max_wait)
    priorities: list[PriorityClass] = []
    seen: dict[str, str] = {}
    for entry in table.tables("priorities", ("id", "name", "rank"), by_id=True):
        pid = _unique_id(entry, seen, "priority class")
        priorities.append(PriorityClass(pid, entry.text("name"), entry.integer("rank", low=0, high=99)))
    return QueueRules(
        max_wait_minutes=max_wait,
        target_wait_minutes=target,
        service_level_percent=level,
        service_level_minutes=within,
        fairness=_fairness(table, d.fairness),
        priority_head_start_minutes=table.number("priority_head_start_minutes", d.priority_head_start_minutes,
                                                 positive=False, high=240),
        priority_ratio=table.integer("priority_ratio", d.priority_ratio, low=1, high=100),
        recall_limit=table.integer("recall_limit", d.recall_limit, low=0, high=100),
        rejoin_places=table.integer("rejoin_places", d.rejoin_places, low=0, high=1000),
        rejoin_within_minutes=table.number("rejoin_within_minutes", d.rejoin_within_minutes, positive=False),
        priorities=tuple(priorities),
        elderly_age=table.integer("elderly_age", d.elderly_age, low=1, high=150),
    )


def _fairness(table: _Table, default: str) -> str:
    value = table.text("fairness", default)
    if value not in FAIRNESS:
        table.fail("fairness", f'must be one of {", ".join(FAIRNESS)}, got "{value}"',
                   f"应为以下之一：{'、'.join(FAIRNESS)}")
    return value


def _service(entry: _Table, sid: str, categories: Mapping[str, Category]) -> Service:
    category = entry.text("category")
    if category not in categories:
        entry.fail("category", f'unknown category "{category}"; known: {", ".join(categories)}',
                   f"没有主题「{category}」")
    prefix = entry.text("prefix")
    if not _PREFIX.fullmatch(prefix):
        entry.fail("prefix", f'must be 1 or 2 uppercase ASCII letters (e.g. "A", "KS"), got "{prefix}"',
                   "号码前缀应为 1–2 个大写英文字母，如 A、KS")
    cap = entry.raw("daily_cap", None)
    materials: list[Material] = []
    for m in entry.tables("materials", ("name", "required", "note")):
        name = m.text("name")
        if any(x.name == name for x in materials):
            m.fail("name", f'material "{name}" is listed twice', f"材料「{name}」重复填写")
        materials.append(Material(name, m.flag("required", True), m.text("note", "", empty=True)))
    pinyin = entry.text("pinyin", "", empty=True)
    if not _PINYIN.fullmatch(pinyin):
        entry.fail("pinyin", f'must be lowercase pinyin initials a-z (e.g. "hjqy" for 户籍迁移), got "{pinyin}"',
                   "应为小写拼音首字母，如 户籍迁移 填 hjqy")
    return Service(
        id=sid,
        name=entry.text("name"),
        category_id=category,
        prefix=prefix,
        minutes=entry.number("minutes", positive=True, high=_MAX_MINUTES),
        time_limit=entry.text("time_limit"),
        daily_cap=None if cap is None else entry.integer("daily_cap", low=1),
        issuing_hours=_periods(entry, "issuing_hours", required=False),
        materials=tuple(materials),
        description=entry.text("description", "", empty=True),
        pinyin=pinyin,
        **{key: entry.text(key, "", empty=True) for key in OPEN_FIELDS},
    )


def _window(entry: _Table, number: int, wid: str, cats: Mapping[str, Category], svcs: Mapping[str, Service]) -> Window:
    mode = entry.text("mode")
    if mode not in _MODES:
        entry.fail("mode", f'must be one of {", ".join(_MODES)}, got "{mode}"',
                   "应为综合窗口（comprehensive）、分类窗口（categorised）或专窗（special）")
    weights: dict[str, float] = {}
    if mode == "categorised":
        table = _Table(entry.source, entry.at("weights"), entry.raw("weights", {}), cats)
        if not table.data:
            entry.fail("weights", "a categorised window needs at least one category weight, e.g. {social = 3, other = 1}",
                       "分类窗口至少要有一个主题权重")
        for cid in table.data:
            if not cats[cid].general:
                table.fail(cid, f'category "{cid}" is special-only (general = false); list its services on a special window',
                           f"主题「{cid}」只在专窗办理，请在专窗上列出其事项")
            weights[cid] = table.number(cid, positive=True)
    elif "weights" in entry.data:
        entry.fail("weights", f'only categorised windows have weights; this window is "{mode}"',
                   "只有分类窗口设主题权重")
    services: tuple[str, ...] = ()
    if mode == "special":
        services = _refs(entry, "services", svcs, "service")
        if not services:
            entry.fail("services", "a special window must list the services it serves", "专窗须列出所办事项")
    elif "services" in entry.data:
        entry.fail("services", f'only special windows list services; this window is "{mode}"',
                   "只有专窗列出所办事项")
    return Window(
        id=wid,
        number=number,
        name=entry.text("name", f"{number}号窗口"),
        mode=mode,
        weights=weights,
        services=services,
        label=entry.text("label", "", empty=True),
        lunch_duty=entry.flag("lunch_duty", False),
    )


def _serves(window: Window, service: Service, category: Category) -> bool:
    if window.mode == "special":
        return service.id in window.services
    if not category.general:
        return False
    return window.mode == "comprehensive" or service.category_id in window.weights


def config_from_dict(data: object, source: str = "<config>", sections: Iterable[Section] = ()) -> HallConfig:
    """Validate already-parsed TOML data (a dict) into a HallConfig, with each feature's `sections`. What is
    validated is its JSON form (`document`): TOML and JSON documents go through the same checks."""
    sections = tuple(sections)
    data = document(data)
    top = _Table(source, "", data, ("hall", "queue", "categories", "services", "windows", "staff", "managers",
                                    *(s.name for s in sections)))

    hall = _Table(source, "hall", top.raw("hall"), ("name", "timezone", "public_url", "hours"))
    name = hall.text("name")
    timezone = hall.text("timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        hall.fail("timezone", f'unknown time zone "{timezone}"; use an IANA name such as "Asia/Shanghai"',
                   "时区不正确，应如 Asia/Shanghai")
    public_url = hall.text("public_url", "", empty=True)
    if public_url and not public_url.startswith(("http://", "https://")):
        hall.fail("public_url", f'must start with http:// or https:// (or be ""), got "{public_url}"',
                   "应以 http:// 或 https:// 开头，或留空")
    hours = _hours(_Table(source, "hall.hours", hall.raw("hours"),
                          ("sessions", "lunch_duty", "weekdays", "holidays", "workdays", "service_days")))
    queue = _queue(_Table(source, "queue", top.raw("queue", {}), (
        "max_wait_minutes", "target_wait_minutes", "service_level_percent", "service_level_minutes", "fairness", "priority_head_start_minutes", "priority_ratio",
        "recall_limit",
        "rejoin_places", "rejoin_within_minutes", "priorities", "elderly_age",
    )))

    categories: dict[str, Category] = {}
    seen: dict[str, str] = {}
    for entry in top.tables("categories", ("id", "name", "general"), required=True, by_id=True):
        cid = _unique_id(entry, seen, "category")
        categories[cid] = Category(cid, entry.text("name"), entry.flag("general", True))
    if not categories:
        top.fail("categories", "must list at least one category", "至少设置一个主题")

    services: dict[str, Service] = {}
    seen = {}
    service_keys = ("id", "name", "category", "prefix", "minutes", "time_limit", "daily_cap",
                    "issuing_hours", "materials", "description", "pinyin", *OPEN_FIELDS)
    entries = top.tables("services", service_keys, required=True, by_id=True)
    for entry in entries:
        sid = _unique_id(entry, seen, "service")
        services[sid] = _service(entry, sid, categories)
    if not services:
        top.fail("services", "must list at least one service", "至少设置一个事项")
    initials = names_initials(tuple(sorted({s.name for s in services.values() if not s.pinyin})))
    services = {sid: s if s.pinyin else replace(s, pinyin=initials[s.name]) for sid, s in services.items()}
    for i, special in enumerate(hours.service_days):
        for j, sid in enumerate(special.services):
            if not isinstance(sid, str) or sid not in services:  # a fuzzed list or table is no id
                raise ConfigError(source, f"hall.hours.service_days[{i}].services[{j}]", f'unknown service "{sid}"',
                                  f"没有事项「{sid}」")

    windows: dict[str, Window] = {}
    seen, numbers = {}, {}
    window_keys = ("id", "number", "name", "mode", "weights", "services", "label", "lunch_duty")
    for entry in top.tables("windows", window_keys, required=True, by_id=True):
        number = entry.integer("number", low=1, high=9999)
        if number in numbers:
            entry.fail("number", f"duplicate window number {number} (first used at {numbers[number]})",
                       f"窗口号 {number} 已被使用")
        numbers[number] = entry.path
        wid = _unique_id(entry, seen, "window", str(number))
        windows[wid] = _window(entry, number, wid, categories, services)
        if windows[wid].lunch_duty and hours.lunch_duty is None:
            entry.fail("lunch_duty", "is true but hall.hours has no lunch_duty period", "大厅未设午间值班时段")
    if not windows:
        top.fail("windows", "must list at least one window", "至少设置一个窗口")

    for entry, service in zip(entries, services.values()):
        category = categories[service.category_id]
        if not any(_serves(w, service, category) for w in windows.values()):
            how = ("no special window lists it" if not category.general else
                   "there is no comprehensive window, no categorised window weighting its category, "
                   "and no special window listing it")
            entry.fail("category", f"no window can serve this service: {how}", "没有窗口能办理此事项")

    staff: list[Staff] = []
    seen = {}
    staff_keys = ("id", "name", "unit", "pin", "pin_hash", "photo", "windows", "standin_windows", "disabled")
    for entry in top.tables("staff", staff_keys, by_id=True):
        stid = _unique_id(entry, seen, "staff")
        regular = _refs(entry, "windows", windows, "window")
        standin = _refs(entry, "standin_windows", windows, "window", [])
        for i, wid in enumerate(standin):
            if wid in regular:
                entry.fail(f"standin_windows[{i}]", f'window "{wid}" is already in windows',
                           f"窗口「{wid}」已在常驻窗口中")
        staff.append(Staff(
            id=stid,
            name=entry.text("name"),
            unit=entry.text("unit"),
            pin_hash=_secret(entry, "pin", "pin_hash", keypad=True),
            photo=entry.text("photo", "", empty=True),
            windows=regular,
            standin_windows=standin,
            disabled=entry.flag("disabled", False),
        ))

    managers: list[Manager] = []
    seen = {}
    for entry in top.tables("managers", ("id", "name", "role", "password", "password_hash"), by_id=True):
        mid = _unique_id(entry, seen, "manager")
        role = entry.text("role")
        if role not in _ROLES:
            entry.fail("role", f'must be one of {", ".join(_ROLES)}, got "{role}"',
                   "应为 manager（管理）或 admin（系统管理）")
        managers.append(Manager(mid, entry.text("name"), role, _secret(entry, "password", "password_hash", keypad=False)))

    config = HallConfig(
        source=source,
        name=name,
        timezone=timezone,
        hours=hours,
        queue=queue,
        categories=tuple(categories.values()),
        services=tuple(services.values()),
        windows=tuple(windows.values()),
        staff=tuple(staff),
        managers=tuple(managers),
        public_url=public_url,
        document=data,
    )
    for section in sections:
        config.sections[section.name] = section.parse(
            _Table(source, section.name, top.raw(section.name, {}), (), check=False), config)
    return config


def document(data: object) -> Any:
    """Parsed TOML as JSON: unquoted dates and times become the strings they are written as ("2026-10-01",
    "08:30"), and a JSON null is an absent key. A copy: the caller's data is left alone."""
    if isinstance(data, dict):
        return {k: document(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [document(v) for v in data]
    if isinstance(data, time):
        return data.strftime("%H:%M") if not data.second else data.isoformat()
    if isinstance(data, (date, datetime)):
        return data.isoformat()
    return data


def parse_config(text: str, source: str = "<config>", sections: Iterable[Section] = ()) -> HallConfig:
    """Parse and validate TOML text; a syntax error becomes ConfigError keyed by its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        where = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        if where:
            key, detail = f"line {where[1]}", f"{message[:where.start()].rstrip()} (column {where[2]})"
        else:  # tomllib reports some errors only "at end of document"
            key, detail = f"line {text.count(chr(10)) + 1}", message.replace("(at end of document)", "(at the end of the file)")
        raise ConfigError(source, key, f"TOML syntax error: {detail}") from None
    return config_from_dict(data, source, sections)


def load_config(path: str | os.PathLike[str], sections: Iterable[Section] = ()) -> HallConfig:
    """Read, parse and validate a hall TOML file (`hall_controller.app.load_config` passes every feature's
    section)."""
    source = os.fspath(path)
    try:
        raw = Path(source).read_bytes()
    except OSError as e:
        raise ConfigError(source, "(file)", f"cannot read the file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")  # Windows editors may add a BOM
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(source, f"line {line}", "is not valid UTF-8; save the file as UTF-8 (not GBK)") from None
    return parse_config(text, source, sections)


Table = _Table  # feature section parsers use the same checked accessors
