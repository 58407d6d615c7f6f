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
WS_MAX_STREAMS = 1000  # open event streams in all: a hall's screens and phones, with room to spare
# Clients send nothing but control frames: an inbound message over this closes the stream (1009). The server
# (uvicorn's ws_max_size) refuses larger frames before they are buffered; this check holds behind any server.
WS_MAX_MESSAGE = 4096
SESSION_CHECK_S = 5.0  # a manager's stream re-checks its sign-in at least this often (and at every sign-out)


@router.websocket("/ws/events")
async def events(ws: WebSocket) -> None:
    service = ws.app.state.service
    raw = ws.query_params.get("since")
    await ws.accept()
    # The per-address request limit cannot see a stream that stays open: count them instead, per address and
    # in all (many addresses must not hold every socket and the memory each stream's queue may take).
    client = ws.client.host if ws.client else "?"
    open_streams: dict[str, int] = ws.app.state.ws_clients
    if open_streams.get(client, 0) >= ws.app.state.ws_per_client:
        await ws.close(code=1008, reason=f"too many event streams from this address (max {ws.app.state.ws_per_client})")
        return
    if sum(open_streams.values()) >= ws.app.state.options.ws_max:
        await ws.close(code=1013, reason=f"too many event streams (max {ws.app.state.options.ws_max}), try again later")
        return
    if raw is not None and not (raw.isdigit() and len(raw) < 19):
        await ws.close(code=1008, reason="since must be a non-negative integer")
        return
    authorization = ws.headers.get("authorization")
    try:
        private = reads_private_events(ws, authorization)
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
            live = (lambda: _session_live(ws, authorization)) if private else None
            sender = asyncio.create_task(_send(ws, service, sub, since, live))
            receiver: asyncio.Task | None = None
            try:
                # Clients send nothing; reading is how a vanished client (or server shutdown) is noticed at once.
                while not sender.done():
                    receiver = asyncio.create_task(ws.receive())
                    await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
                    if not receiver.done():
                        continue
                    message = receiver.result()
                    if message.get("type") == "websocket.disconnect":
                        break
                    if len(message.get("text") or message.get("bytes") or b"") > WS_MAX_MESSAGE:
                        await ws.close(code=1009, reason=f"message too big (max {WS_MAX_MESSAGE} bytes)")
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


def _session_live(ws: WebSocket, authorization: str) -> bool:
    """Whether the manager's token behind a private stream still holds (not signed out, not expired)."""
    try:
        return reads_private_events(ws, authorization)
    except HallError:
        return False


async def _send(ws: WebSocket, service, sub, last: int, live=None) -> None:
    """The backlog, then the live events. A private stream (`live` given) ends, closed with 1008, as soon as its
    token does: checked at every sign-out event and every `SESSION_CHECK_S`, so a signed-out manager's open
    page stops receiving complaint text with the HTTP 401s."""
    try:
        while True:
            page = service.ledger.events_since(last, BACKLOG_PAGE)
            for event in page:
                await ws.send_text(encode(event if sub.private else public(event)))
                last = event["seq"]
            if len(page) < BACKLOG_PAGE:
                break
        checked = asyncio.get_running_loop().time()
        while True:
            try:
                item = await asyncio.wait_for(sub.get(), SESSION_CHECK_S) if live else await sub.get()
            except TimeoutError:
                item = ()
            now = asyncio.get_running_loop().time()
            if live and (not item or item[0]["type"].endswith("signed_out") or now - checked >= SESSION_CHECK_S):
                checked = now
                if not live():
                    await ws.close(code=1008, reason="session ended: sign in again")
                    return
            if item == ():
                continue
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
