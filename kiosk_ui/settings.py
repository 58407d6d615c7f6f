"""The `[kiosks]` section: the hall's self-service kiosks (自助取号机) and their rules."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hall_controller import config_loader as cfg
from hall_controller.core.settings import HallConfig


@dataclass(frozen=True)
class Kiosk:
    id: str
    name: str
    printer: str  # a [[devices.printers]] id; "" = no printer
    id_reader: str  # connection ("socket://...", "/dev/serial/by-id/..."), or "none"


@dataclass(frozen=True)
class KioskSettings:
    kiosks: tuple[Kiosk, ...] = ()
    idle_seconds: int = 60  # untouched this long → back to the home screen
    ticket_seconds: int = 30  # the ticket screen stays this long
    swipe_seconds: int = 90  # an ID swipe counts for the next ticket this long
    per_person_daily_limit: int = 2  # tickets per ID card per service per day; 0 = no limit
    queue_full_at: int = 0  # waiting tickets in a category at which issuing stops; 0 = never
    elderly_age: int = 60
    elderly_priority: str | None = "assist"  # priority class given by age; None = no automatic priority

    def kiosk(self, kiosk_id: str) -> Kiosk | None:
        return next((k for k in self.kiosks if k.id == kiosk_id), None)


_KEYS = ("idle_seconds", "ticket_seconds", "swipe_seconds", "per_person_daily_limit", "queue_full_at",
         "elderly_age", "elderly_priority", "kiosk")


def parse(table: cfg.Table, core: HallConfig) -> KioskSettings:
    t = cfg.Table(table.source, table.path, table.data, _KEYS)
    d = KioskSettings()
    kiosks: list[Kiosk] = []
    for entry in t.tables("kiosk", ("id", "name", "printer", "id_reader")):
        kid = entry.ident()
        if any(k.id == kid for k in kiosks):
            entry.fail("id", f'duplicate kiosk id "{kid}"')
        kiosks.append(Kiosk(kid, entry.text("name"), entry.text("printer", "", empty=True),
                            entry.text("id_reader", "none")))
    priority: str | None = t.text("elderly_priority", d.elderly_priority)
    if core.priority(priority) is None:
        if "elderly_priority" in t.data:
            t.fail("elderly_priority", f'unknown priority class "{priority}"; known: '
                   + ", ".join(p.id for p in core.queue.priorities))
        priority = None  # the default class is absent from this hall: age gives no priority
    return KioskSettings(
        kiosks=tuple(kiosks),
        idle_seconds=t.integer("idle_seconds", d.idle_seconds, low=10, high=3600),
        ticket_seconds=t.integer("ticket_seconds", d.ticket_seconds, low=5, high=600),
        swipe_seconds=t.integer("swipe_seconds", d.swipe_seconds, low=10, high=3600),
        per_person_daily_limit=t.integer("per_person_daily_limit", d.per_person_daily_limit, low=0, high=100),
        queue_full_at=t.integer("queue_full_at", d.queue_full_at, low=0, high=100_000),
        elderly_age=t.integer("elderly_age", core.queue.elderly_age, low=1, high=150),
        elderly_priority=priority,
    )



def settings_of(config: HallConfig) -> KioskSettings:
    found = config.sections.get("kiosks")
    if found is None:
        assist = DEFAULT_PRIORITY if config.priority(DEFAULT_PRIORITY) else None
        found = KioskSettings(elderly_age=config.queue.elderly_age, elderly_priority=assist)
    return found if found.kiosks else replace(found, kiosks=(DEFAULT_KIOSK,))


DEFAULT_PRIORITY = "assist"
DEFAULT_KIOSK = Kiosk("K1", "自助取号机", "", "none")  # a hall without [[kiosks.kiosk]] still has its web kiosk
