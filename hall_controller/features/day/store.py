"""The days table: when each day opened, went to lunch duty and closed, and its summary (每日小结)."""

from __future__ import annotations

from hall_controller.core.feature import Table

HALL_DAYS = Table("hall_days", {
    "day": str, "opened_at": str, "lunch_started_at": str, "lunch_ended_at": str, "closed_at": str,
    "policy": str, "close_reason": str, "summary": str,
}, "day")
