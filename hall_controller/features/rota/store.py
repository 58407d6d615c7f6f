"""The rota's tables: published weeks, leave requests, and the B岗 stand-in days recorded at sign-in."""

from __future__ import annotations

from hall_controller.core.feature import Table

# One row per published week: its entries ({day, staff_id, window_id, shift, lunch_duty}) as JSON, replaced
# whole when the week is published again.
ROTA_WEEKS = Table("rota_weeks", {"week": str, "entries": str, "note": str, "by": str, "at": str}, "week")

LEAVES = Table("leaves", {
    "id": str, "staff_id": str, "type": str, "start": str, "end": str, "half": str, "reason": str, "state": str,
    "requested_by": str, "requested_at": str, "late": int, "decided_by": str, "decided_at": str,
    "decision_note": str, "returned_on": str, "returned_at": str,
}, "id", (("staff_id", "start"), ("state",), ("start",)))

# A working day a staff member signed in at a window of theirs only as B岗 (one row per person and day).
STANDIN_DAYS = Table("standin_days", {"staff_id": str, "day": str, "window_id": str, "at": str},
                     "staff_id, day", (("day",),))

TABLES = (ROTA_WEEKS, LEAVES, STANDIN_DAYS)
