"""A small hall built in code, independent of the TOML loader, for domain and API tests."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from hall_controller.core.passwords import hash_secret
from hall_controller.core.settings import (
    Category,
    HallConfig,
    Hours,
    Material,
    Period,
    PriorityClass,
    QueueRules,
    Service,
    Staff,
    Window,
)

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday in opening hours

_PIN = hash_secret("1234", iterations=1000)

# A kiosk's key for apps built without the kiosk feature: `with_kiosk(app)` provisions it, and requests that
# issue send `headers=KIOSK` (http/issuing.py), as the kiosk page does.
KIOSK_KEY = "test-kiosk-key-0001"
KIOSK = {"x-kiosk-key": KIOSK_KEY}


def with_kiosk(app):
    from hall_controller.http.issuing import Device, key_hash

    app.state.issuing_devices.provide(lambda: [Device("kiosk:T1", key_hash(KIOSK_KEY))])
    return app


def small_hall(max_wait: float = 60, ratio: int = 2, recall_limit: int = 3, fairness: str = "ratio",
               head_start: float = 15, windows: tuple[Window, ...] | None = None,
               staff: tuple[Staff, ...] | None = None) -> HallConfig:
    cats = (Category("social", "社会事务"), Category("business", "企业注册开办"), Category("other", "其他事务"),
            Category("pickup", "统一出件", general=False))
    services = (
        Service("S1", "户籍迁移", "social", "A", 8, "即办", None, (), (Material("居民身份证"),)),
        Service("S2", "社保参保登记", "social", "A", 6, "即办", 500, (), ()),
        Service("B1", "个体工商户设立登记", "business", "B", 20, "承诺 3 个工作日", None, (), ()),
        Service("O1", "公积金提取", "other", "D", 10, "即办", None, (Period(time(9), time(11)),), ()),
        Service("P1", "出件领取", "pickup", "E", 3, "即办", 2, (), ()),
    )
    windows = windows or (
        Window("1", 1, "1号综合窗口", "comprehensive"),
        Window("2", 2, "2号综合窗口", "comprehensive"),
        Window("3", 3, "3号社会事务窗口", "categorised", {"social": 3.0, "other": 1.0}),
        Window("4", 4, "4号企业开办窗口", "categorised", {"business": 1.0}),
        Window("9", 9, "9号统一出件窗口", "special", services=("P1",), label="统一出件"),
    )
    staff = staff or tuple(
        Staff(f"S{n:03d}", f"员工{n}", "县行政审批局", _PIN, "", (str(n),), ("1", "2") if n == 3 else ())
        for n in (1, 2, 3, 4, 9)
    )
    return HallConfig(
        source="<test>", name="测试大厅", timezone="Asia/Shanghai",
        hours=Hours((Period(time(8, 30), time(12)), Period(time(14), time(17, 30))), Period(time(12), time(14)),
                    holidays=("2026-12-25",), workdays=("2026-11-28",)),
        queue=QueueRules(max_wait_minutes=max_wait, priority_ratio=ratio, recall_limit=recall_limit, fairness=fairness,
                         priority_head_start_minutes=head_start,
                         priorities=(PriorityClass("green", "绿色通道", 1), PriorityClass("appointment", "预约", 2),
                                     PriorityClass("assist", "帮办", 3))),
        categories=cats, services=services, windows=windows, staff=staff,
    )
