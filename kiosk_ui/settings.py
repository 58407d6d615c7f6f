"""The `[kiosks]` section: the hall's self-service kiosks (自助取号机) and their rules."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hall_controller import config_loader as cfg
from hall_controller.core.settings import HallConfig
from hall_controller.http.issuing import configured_key_hash


@dataclass(frozen=True)
class Kiosk:
    id: str
    name: str
    printer: str  # a [[devices.printers]] id; "" = no printer
    id_reader: str  # connection ("socket://...", "/dev/serial/by-id/..."), or "none"
    key_hash: str = ""  # its key's hash (http/issuing.py); "" = not provisioned: it cannot issue


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
    # Services a kiosk issues only to a swiped ID card, so the per-person limit cannot be skipped by not
    # swiping: none, every service (`require_swipe = true`), or the listed ones.
    require_swipe: bool | tuple[str, ...] = False
    mobile_per_service: int = 20  # tickets per service per day through the platform's mobile channel; 0 = none

    def kiosk(self, kiosk_id: str) -> Kiosk | None:
        return next((k for k in self.kiosks if k.id == kiosk_id), None)

    def swipe_required(self, service_id: str) -> bool:
        if isinstance(self.require_swipe, bool):
            return self.require_swipe
        return service_id in self.require_swipe


_KEYS = ("idle_seconds", "ticket_seconds", "swipe_seconds", "per_person_daily_limit", "queue_full_at",
         "elderly_age", "elderly_priority", "require_swipe", "mobile_per_service", "kiosk")


def parse(table: cfg.Table, core: HallConfig) -> KioskSettings:
    t = cfg.Table(table.source, table.path, table.data, _KEYS)
    d = KioskSettings()
    kiosks: list[Kiosk] = []
    for entry in t.tables("kiosk", ("id", "name", "printer", "id_reader", "key", "key_hash")):
        kid = entry.ident()
        if any(k.id == kid for k in kiosks):
            entry.fail("id", f'duplicate kiosk id "{kid}"')
        kiosks.append(Kiosk(kid, entry.text("name"), entry.text("printer", "", empty=True),
                            entry.text("id_reader", "none"), configured_key_hash(entry, "kiosk-key")))
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
        require_swipe=_require_swipe(t, core),
        mobile_per_service=t.integer("mobile_per_service", d.mobile_per_service, low=0, high=100_000),
    )


def _require_swipe(t: cfg.Table, core: HallConfig) -> bool | tuple[str, ...]:
    raw = t.raw("require_swipe", False)
    if isinstance(raw, bool):
        return raw
    services = tuple(str(s) for s in t.items("require_swipe"))
    unknown = [s for s in services if core.service(s) is None]
    if unknown:
        t.fail("require_swipe", f"unknown service {unknown[0]!r}: give true, false or a list of service ids")
    return services



def settings_of(config: HallConfig) -> KioskSettings:
    found = config.sections.get("kiosks")
    if found is None:
        assist = DEFAULT_PRIORITY if config.priority(DEFAULT_PRIORITY) else None
        found = KioskSettings(elderly_age=config.queue.elderly_age, elderly_priority=assist)
    return found if found.kiosks else replace(found, kiosks=(DEFAULT_KIOSK,))


DEFAULT_PRIORITY = "assist"
DEFAULT_KIOSK = Kiosk("K1", "自助取号机", "", "none")  # a hall without [[kiosks.kiosk]] still has its web kiosk
