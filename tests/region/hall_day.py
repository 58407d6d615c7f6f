"""A hall's morning through the real service and ledger: sign-ins, tickets called and finished, ratings (a 差评
opens a case), a complaint, tickets still waiting — the events a hall streams to its region."""

from __future__ import annotations

from pathlib import Path

from hall_controller.app import open_ledger
from hall_controller.core.clock import ManualClock
from hall_controller.core.service import HallService
from hall_controller.features.ratings.service import record_rating, register_complaint
from tests.factory import MONDAY_10, small_hall


def hall_service(path: Path, clock: ManualClock | None = None) -> HallService:
    return HallService(small_hall(), open_ledger(path), clock or ManualClock(MONDAY_10))


def morning(service: HallService, served: int = 4, waiting: int = 2) -> dict[str, object]:
    """`served` tickets served at window 1 (the longest waiting first: the day's earlier B tickets too) (the first rated 非常满意, the second 非常不满意), then `waiting`
    left waiting; a complaint registered. Returns the ids the tests check."""
    clock: ManualClock = service.clock  # type: ignore[assignment]
    service.sign_in("1", "S001", "1234")
    service.sign_in("2", "S002", "1234")
    finished = []
    for i in range(served):
        service.issue_ticket("S1", "kiosk")
        clock.advance(minutes=3)
        service.window_command("1", "call-next")
        clock.advance(minutes=5)
        finished.append(service.window_command("1", "finish").id)
    record_rating(service, finished[0], 1, "pad")
    if served > 1:
        record_rating(service, finished[1], 5, "pad", comment="等太久了，张三的电话 13800000000")
    for _ in range(waiting):
        service.issue_ticket("B1", "kiosk")
    complaint = register_complaint(service, "window", "窗口人员态度差", "M001", name="李四", phone="13900000000",
                                   window_id="1")
    clock.advance(minutes=10)
    return {"finished": finished, "complaint": complaint}
