"""Telling the citizen: a notification interface and its SMS-gateway adapter over HTTP.

SMS gateways in China take a JSON (or form) post with the account, a pre-approved template id, the sign and
the template's parameters. This adapter posts JSON with the key as a bearer token and our notification id as
the request id (the gateway de-duplicates a retried send), and reads `{"code": 0 | "0" | "OK"}` as accepted.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from hall_controller.features.applications.rules import SmsSettings


class Notifier(Protocol):
    async def send(self, request_id: str, phone: str, template: str, params: dict[str, Any]
                   ) -> tuple[bool, str | None]: ...

    async def close(self) -> None: ...


ACCEPTED = (0, "0", "OK", "ok", "success")


class SmsGateway:
    def __init__(self, s: SmsSettings) -> None:
        self.s = s
        self._client = httpx.AsyncClient(timeout=s.timeout_s)

    async def send(self, request_id: str, phone: str, template: str, params: dict[str, Any]
                   ) -> tuple[bool, str | None]:
        body = {"account": self.s.account, "sign": self.s.sign, "template_id": template, "phone": phone,
                "params": params, "request_id": request_id}
        try:
            r = await self._client.post(self.s.url, json=body, headers={"Authorization": f"Bearer {self.s.key}",
                                                                        "Idempotency-Key": request_id})
        except httpx.HTTPError as e:
            return False, f"{type(e).__name__}: {e}"
        if not 200 <= r.status_code < 300:
            return False, f"HTTP {r.status_code}"
        try:
            code = r.json().get("code")
        except ValueError:
            return False, "网关应答不是 JSON"
        if code in ACCEPTED:
            return True, None
        return False, f"网关拒绝：{code} {r.json().get('message', '')}".strip()

    async def close(self) -> None:
        await self._client.aclose()
