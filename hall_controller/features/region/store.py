"""The region stream's table: how far the region has acknowledged this hall's ledger."""

from __future__ import annotations

from hall_controller.core.feature import Table

# One row per region hall id: the last sequence the region said it holds. Written through the write path
# (a Decision's rows) after each acknowledgement; the events themselves are the ledger's.
CURSOR = Table("region_cursor", {"hall_id": str, "seq": int, "acked_at": str}, "hall_id")
