"""The `[applications]` section: the business systems' keys, 一件事 bundles, 容缺 commitments, 出件 services,
notice printers and the SMS gateway."""

from __future__ import annotations

import hashlib

from hall_controller import config_loader as cfg
from hall_controller.core.routing import serves, window_weights
from hall_controller.core.settings import HallConfig, Material, Service
from hall_controller.features.applications.rules import (
    ApplicationSettings,
    Bundle,
    SmsSettings,
    System,
    merged_materials,
)

_KEYS = ("systems", "bundles", "commitment_days", "pickup_service", "mailing_service", "window_printers",
         "notice_printer", "number_prefix", "check_seconds", "sms")


def key_digest(key: str) -> str:
    # A system key is a long random secret, not a password: a plain digest is enough to keep it out of memory.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _systems(t: cfg.Table) -> tuple[System, ...]:
    out: list[System] = []
    for e in t.tables("systems", ("id", "name", "key", "key_sha256")):
        sid = e.ident()
        if any(s.id == sid for s in out):
            e.fail("id", f'system "{sid}" is listed twice')
        if ("key" in e.data) == ("key_sha256" in e.data):
            e.fail("key", 'give exactly one of "key" (clear, for demos) or "key_sha256"')
        if "key" in e.data:
            key = e.text("key")
            if len(key) < 16:
                e.fail("key", "must be at least 16 characters (a long random secret shared with the system)")
            digest = key_digest(key)
        else:
            digest = e.text("key_sha256").lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                e.fail("key_sha256", "must be 64 hex digits (sha256 of the key)")
        out.append(System(sid, e.text("name"), digest))
    return tuple(out)


def _bundles(t: cfg.Table, core: HallConfig) -> tuple[Bundle, ...]:
    out: list[Bundle] = []
    for e in t.tables("bundles", ("id", "name", "service", "matters")):
        bid = e.ident()
        service_id = e.text("service")
        svc = core.service(service_id)
        if svc is None:
            e.fail("service", f'unknown service "{service_id}" (the bundle\'s ticket is a [[services]] entry)')
        matters = e.items("matters")
        if len(matters) < 2 or not all(isinstance(m, str) for m in matters):
            e.fail("matters", "must list at least two service ids")
        for m in matters:
            if core.service(m) is None:
                e.fail("matters", f'unknown service "{m}"')
        if len(set(matters)) != len(matters) or service_id in matters:
            e.fail("matters", "must list each service once, not the bundle's own")
        if any(b.id == bid or b.service_id == service_id for b in out):
            e.fail("id", f'bundle "{bid}" or its service "{service_id}" is listed twice')
        # One ticket, one window that can serve every matter: every window that calls the bundle's ticket
        # must serve each matter too (a 一件事 window lists them; a comprehensive one serves all general).
        for w in core.windows:
            weights = window_weights(w, None, core)
            if serves(w, weights, svc.id, svc.category_id, None, core):
                cannot = [m for m in matters if not serves(w, weights, m, core.service(m).category_id, None, core)]
                if cannot:
                    e.fail("matters", f'{w.name} calls "{svc.name}" tickets but cannot serve '
                                      f'{", ".join(core.service(m).name for m in cannot)}')
        out.append(Bundle(bid, e.text("name"), service_id, tuple(matters)))
    return tuple(out)


def _sms(t: cfg.Table) -> SmsSettings:
    if "sms" not in t.data:
        return SmsSettings()
    s = cfg.Table(t.source, t.at("sms"), t.data["sms"],
                  ("url", "account", "key", "sign", "ready_template", "timeout_s"))
    url = s.text("url")
    if not url.startswith(("http://", "https://")):
        s.fail("url", f'must start with http:// or https://, got "{url}"')
    return SmsSettings(url=url, account=s.text("account"), key=s.text("key"), sign=s.text("sign", "", empty=True),
                       ready_template=s.text("ready_template"),
                       timeout_s=s.number("timeout_s", 5.0, positive=True, high=60))


def parse(table: cfg.Table, core: HallConfig) -> ApplicationSettings:
    t = cfg.Table(table.source, table.path, table.data, _KEYS)
    d = ApplicationSettings()
    services = {}
    for key in ("pickup_service", "mailing_service"):
        sid = t.text(key, "", empty=True)
        if sid and core.service(sid) is None:
            t.fail(key, f'unknown service "{sid}"')
        services[key] = sid
    printers = t.raw("window_printers", {})
    if not isinstance(printers, dict):
        t.fail("window_printers", 'must be a table { "window id" = "printer id" }')
    for wid, pid in printers.items():
        if core.window(wid) is None:
            t.fail("window_printers", f'unknown window "{wid}"')
        if not isinstance(pid, str) or not pid:
            t.fail("window_printers", f'window "{wid}": printer id must be a string')
    prefix = t.text("number_prefix", d.number_prefix)
    if not prefix.isascii() or not prefix.isalnum() or len(prefix) > 8:
        t.fail("number_prefix", "must be 1-8 ASCII letters or digits")
    return ApplicationSettings(
        systems=_systems(t), bundles=_bundles(t, core),
        commitment_days=t.integer("commitment_days", d.commitment_days, low=1, high=60),
        pickup_service=services["pickup_service"], mailing_service=services["mailing_service"],
        window_printers=dict(printers), notice_printer=t.text("notice_printer", "", empty=True),
        number_prefix=prefix, check_seconds=t.number("check_seconds", d.check_seconds, positive=True, high=3600),
        sms=_sms(t),
    )


def settings_of(config: HallConfig) -> ApplicationSettings:
    return config.sections.get("applications") or ApplicationSettings()


def materials_of(config: HallConfig, service: Service) -> tuple[Material, ...]:
    """The material list a kiosk shows and prints (一次性告知): a 一件事 bundle's merged from its matters."""
    bundle = settings_of(config).bundle_of(service.id)
    return merged_materials(bundle, config) if bundle else service.materials


def matters_of(config: HallConfig, service: Service) -> list[dict[str, str]]:
    """The matters a 一件事 ticket covers (empty for a plain service)."""
    bundle = settings_of(config).bundle_of(service.id)
    return [{"id": m, "name": config.service(m).name} for m in bundle.matters] if bundle else []
