"""Evaluation pads (评价器): a finished service invites the window's pad; the rating it reports is stored
before the pad is acknowledged, so a storage failure leaves it on the pad, which reports it again."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from drivers.protocol import Invite, ProtocolError, Rating, RatingReason
from hall_controller.core.errors import HallError
from hall_controller.core.model import ticket_id_of
from hall_controller.core.service import HallService
from hall_controller.features.applications.rules import rated
from hall_controller.features.devices.buses import Device, Devices, fit
from hall_controller.features.ratings.service import record_rating
from hall_controller.features.ratings.settings import rules as rating_rules

log = logging.getLogger(__name__)

PAD_NAME_BYTES = 24
PAD_MATTER_BYTES = 32
RATING_TIMEOUT_S = 60
# What invites a rating at the window: a finished service, or the business system asking again for a 办件's
# (features/applications: the same ticket and window in its data).
INVITES = frozenset({"ticket.finished", "application.evaluation_requested"})
INVITATIONS_KEPT = 20  # per pad: ratings come within a minute, a pad is asked about one service at a time
# A pad's reason button -> the hall's 差评 reason code (hall_controller.ratings); a reason with no counterpart
# (or one the hall's [ratings] list lacks) is left out: the rating itself is never refused for it.
REASON_CODES = {
    RatingReason.ATTITUDE: "attitude", RatingReason.SLOW: "slow", RatingReason.UNSKILLED: "unclear",
    RatingReason.REPEATED_VISITS: "not_once",
}


class Pads:
    def __init__(self, service: HallService) -> None:
        self.service = service
        self._pads: dict[str, Device] = {}  # window id -> its pad
        # pad id -> ticket number -> (ticket id, the 办件编号 the invitation showed)
        self._invited: dict[str, OrderedDict[str, tuple[str, str | None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        service.bus.listen(self._on_event)

    def add(self, pad: Device) -> None:
        self._pads[pad.window_id] = pad

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    def stop(self) -> None:
        self._loop = None

    def clear(self) -> None:
        """Forget the pads (stopped): the hub places them again from new settings."""
        self._pads.clear()

    # ------------------------------------------------------------------ hall -> pads

    def _on_event(self, event: dict[str, Any]) -> None:
        # Called by the publishing command (on whichever thread committed it): hand over to the loop.
        if self._loop is not None and event["type"] in INVITES and event["data"].get("window_id") in self._pads:
            self._loop.call_soon_threadsafe(self._invite, event["type"], event["data"])

    def _invite(self, type_: str, data: dict[str, Any]) -> None:
        ticket, pad = data["ticket"], self._pads[data["window_id"]]
        if self._loop is None or not ticket.get("staff_id"):  # stopped meanwhile, or nobody to rate
            return
        staff = self.service.config.staff_member(ticket["staff_id"])
        app = rated(type_, data, self.service.config)  # a 办件's: the pad shows its number and matter
        try:
            invite = Invite(ticket["number"], data["window_number"], ticket["staff_id"],
                            fit(staff.name if staff else "", PAD_NAME_BYTES), RATING_TIMEOUT_S,
                            app["shown"] if app else "", fit(app["matter"], PAD_MATTER_BYTES) if app else "")
        except ProtocolError as e:
            log.error("pad %s: cannot invite %s: %s", pad.id, ticket["number"], e)
            return
        invited = self._invited.setdefault(pad.id, OrderedDict())
        invited[ticket["number"]] = (ticket["id"], app["application_no"] if app else None)
        while len(invited) > INVITATIONS_KEPT:
            invited.popitem(last=False)
        pad.bus.master.invite_rating(pad.address, invite)

    # ------------------------------------------------------------------ pads -> hall

    async def rate(self, pads: Devices, address: int, rating: Rating) -> None:
        """The bus master's rating handler: stores the rating; raising leaves it unacknowledged, so the pad
        reports it again."""
        pad = pads[address]
        invited = self._invited.get(pad.id, OrderedDict())
        ticket_id, application_no = invited.get(rating.ticket) or (
            self._ticket_by_number(rating.ticket, pad.window_id), None)
        if ticket_id is None:
            log.warning("pad %s rated %s, which it was never asked about; ignored", pad.id, rating.ticket)
            return
        code = REASON_CODES.get(rating.reason)
        reasons = [code] if code in rating_rules(self.service.config).reasons else []
        try:
            await self.service.call(record_rating, self.service, ticket_id=ticket_id, level=rating.level,
                                    channel="pad", reasons=reasons, application_no=application_no)
        except HallError as e:
            if e.status >= 500:
                raise  # storage trouble: keep the rating on the pad until it can be stored
            log.warning("pad %s: rating for %s refused: %s", pad.id, ticket_id, e.message)
        invited.pop(rating.ticket, None)

    async def timed_out(self, pads: Devices, address: int, ticket: str) -> None:
        """The bus master's handler for a pad whose invitation ran out unrated."""
        pad = pads[address]
        self._invited.get(pad.id, OrderedDict()).pop(ticket, None)
        log.info("pad %s: %s left without rating", pad.id, ticket)

    def _ticket_by_number(self, number: str, window_id: str) -> str | None:
        """After a restart the invitations are gone: today's ticket with that number served here."""
        t = self.service.hall.tickets.get(ticket_id_of(self.service.day, number))
        return t.id if t is not None and t.window_id == window_id else None
