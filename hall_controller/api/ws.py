"""`WS /ws/events?since=SEQ`: the ledger from SEQ onwards, then the live stream, in order, no gap, no duplicate."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ..events import encode

router = APIRouter()

BACKLOG_PAGE = 500


@router.websocket("/ws/events")
async def events(ws: WebSocket) -> None:
    service = ws.app.state.service
    raw = ws.query_params.get("since")
    await ws.accept()
    if raw is not None and not (raw.isdigit() and len(raw) < 19):
        await ws.close(code=1008, reason="since must be a non-negative integer")
        return
    # Subscribe before reading the backlog: whatever commits meanwhile is in the queue, and the seq
    # check below drops what the backlog already sent.
    with service.bus.subscribe() as sub:
        sender = asyncio.create_task(_send(ws, service, sub, int(raw) if raw is not None else service.ledger.last_seq))
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


async def _send(ws: WebSocket, service, sub, last: int) -> None:
    try:
        while True:
            page = service.ledger.events_since(last, BACKLOG_PAGE)
            for event in page:
                await ws.send_text(encode(event))
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
