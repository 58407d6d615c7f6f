"""Property-based API fuzzing from the OpenAPI schema of the whole demo hall: no 500s, no schema violation."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from hall_controller.app import build_app, load_config
from hall_controller.core.clock import ManualClock
from hall_controller.http.app import ServeOptions
from tests.conftest import DEMO_CONFIG

# Schemathesis collects operations at import time, so the app is built here, on a throw-away database.
_DIR = Path(tempfile.mkdtemp(prefix="hall-schemathesis-"))
_CONFIG = load_config(DEMO_CONFIG)
APP = build_app(_CONFIG, str(_DIR / "hall.db"), ManualClock(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo(_CONFIG.timezone))),
                ServeOptions(devices="none", var_dir=_DIR, rate_limit=0))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


# A 503 is a deliberate answer when a resource is down (the ledger, the offline voice), with the usual
# error body; and a request can be well-formed yet refused by a rule (a check-in needs a valid code):
# those two default checks are replaced by the assertion below.
RELAXED = [schemathesis.checks.not_a_server_error, positive_data_acceptance]
DELIBERATE_503 = {"storage_unavailable", "speech_unavailable"}


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms(case):
    response = case.call_and_validate(excluded_checks=RELAXED)
    assert response.status_code < 500 or (
        response.status_code == 503 and response.json()["error"] in DELIBERATE_503
    ), response.text
