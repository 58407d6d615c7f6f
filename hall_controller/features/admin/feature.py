"""后台管理: configuration as versioned data in the ledger, changed live through the one write path; the
`/admin` pages, staff photos and the 事项库 import."""

from __future__ import annotations

from fastapi import FastAPI

from hall_controller.core.feature import Feature
from hall_controller.features.admin import api, pages, store


def install(app: FastAPI) -> None:
    api.install(app)
    pages.install(app)


feature = Feature(name="admin", tables=(store.CONFIG_VERSIONS,), install=install)
