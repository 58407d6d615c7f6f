"""Counter keypads (呼叫器): a key becomes a command on the keypad's own window, and its LCD shows the answer.

A keypad acts only after a 工号 + PIN sign-in made on it (its keypad session, kept in `keypad_sessions`
and checked by the rule every staff sign-in follows), and each event's id and verdict commit with the
action it caused (`device_events`), so an event re-reported after a restart is answered, never obeyed again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from drivers.protocol import Key, KeyEvent
from hall_controller.core.decision import Decision
from hall_controller.core.errors import HallError
from hall_controller.core.service import SESSION_HOURS, HallService
from hall_controller.features.devices.buses import Device, Devices, fit

log = logging.getLogger(__name__)

LCD_BYTES = 64  # drivers.protocol.LCD_MAX


@dataclass(frozen=True)
class KeypadSession:
    staff_id: str
    signed_in_at: str  # the window's signed_in_at (ISO) when the PIN was entered on the keypad
    expires_at: str


class Keypads:
    def __init__(self, service: HallService) -> None:
        self.service = service
        ledger = service.ledger
        self.sessions: dict[str, KeypadSession] = {  # keypad id -> the PIN sign-in made on it
            r[0]: KeypadSession(*r[1:]) for r in ledger.query(
                "SELECT device_id, staff_id, signed_in_at, expires_at FROM keypad_sessions")}
        self._handled = {r[0]: (r[1], bool(r[2])) for r in ledger.query(
            "SELECT device_id, event_id, accepted FROM device_events")}

    def handled(self, keypad: Device) -> tuple[int, bool] | None:
        """The keypad's last event id and verdict as stored before this start."""
        return self._handled.get(keypad.id)

    async def press(self, keypads: Devices, address: int, event: KeyEvent, event_id: int) -> str:
        """The bus master's key handler: carries the event out and returns the LCD reply."""
        text = await self.service.call(self.handle, keypads[address], event, event_id)
        # One loop turn: the committed events reach the window display before the bus master queues this
        # reply, so the display frame, which the citizen waits for, goes out first.
        await asyncio.sleep(0)
        return fit(text, LCD_BYTES)

    def handle(self, keypad: Device, event: KeyEvent, event_id: int) -> str:
        """Carries out a keypad's event and returns the LCD reply (a refusal's reason included). Its id and
        verdict commit with the action; an event that acts on nothing gets them committed on their own.
        Runs inside `HallService.call`, so the rider is set where the command executes."""
        row = {"device_id": keypad.id, "event_id": event_id, "accepted": 1, "at": self.service.clock.now().isoformat()}
        with self.service.riding(lambda d: d.rows.append(("device_events", row))) as riders:
            try:
                text = self._act(keypad, event, riders)
            except HallError as e:
                text = e.message
            except Exception:
                row["accepted"] = 0  # the bus refuses it: so does the remembered verdict
                self._remember(row)
                raise
        if riders:
            self._remember(row)
        return text

    def _remember(self, row: dict[str, Any]) -> None:
        try:
            with self.service.riding():
                self.service.write_rows([("device_events", row)])
        except HallError as e:
            log.error("keypad event %s not recorded: %s", row["device_id"], e.message)

    def _act(self, keypad: Device, event: KeyEvent, riders: list[Callable[[Decision], None]]) -> str:
        """Carries out one key on the keypad's own window; returns the LCD reply. Raises HallError. `riders`
        go with the command that commits: the event's own row, and here a sign-in's keypad session."""
        svc, window_id = self.service, keypad.window_id
        if event.key is Key.SIGN_IN:
            session: dict[str, Any] = {"device_id": keypad.id, "window_id": window_id}

            def keypad_session(d: Decision) -> None:
                session.update(staff_id=d.result.staff_id, signed_in_at=d.result.signed_in_at.isoformat(),
                               expires_at=(svc.clock.now() + timedelta(hours=SESSION_HOURS)).isoformat())
                d.rows.append(("keypad_sessions", session))

            riders.append(keypad_session)
            signed = svc.sign_in(window_id, event.staff_id or "", event.pin or "", source=f"keypad:{keypad.id}")
            self.sessions[keypad.id] = KeypadSession(session["staff_id"], session["signed_in_at"], session["expires_at"])
            return f"签到成功\n{signed['window']['staff']['name']}"
        self._authorise(self.sessions.get(keypad.id), window_id)  # trusted only after a PIN sign-in on this keypad
        key = event.key
        if key is Key.CALL_NEXT:
            return self._call_next(window_id)
        if key is Key.NEXT:
            done = ""
            if svc.hall.windows[window_id].ticket_id is not None:
                # the event's row rides with the call, the last step: after a restart between the two, the
                # re-reported NEXT finds nobody at the window and only calls
                with svc.riding():
                    t = svc.window_command(window_id, "finish", outcome=event.outcome.code if event.outcome else None)
                done = f"已办结 {t.number}\n"
            return done + self._call_next(window_id)
        if key is Key.FINISH:
            t = svc.window_command(window_id, "finish", outcome=event.outcome.code if event.outcome else None)
            return f"已办结 {t.number}"
        if key is Key.RECALL:
            return f"已重呼 {svc.window_command(window_id, 'recall').number}"
        if key is Key.SKIP:
            return f"已过号 {svc.window_command(window_id, 'skip').number}"
        if key is Key.TRANSFER:
            if event.category is not None:
                t = svc.window_command(window_id, "transfer", category_id=event.category)
                category = svc.config.category(event.category)
                return f"{t.number} 已转至{category.name if category else event.category}"
            target = next((w for w in svc.config.windows if w.number == event.window), None)
            if target is None:
                raise HallError("unknown_window", f"没有 {event.window} 号窗口")
            t = svc.window_command(window_id, "transfer", target_window_id=target.id)
            return f"{t.number} 已转至{target.number}号窗口"
        if key is Key.PAUSE:
            svc.window_command(window_id, "pause")
            return "已暂停服务"
        if key is Key.RESUME:
            svc.window_command(window_id, "resume")
            return "已恢复服务"
        assert key is Key.SIGN_OUT
        svc.window_command(window_id, "sign-out")
        self.sessions.pop(keypad.id, None)
        return "已签离"

    def _authorise(self, session: KeypadSession | None, window_id: str) -> None:
        if session is None:
            raise HallError("unauthorised", "请先在窗口签到。", 401)
        self.service.check_sign_in(session.staff_id, session.signed_in_at, session.expires_at, window_id)

    def _call_next(self, window_id: str) -> str:
        t = self.service.window_command(window_id, "call-next")
        return "暂无等候" if t is None else f"已呼叫 {t.number}"
