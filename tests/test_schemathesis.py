"""Property-based API fuzzing from the OpenAPI schema: no 500s and no response that breaks the schema."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from hall_controller.api.app import create_app
from hall_controller.clock import ManualClock
from hall_controller.service import HallService
from hall_controller.store import Ledger

from .factory import MONDAY_10, small_hall

# Schemathesis collects operations at import time, so the app is built here, on a throw-away database.
_DB = Path(tempfile.mkdtemp(prefix="hall-schemathesis-")) / "hall.db"
APP = create_app(HallService(small_hall(), Ledger(_DB), ManualClock(MONDAY_10)))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case):
    case.call_and_validate()
