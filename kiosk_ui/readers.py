"""ID card readers of the kiosks: one driver per kiosk (a simulator behind it in the demo) and the swipes.

A swipe is held in memory only, for `swipe_seconds`: the browser gets an opaque swipe id, the masked
name and the age; the ID number itself is hashed at once and never leaves this module.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from drivers.id_reader import IdCard, IdReader
from drivers.id_reader_sim import IdReaderSimulator
from hall_controller.core.errors import HallError
from hall_controller.core.service import HallService
from hall_controller.features.appointments.rules import mask_name
from kiosk_ui.settings import KioskSettings, settings_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Swipe:
    id: str  # opaque, handed to the kiosk page
    holder: str  # keyed hash of the ID number (Ticket.holder)
    name: str  # masked
    age: int
    elderly: bool
    at: datetime

    def view(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "age": self.age, "elderly": self.elderly}


class Readers:
    def __init__(self, service: HallService, mode: str, hash_id: Callable[[str], str]):
        self.service, self.mode, self.hash_id = service, mode, hash_id
        self.sims: dict[str, IdReaderSimulator] = {}
        self.drivers: dict[str, IdReader] = {}
        self._swipes: dict[str, Swipe] = {}

    @property
    def settings(self) -> KioskSettings:
        """The running configuration version's (readers themselves are opened at start)."""
        return settings_of(self.service.config)

    async def start(self) -> None:
        if self.mode == "none":
            return
        for kiosk in self.settings.kiosks:
            if kiosk.id_reader == "none":
                continue
            url = kiosk.id_reader
            if self.mode == "simulated":
                sim = await IdReaderSimulator().start()
                self.sims[kiosk.id] = sim
                url = sim.url
            driver = IdReader(url, partial(self.on_card, kiosk.id))
            self.drivers[kiosk.id] = driver
            await driver.start()

    async def stop(self) -> None:
        for driver in self.drivers.values():
            await driver.close()
        for sim in self.sims.values():
            await sim.close()

    def on_card(self, kiosk_id: str, card: IdCard) -> None:
        now = self.service.clock.now()
        age = card.age_on(now.date())
        self._swipes[kiosk_id] = Swipe(secrets.token_urlsafe(9), self.hash_id(card.id_number), mask_name(card.name),
                                       age, age >= self.settings.elderly_age, now)
        log.info("kiosk %s: ID card read (age %d)", kiosk_id, age)

    def current(self, kiosk_id: str) -> Swipe | None:
        swipe = self._swipes.get(kiosk_id)
        if swipe and self.service.clock.now() - swipe.at > timedelta(seconds=self.settings.swipe_seconds):
            del self._swipes[kiosk_id]
            return None
        return swipe

    def take(self, kiosk_id: str, swipe_id: str | None) -> Swipe | None:
        """The swipe a ticket is issued with: the card last read at this kiosk, even one the page has not
        shown yet (a citizen who swipes and taps within the page's poll). `swipe_id` is the swipe the page
        shows; when that one has expired or been cleared and no card has been read since, the citizen is
        asked again rather than served without the card they meant to use."""
        swipe = self.current(kiosk_id)
        if swipe is None and swipe_id:
            raise HallError("swipe_expired", "身份证读取信息已失效，请重新刷身份证，或点击“清除”后直接取号。", 409)
        return swipe

    def clear(self, kiosk_id: str, swipe_id: str | None = None) -> None:
        swipe = self._swipes.get(kiosk_id)
        if swipe and (swipe_id is None or swipe.id == swipe_id):
            del self._swipes[kiosk_id]

    def connected(self, kiosk_id: str) -> bool | None:
        driver = self.drivers.get(kiosk_id)
        return None if driver is None else driver.connected
