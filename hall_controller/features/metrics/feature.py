"""Metrics for Prometheus (`/metrics`): request latency, tickets, queues, windows, devices, printers, voice,
push backlogs, backups."""

from __future__ import annotations

from hall_controller.core.feature import Feature
from hall_controller.features.metrics import api

feature = Feature(name="metrics", install=api.install)
