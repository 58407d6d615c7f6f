"""后台管理 over HTTP: the configuration and its versions (managers read, admins change), staff photos and
the 事项库 import. docs/admin.md describes the contract."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from hall_controller.core.errors import HallError
from hall_controller.features.admin import catalogue
from hall_controller.features.admin.rules import redact
from hall_controller.features.admin.service import Versions
from hall_controller.http.auth import require_admin, require_manager

router = APIRouter(prefix="/api/admin")
Manager = Annotated[str, Depends(require_manager)]
Admin = Annotated[str, Depends(require_admin)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
VERSION_MAX = 2 ** 31  # far beyond any hall's versions, within SQLite's integers


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewVersion(Strict):
    base_version: Annotated[int, Field(ge=0, le=VERSION_MAX)]
    config: dict[str, Any]
    summary: Annotated[str, Field(max_length=200)] | None = None
    # Waiting tickets of a removed service → the service they join (same number, same place).
    moves: dict[Id, Id] = {}


class Preview(Strict):
    config: dict[str, Any]


class Rollback(Strict):
    version: Annotated[int, Field(ge=1, le=VERSION_MAX)]
    base_version: Annotated[int, Field(ge=0, le=VERSION_MAX)] | None = None


class CatalogueImport(Strict):
    text: Annotated[str, Field(min_length=1, max_length=1_500_000)]
    format: Literal["csv", "json"]
    mapping: dict[Id, Annotated[str, Field(max_length=64)]] = {}
    # For matters new to the hall: category (主题) id, ticket prefix, expected minutes.
    defaults: dict[Literal["category", "prefix", "minutes"], str | float] = {}
    base_version: Annotated[int, Field(ge=0, le=VERSION_MAX)] | None = None


def versions_of(request: Request) -> Versions:
    return request.app.state.config_versions


@router.get("/config")
async def get_config(request: Request, _: Manager) -> dict[str, Any]:
    """The whole configuration as JSON, the TOML's shape; secrets shown as `******`."""
    versions = versions_of(request)
    return await versions.service.call(versions.current)


@router.put("/config")
async def put_config(request: Request, body: NewVersion, admin: Admin) -> dict[str, Any]:
    """A new version: 409 when `base_version` is not the current one or when it removes what is in use,
    422 naming the first bad key as `field`."""
    versions = versions_of(request)
    return await versions.service.call(versions.put, body.config, body.base_version, admin, summary=body.summary,
                                       moves=body.moves)


@router.post("/config/preview")
async def preview(request: Request, body: Preview, _: Manager) -> dict[str, Any]:
    """The diff a document would make, validated (422 as for PUT), and what would block it; commits nothing."""
    versions = versions_of(request)
    return await versions.service.call(versions.preview, body.config)


@router.get("/config/versions")
async def list_versions(request: Request, _: Manager, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                        before: Annotated[int, Query(ge=1, le=VERSION_MAX)] | None = None) -> dict[str, Any]:
    versions = versions_of(request)
    return {"current": versions.service.config.version,
            "versions": await versions.service.call(versions.history, limit, before)}


@router.get("/config/versions/{version}")
async def get_version(request: Request, version: Annotated[int, Path(ge=1, le=VERSION_MAX)], _: Manager
                      ) -> dict[str, Any]:
    versions = versions_of(request)
    return {"version": version, "config": redact(await versions.service.call(versions.document_of, version))}


@router.post("/config/rollback")
async def rollback(request: Request, body: Rollback, admin: Admin) -> dict[str, Any]:
    """A new version equal to `version`."""
    versions = versions_of(request)
    return await versions.service.call(versions.rollback, body.version, body.base_version, admin)


@router.get("/staff/{staff_id}/photo")
async def get_photo(request: Request, staff_id: Id, _: Manager) -> Response:
    """The 工作照 as stored, for the admin pages (the window display shows it only while they are on duty)."""
    path = versions_of(request).photo_of(staff_id)
    return FileResponse(path, headers={"cache-control": "no-store"})


@router.put("/staff/{staff_id}/photo")
async def put_photo(request: Request, staff_id: Id, admin: Admin) -> dict[str, Any]:
    """The body is the image itself (`Content-Type: image/jpeg` or `image/png`)."""
    versions = versions_of(request)
    data = await request.body()
    if not data:
        raise HallError("invalid_photo", "请上传照片（JPEG 或 PNG）。", 422)
    return await versions.service.call(versions.save_photo, staff_id, data, admin)


def _merged(versions: Versions, body: CatalogueImport) -> tuple[dict[str, Any], dict[str, Any]]:
    found = catalogue.matters(catalogue.read(body.text, body.format), body.mapping)
    return catalogue.merge(versions.full_document(), found, body.defaults)


@router.post("/catalogue/preview")
async def catalogue_preview(request: Request, body: CatalogueImport, _: Admin) -> dict[str, Any]:
    """What importing the 事项库 file would change, validated; commits nothing."""
    versions = versions_of(request)

    def run() -> dict[str, Any]:
        doc, report = _merged(versions, body)
        return {"report": report, **versions.preview(doc)}

    return await versions.service.call(run)


@router.post("/catalogue/import")
async def catalogue_import(request: Request, body: CatalogueImport, admin: Admin) -> dict[str, Any]:
    """The 事项库 merged in as a new version (local additions kept)."""
    versions = versions_of(request)

    def run() -> dict[str, Any]:
        doc, report = _merged(versions, body)
        base = versions.service.config.version if body.base_version is None else body.base_version
        n = len(report["added"]) + len(report["changed"])
        applied = versions.put(doc, base, admin, summary=f"导入事项库：新增 {len(report['added'])} 项，"
                                                         f"更新 {len(report['changed'])} 项", source="import") \
            if n else {"version": versions.service.config.version, "changed": [], "moved": []}
        return {"report": report, **applied}

    return await versions.service.call(run)


def install(app: FastAPI) -> None:
    options = app.state.options
    app.state.config_versions = Versions(app.state.service, [f.section for f in app.state.features if f.section],
                                         options.var_dir)
    app.include_router(router)
