"""Retention of personal data (个人信息): every feature's personal columns purged after their period."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from hall_controller.core.feature import Feature
from hall_controller.features.retention import api, service, settings
from hall_controller.features.retention.rules import TICKET_HOLDERS


def covering(features: Iterable[Feature]) -> Feature:
    """The retention feature over the personal data the tickets and `features` declare."""
    registry = {p.table: p for p in (TICKET_HOLDERS, *(p for f in features for p in f.personal_data))}
    return Feature(
        name="retention",
        section=settings.section(registry),
        install=partial(api.install, registry=registry),
        lifespan=service.purging,
    )
