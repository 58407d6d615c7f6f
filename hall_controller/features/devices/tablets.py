"""Tablet evaluation pads (`/pad/{window_id}`): one more pad at a window, not a second way to rate.

A finished service invites the window's tablet exactly as it invites the serial pad (`Pads`): the ticket just
finished, its staff member, the same `RATING_TIMEOUT_S`. The tablet rates through the same `record_rating`
with channel `pad`, so one rating per ticket holds across the serial pad, the tablet, the kiosk and the
phone: whichever comes first is stored, and a rating from any of them closes the tablet's invitation.
Invitations live in memory, like the serial pad's: a restart ends them (the citizen can still rate on the
ticket's phone page).

Each tablet holds its own key (`[[devices.tablets]]`, provisioned like a kiosk's: `hall-controller pad-key 4`
prints the hash for the config and the address to open once on the tablet, `/pad/4#key=…`). The page sends
it as `X-Pad-Key`; without the key of that window's tablet nothing is shown or rated, so a phone on the hall
LAN cannot pose as a window's pad. A pad's key is not an issuing key (http/issuing.py): it never issues.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hall_controller.core.errors import HallError
from hall_controller.core.events import Event
from hall_controller.core.service import HallService
from hall_controller.features.applications.rules import rated
from hall_controller.features.devices.pads import INVITES, RATING_TIMEOUT_S
from hall_controller.features.devices.settings import DeviceSettings
from hall_controller.features.ratings.rules import LEVELS
from hall_controller.features.ratings.service import record_rating
from hall_controller.features.ratings.settings import rules as rating_rules
from hall_controller.http.issuing import key_hash

PAD_KEY_HEADER = "x-pad-key"


@dataclass(frozen=True)
class Invitation:
    ticket_id: str
    number: str
    service_id: str
    staff_id: str
    expires_at: datetime
    application: dict[str, Any] | None = None  # the 办件 it is about (features/applications `rated`)

    def open(self, now: datetime) -> bool:
        return now < self.expires_at


class Tablets:
    def __init__(self, service: HallService) -> None:
        self.service = service
        self._invitations: dict[str, Invitation] = {}  # window id -> the service its tablet asks about
        service.bus.listen(self._on_event)

    def _on_event(self, event: Event) -> None:
        # A plain listener (called in sequence order, must not block): one dict write or delete.
        data = event["data"]
        if event["type"] in INVITES:
            ticket = data["ticket"]
            if data.get("window_id") and ticket.get("staff_id"):  # nobody served it: nobody to rate
                self._invitations[data["window_id"]] = Invitation(
                    ticket["id"], ticket["number"], ticket["service_id"], ticket["staff_id"],
                    datetime.fromisoformat(event["at"]) + timedelta(seconds=RATING_TIMEOUT_S),
                    rated(event["type"], data, self.service.config))
        elif event["type"] == "rating.recorded":  # rated here, on the serial pad, the kiosk or the phone
            invitation = self._invitations.get(data.get("window_id") or "")
            if invitation is not None and invitation.ticket_id == data.get("ticket_id"):
                del self._invitations[data["window_id"]]

    def authorise(self, window_id: str, key: str | None) -> None:
        """The request comes from this window's tablet: it carries the key provisioned for it (read from the
        running configuration version, so a key changed at /admin applies at once). 404 for an unknown window,
        401 otherwise."""
        self.service.hall.window_config(window_id)
        settings = self.service.config.sections.get("devices") or DeviceSettings()
        tablet = settings.tablet(window_id)
        if not key or tablet is None or not tablet.key_hash or not hmac.compare_digest(tablet.key_hash, key_hash(key)):
            raise HallError("pad_unauthorised", "本评价器未获授权：请联系大厅管理员为本窗口的平板评价器配置密钥，"
                            "并在平板上打开管理员提供的地址。", 401)

    def invitation(self, window_id: str, now: datetime) -> Invitation | None:
        invitation = self._invitations.get(window_id)
        return invitation if invitation is not None and invitation.open(now) else None

    def view(self, window_id: str) -> dict[str, Any]:
        """What the tablet shows: the window, who serves there (公开 at the window by rule), the ticket being
        served, the open invitation with its seconds left, and the rating choices."""
        svc, now = self.service, self.service.clock.now()
        config = svc.config
        w = svc.hall.window_config(window_id)  # 404 unknown_window
        with svc.lock:
            status = svc.hall.windows[window_id]
            held = svc.hall.tickets.get(status.ticket_id) if status.ticket_id else None
            serving = None if held is None else {"number": held.number, "status": held.status.value,
                                                 "service_name": _service_name(svc, held.service_id)}
        invitation = self.invitation(window_id, now)
        staff_id = invitation.staff_id if invitation else status.staff_id
        staff = config.staff_member(staff_id) if staff_id else None
        r = rating_rules(config)
        return {
            "window": {"id": w.id, "number": w.number, "name": w.name, "state": status.state.value},
            "staff": None if staff is None else {"id": staff.id, "name": staff.name, "unit": staff.unit,
                                                 "photo_url": f"/staff-photo/{staff.id}"},
            "serving": serving,
            # A 办件's invitation names it (masked: the screen faces the queue) and its matter.
            "invitation": None if invitation is None else {
                "ticket": invitation.number, "service_name": _service_name(svc, invitation.service_id),
                "application_no": invitation.application["shown"] if invitation.application else None,
                "matter": invitation.application["matter"] if invitation.application else None,
                "expires_at": invitation.expires_at.isoformat(),
                "seconds_left": round((invitation.expires_at - now).total_seconds(), 1)},
            "levels": [{"level": k, "label": v} for k, v in LEVELS.items()],
            "reasons": [{"code": k, "label": v} for k, v in r.reasons.items()],
            "comment_max": r.comment_max,
            "timeout_s": RATING_TIMEOUT_S,
        }

    def rate(self, window_id: str, number: str, level: int, reasons: list[str], comment: str | None) -> dict:
        """Record the tablet's rating of the ticket it was invited for (runs on a worker thread)."""
        self.service.hall.window_config(window_id)
        invitation = self._invitations.get(window_id)
        if invitation is None or invitation.number != number:
            raise HallError("not_invited", "该评价器没有待评价的这项服务，请以屏幕上的号码为准。", 409)
        if not invitation.open(self.service.clock.now()):
            raise HallError("invitation_expired", "评价已超时。如需评价，请扫描号票上的二维码。", 409)
        return record_rating(self.service, invitation.ticket_id, level, "pad", reasons, None, comment or None,
                             invitation.application["application_no"] if invitation.application else None)


def _service_name(svc: HallService, service_id: str) -> str:
    s = svc.config.service(service_id)
    return s.name if s else service_id
