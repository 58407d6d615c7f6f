"""Who may issue tickets over HTTP without a staff sign-in: devices holding a key provisioned for them.
(Tablet evaluation pads hold keys of the same kind, `configured_key_hash` below, but are kept out of this
registry: a pad's key rates at its own window and never issues.)

A kiosk (自助取号机) sends its key in the `X-Kiosk-Key` header on every request that issues or checks in; the
hall stores only the key's hash (`key_hash`, `sha256$<hex>`). The features that own devices register them
here at install (`Devices.provide`): a function returning the current devices, read at each request, so a
configuration changed live takes effect at once. Keys are long and random, so one SHA-256 is enough to
store them (PINs, short and guessable, get PBKDF2).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from hall_controller.core.errors import HallError

if TYPE_CHECKING:
    from hall_controller.config_loader import Table

KEY_HEADER = "x-kiosk-key"
KEY_HASH = re.compile(r"^sha256\$[0-9a-f]{64}$")
MIN_KEY_LENGTH = 16


def key_hash(key: str) -> str:
    return "sha256$" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    """A fresh device key (192 random bits) for provisioning."""
    return secrets.token_urlsafe(24)


def configured_key_hash(entry: Table, command: str) -> str:
    """A device's `key_hash` (made by `hall-controller <command>`), or its `key` in clear (a demo hall) hashed
    here; "" = not provisioned. The hall keeps only the hash."""
    if "key" in entry.data and "key_hash" in entry.data:
        entry.fail("key", "give key_hash or key, not both", "key 与 key_hash 只能填一个")
    if "key" in entry.data:
        key = entry.text("key")
        if len(key) < MIN_KEY_LENGTH:
            entry.fail("key", f"a device key needs at least {MIN_KEY_LENGTH} characters (hall-controller {command} makes one)",
                       f"设备密钥至少 {MIN_KEY_LENGTH} 个字符（可用 hall-controller {command} 生成）")
        return key_hash(key)
    hashed = entry.text("key_hash", "", empty=True)
    if hashed and not KEY_HASH.match(hashed):
        entry.fail("key_hash", f'expected "sha256$" and 64 hex digits (hall-controller {command} makes one)',
                   f"应为 sha256$ 加 64 位十六进制数字（可用 hall-controller {command} 生成）")
    return hashed


@dataclass(frozen=True)
class Device:
    """An issuing device: `id` is the tickets' `source` ("kiosk:K1"); `admit(service_id)` raises a HallError for
    a service this device may not issue through the plain API (one that needs the ID card on its reader)."""

    id: str
    key_hash: str
    admit: Callable[[str], None] | None = None


class Devices:
    def __init__(self) -> None:
        self._providers: list[Callable[[], Iterable[Device]]] = []

    def provide(self, devices: Callable[[], Iterable[Device]]) -> None:
        self._providers.append(devices)

    def of(self, connection: HTTPConnection) -> Device | None:
        """The device whose key the request carries, or None."""
        key = connection.headers.get(KEY_HEADER)
        if not key:
            return None
        presented = key_hash(key)
        found = None
        for provide in self._providers:
            for device in provide():
                # Every device is compared, in constant time: the answer's timing tells nothing of the key.
                if device.key_hash and hmac.compare_digest(device.key_hash, presented):
                    found = device
        return found

    def require(self, connection: HTTPConnection, device_id: str | None = None) -> Device:
        """The device behind the request's key (and it must be `device_id` when given); 401 otherwise."""
        device = self.of(connection)
        if device is None or (device_id is not None and device.id != device_id):
            raise HallError("device_unauthorised", "本设备未获授权取号，请联系大厅管理员配置取号机密钥。", 401)
        return device


def devices_of(connection: HTTPConnection) -> Devices:
    return connection.app.state.issuing_devices
