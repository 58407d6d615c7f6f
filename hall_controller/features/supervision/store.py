"""The 考核 notes managers add to a staff member's month: points with a reason, or an evidence item voided."""

from __future__ import annotations

from hall_controller.core.feature import Table

ASSESSMENT_NOTES = Table("assessment_notes", {
    "id": str, "month": str, "staff_id": str, "points": float, "note": str, "voids": str, "by": str, "at": str,
}, "id", (("month", "staff_id"),))

TABLES = (ASSESSMENT_NOTES,)
