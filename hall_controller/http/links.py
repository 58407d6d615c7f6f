"""Links a citizen's phone opens: the ticket's live status page."""

from __future__ import annotations

from fastapi import Request


def public_base(request: Request) -> str:
    """The configured `public_url`, else the address this request reached the controller by (a kiosk or
    integrator on the hall LAN) — never the bind address, which may be 0.0.0.0."""
    return (request.app.state.service.config.public_url or str(request.base_url)).rstrip("/")


def status_url(request: Request, token: str) -> str:
    return f"{public_base(request)}/t/{token}"
