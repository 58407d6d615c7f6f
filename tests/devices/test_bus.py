"""Bus master against simulated devices over socket://127.0.0.1 and over a socat pty pair."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from drivers.bus import BusMaster, BusTiming
from drivers.protocol import (
    BROADCAST,
    Cmd,
    DeviceType,
    Frame,
    Invite,
    Key,
    KeyEvent,
    Outcome,
    Rating,
    RatingReason,
    ProtocolError,
    decode_invite,
    decode_poll,
    encode_brightness,
)
from drivers.simulators import Fault, SimBus, SimDisplay, SimKeypad, SimPad, SocatPair

FAST = BusTiming(
    # a device that answers within this is never taken for lost: 0.05 s was too little on a starved machine
    # (a spurious timeout re-sends displays and flaps devices offline); still well under SimBus's LATE 0.5 s
    reply_timeout=0.2,
    keypad_idle_poll=0.03,
    keypad_active_poll=0.01,
    pad_poll=0.03,
    heartbeat=0.3,
    offline_probe=0.1,
    backoff_max=0.4,
)
KEYPAD, DISPLAY, PAD = 1, 2, 3
# Waits are for states, never for time; the deadline only bounds a hung test, so it is generous: the FAST
# timeouts above make a starved machine retry a lot before it gets there.
DEADLINE = 15.0


@dataclass
class Hall:
    """Records what the bus hands to the hall core."""

    keys: list[tuple[int, KeyEvent]] = field(default_factory=list)
    ratings: list[tuple[int, Rating]] = field(default_factory=list)
    timeouts: list[tuple[int, str]] = field(default_factory=list)
    states: list[tuple[int, bool]] = field(default_factory=list)

    async def on_key(self, address: int, event: KeyEvent, event_id: int) -> str | None:
        self.keys.append((address, event))
        return f"已处理 {len(self.keys)}"

    async def on_rating(self, address: int, rating: Rating) -> None:
        self.ratings.append((address, rating))

    async def on_rating_timeout(self, address: int, ticket: str) -> None:
        self.timeouts.append((address, ticket))

    def on_device_state(self, address: int, online: bool) -> None:
        self.states.append((address, online))


def make_bus(url: str, hall: Hall, devices: list[tuple[int, DeviceType]] | None = None, timing: BusTiming | None = None,
             **callbacks) -> BusMaster:  # type: ignore[no-untyped-def]
    handlers = dict(
        on_key=hall.on_key,
        on_rating=hall.on_rating,
        on_rating_timeout=hall.on_rating_timeout,
        on_device_state=hall.on_device_state,
    )
    handlers.update(callbacks)
    devices = devices or [(KEYPAD, DeviceType.KEYPAD), (DISPLAY, DeviceType.DISPLAY), (PAD, DeviceType.PAD)]
    return BusMaster(url, devices, timing=timing or FAST, **handlers)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 4 * DEADLINE))


async def until(predicate: Callable[[], bool], timeout: float = DEADLINE) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


class Polled:
    """Counts the polls a simulated device acted on (a retry of the same SEQ is a replay, not counted).

    The master polls only when no online device lacks an update (`BusMaster._serve` sends every pending
    display, LCD and pad command first), and the line carries one request at a time. So a poll a device
    answers after some event proves the master had finished with that event and had nothing left to send:
    the positive synchronisation before asserting that nothing more happened."""

    polls = 0

    async def wait_for(self, predicate: Callable[[Any], bool], timeout: float = DEADLINE) -> None:
        await super().wait_for(predicate, timeout)  # type: ignore[misc]

    def _poll(self, frame: Frame, ack: int) -> Frame:
        self.polls += 1
        reply = super()._poll(frame, ack)  # type: ignore[misc]
        self._notify()  # type: ignore[attr-defined]
        return reply


class PolledKeypad(Polled, SimKeypad):
    pass


class PolledDisplay(Polled, SimDisplay):
    pass


class PolledPad(Polled, SimPad):
    pass


async def polled_again(*devices: Polled, timeout: float = DEADLINE) -> None:
    """Waits until each device has answered a poll after this call (see `Polled`)."""
    before = [d.polls for d in devices]
    async with asyncio.timeout(timeout):
        for dev, n in zip(devices, before):
            await dev.wait_for(lambda d, n=n: d.polls > n, timeout)  # type: ignore[attr-defined]


def sim_devices() -> tuple[PolledKeypad, PolledDisplay, PolledPad]:
    return PolledKeypad(KEYPAD), PolledDisplay(DISPLAY), PolledPad(PAD)


def is_cmd(cmd: Cmd) -> Callable[[Frame], bool]:
    return lambda frame: frame.command == cmd


# ---------------------------------------------------------------- displays


def test_display_updates_arrive_and_retries_never_act_twice() -> None:
    async def scenario() -> None:
        kp, disp, pad = sim_devices()
        hall = Hall()
        async with SimBus([kp, disp, pad], seed=1) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall) as bus:
                await until(lambda: bus.online(DISPLAY))
                sim.inject(Fault.DROP, count=2, match=lambda f: f.addr == DISPLAY and f.command == Cmd.ACK)
                bus.set_display(DISPLAY, ["A012", "请到3号窗口"])
                await disp.wait_for(lambda d: d.replayed == 2 and d.paused is False and len(d.history) == 2)
                await polled_again(disp)  # the master has nothing left to send it
                assert len(disp.history) == 2  # the text once (though sent three times), then the paused flag

                bus.set_display(DISPLAY, ["A012", "请到3号窗口"], paused=True)
                bus.set_brightness(DISPLAY, 30)
                await disp.wait_for(lambda d: d.paused and d.brightness == 30)
                bus.set_display(DISPLAY, [])
                await disp.wait_for(lambda d: d.lines == ())
                assert disp.paused  # DISPLAY_CLEAR blanks text only
                assert bus.stats.retries >= 2

                # updates made quickly coalesce into the latest state
                for n in range(10):
                    bus.set_display(DISPLAY, [f"B{n:03d}"])
                await disp.wait_for(lambda d: d.lines == ("B009",))
                await polled_again(disp)
                assert len(disp.history) < 4 + 10 and disp.lines == ("B009",)

    run(scenario)


def test_a_display_missing_a_whole_update_is_probed_at_once_not_at_its_heartbeat() -> None:
    """An update unanswered through every retry marks the display offline; the master probes it at once (not
    at its old heartbeat slot, here 10 minutes away) and sends the update again when it answers."""
    async def scenario() -> None:
        disp = PolledDisplay(DISPLAY)
        hall = Hall()
        slow = BusTiming(heartbeat=600.0, offline_probe=600.0, retries=2)
        async with SimBus([disp], seed=1) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(DISPLAY, DeviceType.DISPLAY)], timing=slow) as bus:
                await until(lambda: bus.online(DISPLAY))
                sim.inject(Fault.DEAF, count=3, match=is_cmd(Cmd.DISPLAY_TEXT))  # the request and both retries
                bus.set_display(DISPLAY, ["A013", "张晓明"])
                await until(lambda: (DISPLAY, False) in hall.states)
                await disp.wait_for(lambda d: d.lines == ("A013", "张晓明"))
                assert hall.states[-2:] == [(DISPLAY, False), (DISPLAY, True)]
                assert bus.stats.failed == 1

    run(scenario)


def test_display_refusing_an_update_is_not_retried_for_ever() -> None:
    async def scenario() -> None:
        disp = PolledDisplay(DISPLAY)
        hall = Hall()
        async with SimBus([disp]) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(DISPLAY, DeviceType.PAD)]) as bus:  # misconfigured kind
                await until(lambda: bus.online(DISPLAY))
                bus.invite_rating(DISPLAY, Invite("A1", 1, "1024", "李四"))
                await until(lambda: bus.stats.naks_received == 1)
                # polled as a pad with the invitation still wanted: the refused update is settled, not pending
                await polled_again(disp)
                assert bus.stats.naks_received >= 1

    run(scenario)


# ---------------------------------------------------------------- keypads


def test_key_press_reaches_on_key_exactly_once_despite_faults() -> None:
    async def scenario() -> None:
        kp, disp, pad = sim_devices()
        hall = Hall()
        async with SimBus([kp, disp, pad], seed=7) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall) as bus:
                await until(lambda: bus.online(KEYPAD))
                reports = is_cmd(Cmd.KEY_EVENT)
                sim.inject(Fault.DROP, count=2, match=reports)  # the reply to "call next" is lost, twice
                sim.inject(Fault.DUPLICATE, count=3, match=reports)
                sim.inject(Fault.CORRUPT, count=2, match=reports)
                sim.inject(Fault.LATE, count=1, match=reports)
                sim.inject(Fault.SPLIT, count=None)
                sim.inject(Fault.NOISE, count=None, probability=0.3)
                sim.inject(Fault.DEAF, count=2, match=lambda f: f.command == Cmd.POLL and decode_poll(f.payload) != 0)
                presses = [
                    KeyEvent(Key.SIGN_IN, staff_id="1024", pin="2468"),
                    KeyEvent(Key.CALL_NEXT),
                    KeyEvent(Key.RECALL),
                    KeyEvent(Key.TRANSFER, window=5),
                    KeyEvent(Key.NEXT, outcome=Outcome.SUPPLEMENT),
                    KeyEvent(Key.FINISH, outcome=Outcome.IMMEDIATE),
                ]
                for event in presses:
                    kp.press(event)
                await kp.wait_for(lambda k: len(k.acked) == len(presses) and not k.pending, 2 * DEADLINE)
                assert hall.keys == [(KEYPAD, e) for e in presses]
                await kp.wait_for(lambda k: k.lcd == f"已处理 {len(presses)}")
                assert bus.stats.parser.crc_errors >= 2
                assert bus.stats.stale_frames >= 1
                assert kp.replayed >= 1

    run(scenario)


def test_a_lost_call_next_reply_never_calls_a_second_ticket() -> None:
    async def scenario() -> None:
        kp = PolledKeypad(KEYPAD)
        hall = Hall()
        async with SimBus([kp]) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(KEYPAD, DeviceType.KEYPAD)]) as bus:
                await until(lambda: bus.online(KEYPAD))
                online = len(hall.states)  # (a starved machine may have lost the first probe: count from here)
                # every attempt lost: the master gives up, marks the keypad offline, probes it again
                sim.inject(Fault.DROP, count=FAST.retries + 1, match=is_cmd(Cmd.KEY_EVENT))
                kp.press(KeyEvent(Key.CALL_NEXT))
                await kp.wait_for(lambda k: k.acked)
                assert hall.keys == [(KEYPAD, KeyEvent(Key.CALL_NEXT))]
                assert hall.states[online - 1 :] == [(KEYPAD, True), (KEYPAD, False), (KEYPAD, True)]

    run(scenario)


class ForgetfulKeypad(PolledKeypad):
    """Loses the first acknowledgement of each event (a reset between hearing and storing it)."""

    def __init__(self, address: int):
        super().__init__(address)
        self._ignored: set[int] = set()

    def _poll(self, frame: Frame, ack: int) -> Frame:
        if ack and ack not in self._ignored:
            self._ignored.add(ack)
            ack = 0
        return super()._poll(frame, ack)


def test_re_reported_event_is_acknowledged_again_not_acted_on() -> None:
    async def scenario() -> None:
        kp = ForgetfulKeypad(KEYPAD)
        hall = Hall()
        async with SimBus([kp], line_timing=False) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(KEYPAD, DeviceType.KEYPAD)]) as bus:
                kp.press(KeyEvent(Key.CALL_NEXT))
                kp.press(KeyEvent(Key.SKIP))
                await kp.wait_for(lambda k: len(k.acked) == 2)
                assert [e.key for _, e in hall.keys] == [Key.CALL_NEXT, Key.SKIP]
                assert bus.stats.duplicate_events == 2

    run(scenario)


@pytest.mark.parametrize("accepted", [True, False])
def test_a_master_started_with_the_memory_of_an_event_repeats_its_verdict_without_acting(accepted: bool) -> None:
    async def scenario() -> None:
        kp = PolledKeypad(KEYPAD)
        hall = Hall()
        handled = kp.press(KeyEvent(Key.CALL_NEXT))  # handled by the master before a restart, never acknowledged
        skip = kp.press(KeyEvent(Key.SKIP))
        async with SimBus([kp]) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(KEYPAD, DeviceType.KEYPAD)], handled={KEYPAD: (handled, accepted)}) as bus:
                await kp.wait_for(lambda k: not k.pending)
                assert [e.key for _, e in hall.keys] == [Key.SKIP] and bus.stats.duplicate_events == 1
                assert [i for i, _ in kp.acked] == ([handled, skip] if accepted else [skip])
                assert [i for i, _ in kp.rejected] == ([] if accepted else [handled])

    run(scenario)


def test_malformed_report_is_refused_and_counted() -> None:
    async def scenario() -> None:
        kp = PolledKeypad(KEYPAD)
        hall = Hall()
        async with SimBus([kp]) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(KEYPAD, DeviceType.KEYPAD)]) as bus:
                await until(lambda: bus.online(KEYPAD))
                sim.inject(Fault.GARBLE, match=is_cmd(Cmd.KEY_EVENT))
                kp.press(KeyEvent(Key.FINISH, outcome=Outcome.CONSULT))
                await kp.wait_for(lambda k: k.rejected)
                assert hall.keys == [] and bus.stats.malformed == 1 and bus.stats.naks_sent == 1
                kp.press(KeyEvent(Key.PAUSE))  # the bus carries on
                await kp.wait_for(lambda k: k.acked)
                assert hall.keys == [(KEYPAD, KeyEvent(Key.PAUSE))]

    run(scenario)


def test_failing_on_key_refuses_the_event_once() -> None:
    async def scenario() -> None:
        kp = PolledKeypad(KEYPAD)
        hall = Hall()
        calls = []

        async def broken(address: int, event: KeyEvent, event_id: int) -> str:
            calls.append(event)
            raise RuntimeError("hall core down")

        async with SimBus([kp]) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(KEYPAD, DeviceType.KEYPAD)], on_key=broken) as bus:
                sim.inject(Fault.DROP, match=lambda f: f.command == Cmd.ACK and f.addr == KEYPAD and bus.stats.naks_sent > 0)
                kp.press(KeyEvent(Key.SIGN_OUT))
                await kp.wait_for(lambda k: k.rejected)
                assert len(calls) == 1 and bus.stats.callback_errors == 1

    run(scenario)


# ---------------------------------------------------------------- pads


def test_rating_delivered_once_and_acknowledged_only_after_it_is_stored() -> None:
    async def scenario() -> None:
        pad = PolledPad(PAD)
        hall = Hall()
        seen_in_callback = []

        async def store(address: int, rating: Rating) -> None:
            seen_in_callback.append((list(pad.acked), [b for _, b in pad.pending]))
            await asyncio.sleep(0.2)  # a slow database write
            if len(seen_in_callback) == 1:
                raise OSError("disk full")  # not stored: the pad must report it again
            hall.ratings.append((address, rating))

        async with SimBus([pad], seed=3) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(PAD, DeviceType.PAD)], on_rating=store) as bus:
                sim.inject(Fault.DROP, match=is_cmd(Cmd.PAD_RESULT))
                sim.inject(Fault.DUPLICATE, count=2, match=is_cmd(Cmd.PAD_RESULT))
                bus.invite_rating(PAD, Invite("A012", 3, "1024", "张晓明"))
                await pad.wait_for(lambda p: p.invite is not None)
                assert pad.invite == Invite("A012", 3, "1024", "张晓明")
                pad.rate(5, RatingReason.ATTITUDE)
                await pad.wait_for(lambda p: p.acked)
                rating = Rating("A012", 5, RatingReason.ATTITUDE)
                assert hall.ratings == [(PAD, rating)]
                assert seen_in_callback == [([], [rating]), ([], [rating])]
                assert bus.stats.callback_errors == 1

                bus.invite_rating(PAD, Invite("A013", 3, "1024", "张晓明", timeout_s=5))
                await pad.wait_for(lambda p: p.invite is not None)
                pad.expire()
                await until(lambda: hall.timeouts == [(PAD, "A013")])

                bus.invite_rating(PAD, Invite("A014", 3, "1024", "张晓明"))
                await pad.wait_for(lambda p: p.invite is not None)
                bus.cancel_rating(PAD)
                await pad.wait_for(lambda p: p.invite is None)
                assert hall.ratings == [(PAD, rating)]

    run(scenario)


class OldPad(PolledPad):
    """A pad built before the 办件 lines: any byte after `timeout_s` is a bad payload."""

    def _invited(self, payload: bytes) -> None:
        if decode_invite(payload).application:
            raise ProtocolError("1 unexpected trailing bytes")
        super()._invited(payload)


def test_a_pad_shows_the_application_and_an_older_pad_gets_the_plain_invitation() -> None:
    async def scenario() -> None:
        pad, old = PolledPad(PAD), OldPad(PAD + 1)
        hall = Hall()
        async with SimBus([pad, old], seed=4) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall, [(PAD, DeviceType.PAD), (PAD + 1, DeviceType.PAD)]) as bus:
                invite = Invite("A012", 3, "1024", "张晓明", 60, "QH20*****0002", "居民身份证补领")
                bus.invite_rating(PAD, invite)
                bus.invite_rating(PAD + 1, replace(invite, ticket="A013"))
                await pad.wait_for(lambda p: p.invite is not None)
                assert (pad.invite.application, pad.invite.matter) == ("QH20*****0002", "居民身份证补领")
                await old.wait_for(lambda p: p.invite is not None)
                assert old.invite == Invite("A013", 3, "1024", "张晓明", 60)
                assert bus.stats.naks_received >= 1
                # the 办件 named while the pad already shows the ticket: its lines change, no second invitation
                pad.rate(1)
                await pad.wait_for(lambda p: p.acked)
                bus.invite_rating(PAD, Invite("A014", 3, "1024", "张晓明"))
                await pad.wait_for(lambda p: p.invite is not None and p.invite.ticket == "A014")
                bus.invite_rating(PAD, Invite("A014", 3, "1024", "张晓明", 60, "YC20***0004", "户口迁移"))
                await pad.wait_for(lambda p: p.invite.application == "YC20***0004")
                pad.rate(2)
                await until(lambda: [r.ticket for _, r in hall.ratings] == ["A012", "A014"])

    run(scenario)


# ---------------------------------------------------------------- unplug and replug


def test_tcp_unplug_replug_marks_offline_then_online_and_resends_displays() -> None:
    async def scenario() -> None:
        kp, disp, pad = sim_devices()
        hall = Hall()
        async with SimBus([kp, disp, pad]) as sim:
            await sim.serve_tcp()
            async with make_bus(sim.url, hall) as bus:
                bus.set_display(DISPLAY, ["A001", "请到1号窗口"], paused=True)
                await disp.wait_for(lambda d: d.lines == ("A001", "请到1号窗口") and d.paused)
                await until(lambda: all(bus.online(a) for a in (KEYPAD, DISPLAY, PAD)))
                await polled_again(disp)
                acted, online = len(disp.history), len(hall.states)

                await sim.unplug()
                await until(lambda: not any(bus.online(a) for a in (KEYPAD, DISPLAY, PAD)))
                disp.lines, disp.paused = (), False  # the display lost power meanwhile
                await until(lambda: bus.stats.open_failures >= 2)  # the master keeps retrying the closed port
                await sim.replug()

                await disp.wait_for(lambda d: d.lines == ("A001", "请到1号窗口") and d.paused)
                await polled_again(disp)
                assert len(disp.history) == acted + 2
                await until(lambda: all(bus.online(a) for a in (KEYPAD, DISPLAY, PAD)))
                for address in (KEYPAD, DISPLAY, PAD):
                    assert [s for a, s in hall.states[online:] if a == address] == [False, True]
                assert bus.stats.opens == 2 and bus.stats.open_failures >= 1
                kp.press(KeyEvent(Key.RESUME))
                await kp.wait_for(lambda k: k.acked)
                assert hall.keys == [(KEYPAD, KeyEvent(Key.RESUME))]

    run(scenario)


def test_missing_device_is_reported_offline() -> None:
    async def scenario() -> None:
        hall = Hall()
        async with SimBus([PolledDisplay(DISPLAY)]) as sim:
            await sim.serve_tcp()
            devices = [(DISPLAY, DeviceType.DISPLAY), (9, DeviceType.KEYPAD)]
            async with make_bus(sim.url, hall, devices) as bus:
                await until(lambda: bus.online(DISPLAY) and bus.online(9) is False)
                assert bus.identity(DISPLAY) is not None and bus.identity(DISPLAY).device_type is DeviceType.DISPLAY
                assert (9, True) not in hall.states

    run(scenario)


needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")


@needs_socat
def test_pty_pair_end_to_end_with_unplug(tmp_path: Path) -> None:
    async def scenario() -> None:
        kp, disp, pad = sim_devices()
        hall = Hall()
        cable = SocatPair(tmp_path)
        cable.start()
        try:
            async with SimBus([kp, disp, pad], seed=5) as sim:
                await sim.attach_serial(str(cable.device_path))
                async with make_bus(str(cable.master_path), hall) as bus:
                    await until(lambda: all(bus.online(a) for a in (KEYPAD, DISPLAY, PAD)))
                    bus.set_display(DISPLAY, ["C101", "请到2号窗口"])
                    sim.inject(Fault.DROP, match=is_cmd(Cmd.KEY_EVENT))
                    sim.inject(Fault.CORRUPT, match=is_cmd(Cmd.KEY_EVENT))
                    sim.inject(Fault.DUPLICATE, match=is_cmd(Cmd.KEY_EVENT))
                    kp.press(KeyEvent(Key.CALL_NEXT))
                    await kp.wait_for(lambda k: k.acked)
                    await disp.wait_for(lambda d: d.lines == ("C101", "请到2号窗口"))
                    assert hall.keys == [(KEYPAD, KeyEvent(Key.CALL_NEXT))]

                    bus.invite_rating(PAD, Invite("C101", 2, "2048", "王芳"))
                    await pad.wait_for(lambda p: p.invite is not None)
                    pad.rate(2)
                    await pad.wait_for(lambda p: p.acked)
                    assert hall.ratings == [(PAD, Rating("C101", 2))]

                    await polled_again(disp)
                    acted, online = len(disp.history), len(hall.states)
                    cable.kill()
                    await until(lambda: not any(bus.online(a) for a in (KEYPAD, DISPLAY, PAD)))
                    cable.start()
                    await disp.wait_for(lambda d: len(d.history) > acted)
                    assert disp.lines == ("C101", "请到2号窗口")
                    await until(lambda: all(bus.online(a) for a in (KEYPAD, DISPLAY, PAD)))
                    assert [s for a, s in hall.states[online:] if a == DISPLAY] == [False, True]
                    await polled_again(kp, pad)  # polled since the replug: nothing reported again
                    assert len(hall.keys) == 1 and len(hall.ratings) == 1
        finally:
            cable.kill()

    run(scenario)


def test_broadcast_acts_once_and_is_never_answered() -> None:
    display = SimDisplay(4)
    frame = Frame(BROADCAST, 9, Cmd.DISPLAY_BRIGHTNESS, encode_brightness(20))
    assert display.handle(frame) is None and display.brightness == 20
    display.brightness = 50
    assert display.handle(frame) is None and display.brightness == 50  # a repeated broadcast SEQ
