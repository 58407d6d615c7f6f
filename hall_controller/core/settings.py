"""The hall's settings: plain frozen dataclasses the core and features read. No I/O here — the TOML
loader (`hall_controller/config_loader.py`) builds them, validated up front."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any


@dataclass(frozen=True)
class Period:
    """A daily time range [start, end) in the hall's local time."""

    start: time
    end: time

    def contains(self, t: time) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class Material:
    name: str
    required: bool = True  # False = 容缺 (may be supplied later)
    note: str = ""


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    general: bool = True  # served by comprehensive windows; False for special-only (e.g. 统一出件)


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    category_id: str
    prefix: str
    minutes: float  # expected service minutes
    time_limit: str  # e.g. "即办" or "承诺 5 个工作日"
    daily_cap: int | None
    issuing_hours: tuple[Period, ...]  # empty = the hall's opening hours
    materials: tuple[Material, ...]
    description: str = ""
    pinyin: str = ""  # initials for kiosk search, e.g. "hjqy" (户籍迁移); derived from the name unless configured
    code: str = ""  # 事项编码 in the province's catalogue (事项库): carried by 办件, ratings and the push
    # The rest of the "十公开" (区政务服务中心监管办法 第十五条) beside time limit and materials.
    basis: str = ""  # 设定依据
    conditions: str = ""  # 受理条件
    fee: str = ""  # 收费标准, "" = not stated; "不收费" when free
    phone: str = ""  # 监督电话


@dataclass(frozen=True)
class Window:
    id: str  # used in URLs; by default str(number)
    number: int
    name: str
    mode: str  # "comprehensive" | "categorised" | "special"
    weights: dict[str, float] = field(default_factory=dict)  # category_id -> weight (categorised)
    services: tuple[str, ...] = ()  # special windows: the services they serve
    label: str = ""  # special function, e.g. 帮办代办 / 统一出件 / 咨询
    lunch_duty: bool = False


@dataclass(frozen=True)
class Staff:
    id: str  # 工号
    name: str
    unit: str
    pin_hash: str  # "pbkdf2_sha256$iterations$salt_hex$hash_hex"
    photo: str
    windows: tuple[str, ...]  # windows they regularly staff
    standin_windows: tuple[str, ...] = ()  # windows they may take over (AB岗)
    disabled: bool = False  # 停用: kept for the records, cannot sign in


@dataclass(frozen=True)
class Manager:
    id: str
    name: str
    role: str  # "manager" | "admin"
    password_hash: str


@dataclass(frozen=True)
class PriorityClass:
    id: str  # "green" | "appointment" | "assist" ...
    name: str
    rank: int  # lower is served first


FAIRNESS = ("head_start", "ratio", "strict")


@dataclass(frozen=True)
class QueueRules:
    max_wait_minutes: float = 60
    target_wait_minutes: float = 15
    # A service-level target for the staffing advice besides the mean: service_level_percent of citizens
    # called within service_level_minutes (both set, or neither).
    service_level_percent: float | None = None
    service_level_minutes: float | None = None
    # How priority classes and normal tickets share a window (core/routing.py, docs/routing.md):
    # "head_start" — a priority ticket counts as issued priority_head_start_minutes earlier (bounds both ways);
    # "ratio" — priority first, at most priority_ratio in a row while a normal ticket waits; "strict" — always first.
    fairness: str = "head_start"
    priority_head_start_minutes: float = 30
    priority_ratio: int = 2  # "ratio": at most this many priority calls per normal call while both wait
    recall_limit: int = 3
    rejoin_places: int = 3  # a late no-show re-joins this many places back
    rejoin_within_minutes: float = 30
    priorities: tuple[PriorityClass, ...] = ()
    elderly_age: int = 60


@dataclass(frozen=True)
class ServiceDay:
    """A special service session (错时/节假日 service) on a day the hall is otherwise closed: it opens for these
    sessions and services only, and is not a working day for deadlines."""

    date: str  # "YYYY-MM-DD"
    sessions: tuple[Period, ...]
    services: tuple[str, ...] = ()  # empty = every service
    name: str = "节假日服务"

    def serves(self, service_id: str) -> bool:
        return not self.services or service_id in self.services


@dataclass(frozen=True)
class Hours:
    sessions: tuple[Period, ...]  # opening periods, e.g. 08:30-12:00, 14:00-17:30
    lunch_duty: Period | None
    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekdays the hall opens
    holidays: tuple[str, ...] = ()  # "YYYY-MM-DD"
    workdays: tuple[str, ...] = ()  # weekend days worked (调休), "YYYY-MM-DD"
    service_days: tuple[ServiceDay, ...] = ()  # weekend / holiday service sessions


@dataclass(frozen=True)
class HallConfig:
    source: str  # file path, for messages
    name: str
    timezone: str
    hours: Hours
    queue: QueueRules
    categories: tuple[Category, ...]
    services: tuple[Service, ...]
    windows: tuple[Window, ...]
    staff: tuple[Staff, ...]
    managers: tuple[Manager, ...] = ()
    public_url: str = ""  # base for ticket QR links; empty = the server's own address
    # Feature sections ([devices], [appointments], [ratings]...), each parsed by its feature's own parser.
    sections: dict[str, Any] = field(default_factory=dict)
    # The validated document this was built from, as JSON (the TOML's shape): what a configuration version
    # stores and the administration edits.
    document: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    version: int = 0  # the configuration version in the ledger this is (0: not versioned, e.g. a file checked)

    def section(self, name: str) -> Any:
        return self.sections[name]

    def service(self, service_id: str) -> Service | None:
        return self._services.get(service_id)

    def category(self, category_id: str) -> Category | None:
        return self._categories.get(category_id)

    def window(self, window_id: str) -> Window | None:
        return self._windows.get(window_id)

    def staff_member(self, staff_id: str) -> Staff | None:
        return self._staff.get(staff_id)

    def priority(self, priority_id: str) -> PriorityClass | None:
        return next((p for p in self.queue.priorities if p.id == priority_id), None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_services", {s.id: s for s in self.services})
        object.__setattr__(self, "_categories", {c.id: c for c in self.categories})
        object.__setattr__(self, "_windows", {w.id: w for w in self.windows})
        object.__setattr__(self, "_staff", {s.id: s for s in self.staff})
