"""`WS /ws/events?since=SEQ`: the ledger from SEQ onwards, then the live stream, in order, no gap, no duplicate.

Without a token the stream is the public projection of each event (`events.public`); a manager's or
admin's `Authorization: Bearer` gets events whole.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from hall_controller.core.errors import HallError
from hall_controller.core.events import encode, public
from hall_controller.http.auth import reads_private_events

router = APIRouter()

BACKLOG_PAGE = 500
WS_PER_CLIENT = 50  # open event streams per client address: a hall PC runs a few pages, a board wall a few dozen


@router.websocket("/ws/events")
async def events(ws: WebSocket) -> None:
    service = ws.app.state.service
    raw = ws.query_params.get("since")
    await ws.accept()
    # The per-address request limit cannot see a stream that stays open: count them instead.
    client = ws.client.host if ws.client else "?"
    open_streams: dict[str, int] = ws.app.state.ws_clients
    if open_streams.get(client, 0) >= ws.app.state.ws_per_client:
        await ws.close(code=1008, reason=f"too many event streams from this address (max {ws.app.state.ws_per_client})")
        return
    if raw is not None and not (raw.isdigit() and len(raw) < 19):
        await ws.close(code=1008, reason="since must be a non-negative integer")
        return
    try:
        private = reads_private_events(ws, ws.headers.get("authorization"))
    except HallError as exc:
        await ws.close(code=1008, reason=f"{exc.code}: token is not a manager's or admin's")
        return
    since = int(raw) if raw is not None else service.ledger.last_seq
    if since > service.ledger.last_seq:
        # A client ahead of the ledger (it was replaced or restored) would wait for events that never come.
        await ws.close(code=1008, reason=f"since {since} is beyond the last event {service.ledger.last_seq}: "
                                         "reload GET /api/hall and resume from its seq")
        return
    open_streams[client] = open_streams.get(client, 0) + 1
    try:
        # Subscribe before reading the backlog: whatever commits meanwhile is in the queue, and the seq
        # check below drops what the backlog already sent.
        with service.bus.subscribe(private=private) as sub:
            sender = asyncio.create_task(_send(ws, service, sub, since))
            receiver: asyncio.Task | None = None
            try:
                # Clients send nothing; reading is how a vanished client (or server shutdown) is noticed at once.
                while not sender.done():
                    receiver = asyncio.create_task(ws.receive())
                    await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
                    if receiver.done() and receiver.result().get("type") == "websocket.disconnect":
                        break
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                sender.cancel()
                if receiver is not None:
                    receiver.cancel()
    finally:
        open_streams[client] -= 1
        if not open_streams[client]:
            del open_streams[client]


async def _send(ws: WebSocket, service, sub, last: int) -> None:
    try:
        while True:
            page = service.ledger.events_since(last, BACKLOG_PAGE)
            for event in page:
                await ws.send_text(encode(event if sub.private else public(event)))
                last = event["seq"]
            if len(page) < BACKLOG_PAGE:
                break
        while True:
            item = await sub.get()
            if item is None:  # fell too far behind: the client resumes with since
                await ws.close(code=1013, reason="too slow, reconnect with since")
                return
            event, text = item
            if event["seq"] <= last:
                continue
            await ws.send_text(text)
            last = event["seq"]
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
