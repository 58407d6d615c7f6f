"""The devices' tables: what makes a retried frame act once, and keypad sign-ins that outlive a restart."""

from __future__ import annotations

from hall_controller.core.feature import Table

# A keypad's last handled event and its verdict, committed with the action it caused: a keypad that
# re-reports it after a controller restart (the ack was lost with the restart) is answered, never obeyed again.
DEVICE_EVENTS = Table("device_events", {"device_id": str, "event_id": int, "accepted": int, "at": str}, "device_id")
# PIN sign-ins made on keypads, bound to the window's sign-in like a bearer token: they outlive a restart,
# not a sign-out or a stand-in's takeover.
KEYPAD_SESSIONS = Table("keypad_sessions", {"device_id": str, "staff_id": str, "window_id": str, "signed_in_at": str,
                                          "expires_at": str}, "device_id")
