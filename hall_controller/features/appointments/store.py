"""The appointments table: one row per booking, its personal fields purged after the retention period."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from hall_controller.core.feature import PersonalData, Table
from hall_controller.features.appointments.rules import Appointment, Status

FIELDS = tuple(Appointment.__dataclass_fields__)
TABLE = Table("appointments", {name: (int if name == "late" else str) for name in FIELDS}, "id",
              (("code",), ("day", "service_id"), ("phone_hash",), ("id_hash",), ("status", "day")))
# Even masked, a name with a phone's last digits points at a person; the hashes link their visits. All go after
# the retention period, counted from the booked day (the no-show ban looks back far less than any period).
PERSONAL = PersonalData("appointments", ("name_masked", "phone_masked", "phone_hash", "id_hash", "id_masked"), "day")


def row(a: Appointment) -> dict[str, Any]:
    row = asdict(a)
    row["status"] = a.status.value
    row["late"] = int(a.late)
    return row


def from_row(values: tuple) -> Appointment:
    d = dict(zip(FIELDS, values))
    d["status"] = Status(d["status"])
    d["late"] = bool(d["late"])
    return Appointment(**d)
