"""The platform push's own table (the outbox itself is the ledger's)."""

from __future__ import annotations

from hall_controller.core.feature import Table

# Events the platform refused for good (dead letters): out of the way of the rest, kept for the managers.
REJECTED = Table("outbox_rejected", {"seq": int, "rejected_at": str, "status": int, "error": str}, "seq")
