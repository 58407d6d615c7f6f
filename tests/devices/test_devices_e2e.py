"""Devices in the running controller: keypad → call → display → voice → pad rating, over real ptys and
loopback sockets with faults injected; printers; unplug/replug; the [devices] section; the demo server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import tomli_w

from drivers.bus import BusTiming
from drivers.escpos_decode import decode_text
from drivers.printer_sim import PrinterSimulator
from drivers.protocol import Cmd, Frame, Key, KeyEvent, Outcome
from drivers.simulators import Fault, SimBus, SimDisplay, SimKeypad, SimPad, SocatPair
from drivers.voice import RecordingSink, has_sound_card
from hall_controller.app import load_config, open_ledger
from hall_controller.config_loader import ConfigError, Table
from hall_controller.core.service import HallService
from hall_controller.features.devices import settings as devices_config
from hall_controller.features.devices import voice as voice_module
from hall_controller.features.devices.displays import followed, sign_of, window_of
from hall_controller.features.devices.hub import DeviceHub
from hall_controller.features.devices.printers import window_ranges
from hall_controller.features.devices.settings import (
    BusSpec,
    DeviceSettings,
    DeviceSpec,
    PrinterSpec,
    VoiceSettings,
    VoiceZone,
)
from tests.conftest import DEMO_CONFIG, DEMO_KIOSK, ROOT, ServerProcess
from tests.factory import small_hall

FAST = BusTiming(reply_timeout=0.05, keypad_idle_poll=0.02, keypad_active_poll=0.01, pad_poll=0.02, heartbeat=0.3,
                 offline_probe=0.1, backoff_max=0.3)
KEYPAD, DISPLAY, PAD = 1, 11, 21
WINDOW_1 = (DeviceSpec(KEYPAD, "keypad", "1"), DeviceSpec(DISPLAY, "display", "1"), DeviceSpec(PAD, "pad", "1"))
NO_VOICE = VoiceSettings(enabled=False)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 60))


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def reply_to(cmd: Cmd, addr: int | None = None) -> Callable[[Frame], bool]:
    return lambda f: f.command == cmd and (addr is None or f.addr == addr)


def events(service, type_: str) -> list[dict]:
    return [json.loads(r[0]) for r in service.ledger.query("SELECT data FROM events WHERE type = ? ORDER BY seq", (type_,))]


class GateSink(RecordingSink):
    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def play(self, utterance, wav: bytes) -> None:
        self.gate.wait(10)
        super().play(utterance, wav)


def window_1_devices() -> tuple[SimKeypad, SimDisplay, SimPad]:
    return SimKeypad(KEYPAD), SimDisplay(DISPLAY), SimPad(PAD)


@pytest.fixture(params=["as implemented", "on a worker thread"])
def commands(request, monkeypatch) -> None:
    """`HallService.call` as it is, and running the command on a worker thread (context copied), as a group
    commit may: device code must work with either."""
    if request.param == "on a worker thread":
        async def call(self, fn, /, *args, **kwargs):
            return await asyncio.to_thread(fn, *args, **kwargs)

        monkeypatch.setattr(HallService, "call", call)


# ---------------------------------------------------------------------- the whole path, with faults


@pytest.mark.parametrize("transport", ["pty", "socket"])
def test_keypad_call_shows_speaks_and_rating_is_stored_despite_faults(service, tmp_path, transport, commands) -> None:
    async def scenario() -> None:
        kp, disp, pad = window_1_devices()
        sim = SimBus([kp, disp, pad], seed=7)
        cable = SocatPair(tmp_path / "cable")
        if transport == "pty":
            cable.master_path.parent.mkdir()
            cable.start()
            await sim.attach_serial(str(cable.device_path))
            port = str(cable.master_path)
        else:
            await sim.serve_tcp()
            port = sim.url
        sink = RecordingSink()
        settings = DeviceSettings(buses=(BusSpec("bus1", port, 9600, WINDOW_1),), voice=VoiceSettings(repeats=1))
        hub = DeviceHub(service, settings, mode="config", var_dir=tmp_path, sink=sink, timing=FAST)
        await hub.start()
        try:
            ticket = service.issue_ticket("S1", "kiosk")
            await until(lambda: all(s.online for s in hub.buses["bus1"].status.values()))

            kp.press(KeyEvent(Key.CALL_NEXT))  # before signing in on the keypad: refused with a reason
            await kp.wait_for(lambda k: not k.pending)
            assert kp.lcd == "请先在窗口签到。"
            kp.press(KeyEvent(Key.SIGN_IN, staff_id="S001", pin="1234"))
            await disp.wait_for(lambda d: d.lines == ("1号综合窗口", "员工1 工号 S001"))
            await kp.wait_for(lambda k: k.lcd == "签到成功\n员工1")

            # the report of "call next" is lost twice, then duplicated, split into pieces and preceded by line
            # noise with a false header; an ack is corrupted, one split, one late and one poll unheard
            sim.inject(Fault.DROP, count=2, match=reply_to(Cmd.KEY_EVENT))
            sim.inject(Fault.DUPLICATE, count=2, match=reply_to(Cmd.KEY_EVENT))
            sim.inject(Fault.SPLIT, count=2, match=reply_to(Cmd.KEY_EVENT))
            sim.inject(Fault.NOISE, count=2, match=reply_to(Cmd.KEY_EVENT))
            sim.inject(Fault.CORRUPT, count=1, match=reply_to(Cmd.ACK, KEYPAD))
            sim.inject(Fault.SPLIT, count=1, match=reply_to(Cmd.ACK, DISPLAY))
            sim.inject(Fault.LATE, count=1, match=reply_to(Cmd.ACK, DISPLAY))
            sim.inject(Fault.DEAF, count=1, match=lambda f: f.addr == KEYPAD and f.command == Cmd.POLL)
            kp.press(KeyEvent(Key.CALL_NEXT))
            await disp.wait_for(lambda d: d.lines == ("A001", "员工1"))
            await kp.wait_for(lambda k: not k.pending and k.lcd == "已呼叫 A001")
            assert [e["ticket"]["id"] for e in events(service, "ticket.called")] == [ticket["id"]]  # no double call

            await hub.voice.drain()
            spoken = [(u.number, u.window_number, u.text, u.speech) for u in sink.utterances]
            assert spoken == [("A001", 1, "请A 零零一号到一号窗口办理", True)]

            # finishing invites the pad; the rating's report is lost, duplicated and late, its ack unheard
            sim.inject(Fault.DROP, count=1, match=reply_to(Cmd.PAD_RESULT))
            sim.inject(Fault.DUPLICATE, count=1, match=reply_to(Cmd.PAD_RESULT))
            sim.inject(Fault.LATE, count=1, match=reply_to(Cmd.PAD_RESULT))
            sim.inject(Fault.DEAF, count=1, match=lambda f: f.addr == PAD and f.command == Cmd.POLL and f.payload != b"\0\0")
            kp.press(KeyEvent(Key.FINISH, outcome=Outcome.IMMEDIATE))
            await pad.wait_for(lambda p: p.invite is not None)
            assert (pad.invite.ticket, pad.invite.window, pad.invite.staff_id, pad.invite.staff_name) == ("A001", 1, "S001", "员工1")
            await disp.wait_for(lambda d: d.lines == ("1号综合窗口", "员工1 工号 S001"))
            pad.rate(2)
            await pad.wait_for(lambda p: not p.pending and p.acked)
            rows = service.ledger.query("SELECT ticket_id, window_id, staff_id, level, channel FROM ratings")
            assert [tuple(r) for r in rows] == [(ticket["id"], "1", "S001", 2, "pad")]  # once, not lost
            stats = hub.buses["bus1"].master.stats
            assert stats.retries >= 1 and stats.stale_frames >= 1 and stats.parser.crc_errors >= 1
            assert stats.parser.dropped_bytes >= 1  # the noise, skipped
            assert sum(r.fired for r in sim.faults if r.kind in (Fault.SPLIT, Fault.NOISE)) == 5
        finally:
            await hub.stop()
            await sim.close()
            cable.kill()

    run(scenario)


def test_next_key_finishes_then_calls_and_a_recall_merges_in_the_voice_queue(service, tmp_path) -> None:
    async def scenario() -> None:
        kp, disp, pad = window_1_devices()
        async with SimBus([kp, disp, pad], line_timing=False) as sim:
            await sim.serve_tcp()
            sink = GateSink()  # holds the first utterance "playing" so the recall finds its call still queued
            settings = DeviceSettings(buses=(BusSpec("bus1", sim.url, 9600, WINDOW_1),), voice=VoiceSettings(repeats=2))
            hub = DeviceHub(service, settings, mode="config", var_dir=tmp_path, sink=sink, timing=FAST)
            await hub.start()
            try:
                first, second = service.issue_ticket("S1", "kiosk"), service.issue_ticket("S2", "kiosk")
                kp.press(KeyEvent(Key.SIGN_IN, staff_id="S001", pin="1234"))
                kp.press(KeyEvent(Key.CALL_NEXT))
                kp.press(KeyEvent(Key.RECALL))
                await kp.wait_for(lambda k: not k.pending, timeout=10)
                assert kp.lcd == "已重呼 A001"
                kp.press(KeyEvent(Key.NEXT, outcome=Outcome.CONSULT))
                await disp.wait_for(lambda d: d.lines[:1] == ("A002",))
                await kp.wait_for(lambda k: not k.pending and k.lcd == "已办结 A001\n已呼叫 A002")
                assert service.ticket(first["id"])["outcome"] == "consult"
                assert service.ticket(second["id"])["status"] == "called"
                sink.gate.set()
                await hub.voice.drain()
                # the recall merged into the queued call; A001 was finished before its repeat: withdrawn, never said
                assert [u.number for u in sink.utterances] == ["A001", "A002", "A002"]
                stats = hub.voice.announcers["hall"].stats
                assert stats.merged == 1 and stats.withdrawn == 1
                kp.press(KeyEvent(Key.SKIP))
                kp.press(KeyEvent(Key.PAUSE))
                await disp.wait_for(lambda d: d.paused)
                kp.press(KeyEvent(Key.RESUME))
                kp.press(KeyEvent(Key.SIGN_OUT))
                await disp.wait_for(lambda d: d.lines == () and not d.paused)
                await kp.wait_for(lambda k: k.lcd == "已签离")
                kp.press(KeyEvent(Key.CALL_NEXT))  # the keypad's sign-in ended with the sign-out
                await kp.wait_for(lambda k: not k.pending)
                assert kp.lcd == "请先在窗口签到。"
            finally:
                await hub.stop()

    run(scenario)


def test_a_window_display_knows_its_window_from_the_events_alone(service) -> None:
    """Folding each command's events into the display's sign gives, after every command, what the window's
    state says: a call, recall, stand-in takeover (替岗) with the ticket, finish, skip, transfers, pause, sign-out,
    closing and reopening."""
    windows = [w.id for w in service.config.windows]
    signs = {w: sign_of(service.window_view(w)) for w in windows}
    published: list[dict] = []
    service.bus.listen(published.append)
    for s in ("S1", "S1", "S2", "S1", "B1", "S2"):
        service.issue_ticket(s, "kiosk")
    steps = [
        lambda: service.sign_in("1", "S001", "1234"),
        lambda: service.sign_in("2", "S002", "1234"),
        lambda: service.window_command("1", "call-next"),
        lambda: service.window_command("1", "recall"),
        lambda: service.window_command("1", "start"),
        lambda: service.sign_in("1", "S003", "1234"),
        lambda: service.window_command("1", "finish"),
        lambda: service.window_command("1", "call-next"),
        lambda: service.window_command("1", "skip"),
        lambda: service.window_command("1", "call-next"),
        lambda: service.window_command("1", "transfer", target_window_id="2"),
        lambda: service.window_command("2", "call-next"),
        lambda: service.window_command("2", "transfer", category_id="business"),
        lambda: service.window_command("1", "pause"),
        lambda: service.window_command("1", "resume"),
        lambda: service.window_command("1", "sign-out"),
        lambda: service.execute(lambda now: service.hall.close_window("2", now, "manager")),
        lambda: service.execute(lambda now: service.hall.open_window("2", now, "manager")),
    ]
    for step in steps:
        step()
        for event in published:
            window_id = window_of(event["type"], event["data"])
            if window_id is not None:
                signs[window_id] = followed(signs[window_id], event["type"], event["data"])
        published.clear()
        assert signs == {w: sign_of(service.window_view(w)) for w in windows}
    assert signs["1"].state == "signed_out" and signs["2"].state == "signed_out"


class AckDeafKeypad(SimKeypad):
    """Hears no acknowledgement while `deaf`: its event stays pending, as when the controller dies between
    acting on it and acknowledging it."""

    deaf = False

    def _poll(self, frame: Frame, ack: int) -> Frame:
        return super()._poll(frame, 0 if self.deaf else ack)


def test_an_event_re_reported_after_a_controller_restart_acts_once_and_the_keypad_stays_signed_in(
        service, clock, tmp_path, commands) -> None:
    async def scenario() -> None:
        kp, disp = AckDeafKeypad(KEYPAD), SimDisplay(DISPLAY)
        devices = WINDOW_1[:2]
        async with SimBus([kp, disp], line_timing=False) as sim:
            await sim.serve_tcp()
            settings = DeviceSettings(buses=(BusSpec("bus1", sim.url, 9600, devices),), voice=NO_VOICE)
            services = [service]

            def restarted() -> DeviceHub:  # a new controller over the same database
                services.append(HallService(small_hall(), open_ledger(service.ledger.path), clock))
                return DeviceHub(services[-1], settings, mode="config", var_dir=tmp_path, timing=FAST)

            hub = DeviceHub(service, settings, mode="config", var_dir=tmp_path, timing=FAST)
            await hub.start()
            try:
                first, second = service.issue_ticket("S1", "kiosk"), service.issue_ticket("S2", "kiosk")
                kp.press(KeyEvent(Key.SIGN_IN, staff_id="S001", pin="1234"))
                await kp.wait_for(lambda k: not k.pending)

                for key, called in ((KeyEvent(Key.CALL_NEXT), [first]),
                                    (KeyEvent(Key.NEXT, outcome=Outcome.IMMEDIATE), [first, second])):
                    kp.deaf = True
                    kp.press(key)
                    await until(lambda: len(events(services[-1], "ticket.called")) == len(called))
                    await until(lambda: hub.buses["bus1"].master.stats.duplicate_events > 0)  # reported again
                    await hub.stop()
                    assert kp.pending  # handled, never acknowledged
                    hub = restarted()
                    await hub.start()
                    # the new master answers the re-reported event from the stored verdict (still unheard)
                    await until(lambda: hub.buses["bus1"].master.stats.duplicate_events > 0)
                    kp.deaf = False
                    await kp.wait_for(lambda k: not k.pending)
                    assert not kp.rejected
                    assert [e["ticket"]["id"] for e in events(services[-1], "ticket.called")] == [t["id"] for t in called]
                assert [e["ticket"]["id"] for e in events(services[-1], "ticket.finished")] == [first["id"]]

                kp.press(KeyEvent(Key.RECALL))  # no PIN again: the keypad's sign-in outlived both restarts
                await kp.wait_for(lambda k: not k.pending and k.lcd == "已重呼 A002")
                await disp.wait_for(lambda d: d.lines == ("A002", "员工1"))

                services[-1].window_command("1", "skip")
                services[-1].window_command("1", "sign-out")  # signed out elsewhere: the keypad's sign-in ends
                kp.press(KeyEvent(Key.CALL_NEXT))
                await kp.wait_for(lambda k: not k.pending)
                assert kp.lcd == "您已签离或被替岗，请重新签到。"
            finally:
                await hub.stop()
                for svc in services[1:]:
                    svc.ledger.close()

    run(scenario)


def test_unplugged_bus_goes_offline_and_comes_back_with_displays_resent(service, tmp_path) -> None:
    async def scenario() -> None:
        kp, disp, pad = window_1_devices()
        async with SimBus([kp, disp, pad], line_timing=False) as sim:
            await sim.serve_tcp()
            settings = DeviceSettings(buses=(BusSpec("bus1", sim.url, 9600, WINDOW_1),), voice=NO_VOICE)
            hub = DeviceHub(service, settings, mode="config", var_dir=tmp_path, timing=FAST)
            await hub.start()
            try:
                await until(lambda: len(events(service, "device.online")) == 3)
                service.sign_in("1", "S001", "1234")
                await disp.wait_for(lambda d: d.lines == ("1号综合窗口", "员工1 工号 S001"))
                shown = len(disp.history)
                await sim.unplug()
                await until(lambda: len(events(service, "device.offline")) == 3)
                offline = events(service, "device.offline")
                assert {e["device_id"] for e in offline} == {"bus1:1", "bus1:11", "bus1:21"}
                assert {(e["kind"], e["window_id"], e["bus"]) for e in offline} == {
                    ("keypad", "1", "bus1"), ("display", "1", "bus1"), ("pad", "1", "bus1")}
                snapshot = hub.snapshot()
                assert [d["online"] for d in snapshot["devices"]] == [False, False, False]
                await sim.replug()
                await until(lambda: len(events(service, "device.online")) == 6)
                await disp.wait_for(lambda d: len(d.history) > shown)  # the display's state was sent again
                assert disp.lines == ("1号综合窗口", "员工1 工号 S001")
            finally:
                await hub.stop()
        assert len(events(service, "device.offline")) == 3  # stopping the hub is not a device failure

    run(scenario)


def test_display_brightness_from_the_config_is_sent_at_start_and_again_after_a_replug(service, tmp_path) -> None:
    async def scenario() -> None:
        disp, other = SimDisplay(DISPLAY), SimDisplay(DISPLAY + 1)
        async with SimBus([disp, other], line_timing=False) as sim:
            await sim.serve_tcp()
            devices = (DeviceSpec(DISPLAY, "display", "1", brightness=40), DeviceSpec(DISPLAY + 1, "display", "2"))
            settings = DeviceSettings(buses=(BusSpec("bus1", sim.url, 9600, devices),), voice=NO_VOICE)
            hub = DeviceHub(service, settings, mode="config", var_dir=tmp_path, timing=FAST)
            await hub.start()
            try:
                await disp.wait_for(lambda d: d.brightness == 40)
                await until(lambda: hub.buses["bus1"].status[DISPLAY + 1].online)
                assert other.brightness == 100  # unset: the display keeps its own
                await sim.unplug()
                await until(lambda: hub.buses["bus1"].status[DISPLAY].online is False)
                disp.brightness = 100  # power-cycled while unplugged
                await sim.replug()
                await disp.wait_for(lambda d: d.brightness == 40)
            finally:
                await hub.stop()

    run(scenario)


def test_the_hub_builds_its_announcer_with_the_voice_settings(service, tmp_path, monkeypatch) -> None:
    built = {}

    class Recorded:
        def __init__(self, sink, **kwargs) -> None:
            built.update(kwargs)

        async def start(self) -> None:
            pass

        async def close(self) -> None:
            pass

    monkeypatch.setattr(voice_module, "Announcer", Recorded)
    voice = VoiceSettings(repeats=3, segmented=True, max_backlog=9, max_delay_s=20)

    async def scenario() -> None:
        hub = DeviceHub(service, DeviceSettings(voice=voice), mode="config", var_dir=tmp_path, sink=RecordingSink())
        await hub.start()
        await hub.stop()

    run(scenario)
    assert built == {"template": voice.template, "repeats": 3, "max_backlog": 9, "segmented": True,
                     "max_delay_s": 20}


def test_pty_unplugged_mid_call_and_replugged_resends_the_display_and_acts_once(service, tmp_path) -> None:
    async def scenario() -> None:
        kp, disp = AckDeafKeypad(KEYPAD), SimDisplay(DISPLAY)
        cable = SocatPair(tmp_path / "cable")
        cable.master_path.parent.mkdir()
        cable.start()
        sim = SimBus([kp, disp], seed=3)
        await sim.attach_serial(str(cable.device_path))
        settings = DeviceSettings(buses=(BusSpec("bus1", str(cable.master_path), 9600, WINDOW_1[:2]),), voice=NO_VOICE)
        hub = DeviceHub(service, settings, mode="config", var_dir=tmp_path, timing=FAST)
        await hub.start()
        try:
            ticket = service.issue_ticket("S1", "kiosk")
            kp.press(KeyEvent(Key.SIGN_IN, staff_id="S001", pin="1234"))
            await disp.wait_for(lambda d: d.lines == ("1号综合窗口", "员工1 工号 S001"))
            await kp.wait_for(lambda k: not k.pending)

            # the call is made, but neither its acknowledgement nor the new display text gets through
            kp.deaf = True
            sim.inject(Fault.DEAF, count=None, match=lambda f: f.addr == DISPLAY and f.command == Cmd.DISPLAY_TEXT)
            kp.press(KeyEvent(Key.CALL_NEXT))
            await until(lambda: len(events(service, "ticket.called")) == 1)
            cable.kill()
            await until(lambda: len(events(service, "device.offline")) == 2)
            assert disp.lines == ("1号综合窗口", "员工1 工号 S001") and kp.pending
            sim.clear_faults()
            kp.deaf = False
            disp.lines = ()  # the display lost power with the cable

            cable.start()
            await disp.wait_for(lambda d: d.lines == ("A001", "员工1"), timeout=10)  # its state sent again
            await kp.wait_for(lambda k: not k.pending, timeout=10)
            await until(lambda: len(events(service, "device.online")) == 4)
            assert [e["ticket"]["id"] for e in events(service, "ticket.called")] == [ticket["id"]]  # once
            assert not kp.rejected and hub.buses["bus1"].master.stats.opens >= 2
        finally:
            await hub.stop()
            await sim.close()
            cable.kill()

    run(scenario)


# ---------------------------------------------------------------------- printers


def test_printer_out_of_paper_is_reported_and_the_ticket_kept(service, tmp_path) -> None:
    async def scenario() -> None:
        with PrinterSimulator() as printer:
            printer.paper = "out"
            settings = DeviceSettings(printers=(PrinterSpec("P1", printer.url, 80, True),), voice=NO_VOICE)
            hub = DeviceHub(service, settings, mode="config", var_dir=tmp_path)
            await hub.start()
            try:
                view = service.issue_ticket("S1", "kiosk")
                view["status_url"] = f"http://hall.example/t/{view['token']}"  # added at the HTTP edge
                result = await hub.print_ticket("P1", view)
                assert result == {"ok": False, "code": "paper_out", "message": "打印纸已用完，请更换纸卷"}
                assert service.ticket(view["id"])["status"] == "waiting"  # committed before printing
                await until(lambda: any(e["paper"] == "out" for e in events(service, "printer.status")))
                assert events(service, "printer.status")[-1] == {
                    "printer_id": "P1", "paper": "out", "online": False, "error": None}

                printer.paper = "near_end"
                result = await hub.print_ticket("P1", view)
                assert result["ok"] and result["message"] == "已打印；打印纸即将用完，请准备更换"
                await until(lambda: events(service, "printer.status")[-1]["paper"] == "near_end")
                text = decode_text(printer.wait_for_jobs(1)[0])
                for expected in ("测试大厅", "A001", "户籍迁移", "社会事务", "请留意 1-3 号窗口",
                                 view["wait_text"].split("，")[0], f"[QR:{view['status_url']}]", "居民身份证", "2026-11-23 10:00"):
                    assert expected in text
                assert "–" not in text  # the en dash is not GB2312: a plain hyphen on paper
                assert hub.snapshot()["printers"][0]["paper"] == "near_end"
            finally:
                await hub.stop()

    run(scenario)


def test_window_ranges() -> None:
    assert window_ranges([1, 2, 3, 4, 7]) == "1–4、7"
    assert window_ranges([3, 1]) == "1、3"
    assert window_ranges([5, 6, 9]) == "5、6、9"


# ---------------------------------------------------------------------- the [devices] section


def parse_devices(data: dict) -> DeviceSettings:
    return devices_config.parse(Table("hall.toml", "devices", data, (), check=False), small_hall())


@pytest.mark.parametrize("data, key, reason", [
    ({"buses": [{"id": "b", "port": "sim", "devices": [{"address": 1, "kind": "keypad", "window": "1"},
                                                       {"address": 1, "kind": "display", "window": "1"}]}]},
     "devices.buses[id=b].devices[1].address", "used twice"),
    ({"buses": [{"id": "b", "port": "sim", "devices": [{"address": 1, "kind": "keypad", "window": "77"}]}]},
     "devices.buses[id=b].devices[0].window", "unknown window"),
    ({"buses": [{"id": "b", "port": "sim", "devices": [{"address": 1, "kind": "keypad", "window": "1"}]},
                {"id": "c", "port": "sim", "devices": [{"address": 1, "kind": "keypad", "window": 1}]}]},
     "devices.buses[id=c].devices[0].window", "already has a keypad"),
    ({"buses": [{"id": "b", "port": "COM3", "devices": [{"address": 1, "kind": "keypad", "window": "1"}]}]},
     "devices.buses[id=b].port", "socket://"),
    ({"buses": [{"id": "b", "port": "sim", "devices": [{"address": 248, "kind": "keypad", "window": "1"}]}]},
     "devices.buses[id=b].devices[0].address", "between 1 and 247"),
    ({"buses": [{"id": "b", "port": "sim", "devices": [{"address": 1, "kind": "printer", "window": "1"}]}]},
     "devices.buses[id=b].devices[0].kind", "keypad, display, pad"),
    ({"buses": [{"id": "b", "port": "sim", "baud": 9601, "devices": [{"address": 1, "kind": "pad", "window": "1"}]}]},
     "devices.buses[id=b].baud", "9600"),
    ({"printers": [{"id": "P1", "connection": "lpt1"}]}, "devices.printers[id=P1].connection", "socket://HOST:PORT"),
    ({"printers": [{"id": "P1", "connection": "sim", "paper_width": 76}]}, "devices.printers[id=P1].paper_width", "80 or 58"),
    ({"printers": [{"id": "P1", "connection": "sim", "status": "esc_v"}]}, "devices.printers[id=P1].status", "auto, dle_eot, gs_r"),
    ({"voice": {"template": "请{number}号"}}, "devices.voice.template", "{window}"),
    ({"voice": {"output": "speaker"}}, "devices.voice.output", "auto, wav, none"),
    ({"voice": {"volume": 3}}, "devices.voice.volume", "unknown key"),
    ({"voice": {"max_backlog": 0}}, "devices.voice.max_backlog", "between 1 and 100"),
    ({"voice": {"segmented": "yes"}}, "devices.voice.segmented", "true or false"),
    ({"voice": {"max_delay_s": 0}}, "devices.voice.max_delay_s", "greater than 0"),
    ({"voice": {"zones": [{"id": "a", "windows": ["1", "77"]}]}}, "devices.voice.zones[0].windows", "unknown window"),
    ({"voice": {"zones": [{"id": "a", "windows": ["1"]}, {"id": "b", "windows": [1]}]}},
     "devices.voice.zones[1].windows", "already in zone a"),
    ({"voice": {"zones": [{"id": "a"}, {"id": "b"}]}}, "devices.voice.zones[1].windows", "only one zone"),
    ({"voice": {"zones": [{"id": "a", "windows": ["1", "2"]}]}}, "devices.voice.zones", "are in no zone"),
    ({"buses": [{"id": "b", "port": "sim", "devices": [{"address": 1, "kind": "keypad", "window": "1", "brightness": 50}]}]},
     "devices.buses[id=b].devices[0].brightness", "only a display"),
    ({"buses": [{"id": "b", "port": "sim", "devices": [{"address": 1, "kind": "display", "window": "1", "brightness": 101}]}]},
     "devices.buses[id=b].devices[0].brightness", "between 0 and 100"),
])
def test_devices_section_errors_name_the_key(data, key, reason) -> None:
    with pytest.raises(ConfigError) as err:
        parse_devices(data)
    assert err.value.key == key and reason in err.value.reason


def test_speaker_zones_from_the_config_round_trip_through_the_document() -> None:
    """[[devices.voice.zones]]: windows listed per zone, the rest in the zone without a list; the section
    parses again from its own TOML (the config is a document the admin pages edit and write back)."""
    data = {"voice": {"max_delay_s": 20, "zones": [{"id": "east", "windows": ["1", 2], "device": "plughw:1"},
                                                   {"id": "west"}]}}
    voice_settings = parse_devices(data).voice
    assert voice_settings.zones == (VoiceZone("east", ("1", "2"), "plughw:1"), VoiceZone("west"))
    assert voice_settings.max_delay_s == 20
    assert voice_settings.zone_of("2").id == "east" and voice_settings.zone_of("9").id == "west"
    again = parse_devices(tomllib.loads(tomli_w.dumps(data)))
    assert again.voice == voice_settings
    assert parse_devices({}).voice.zones == (VoiceZone("hall"),)


def test_each_zone_announces_its_own_windows_and_a_finished_call_is_withdrawn(service, tmp_path) -> None:
    """Two zones, two announcers: window 1's calls go to east, window 2's to west, in parallel; a call whose
    ticket is finished before its turn is never said."""
    async def scenario() -> None:
        sink = GateSink()  # every zone's first utterance waits here until released
        zones = (VoiceZone("east", ("1",)), VoiceZone("west"))
        hub = DeviceHub(service, DeviceSettings(voice=VoiceSettings(repeats=1, zones=zones)), mode="config",
                        var_dir=tmp_path, sink=sink, timing=FAST)
        await hub.start()
        try:
            for _ in range(3):
                service.issue_ticket("S1", "kiosk")
            service.sign_in("1", "S001", "1234")
            service.window_command("1", "call-next")  # A001: east says it (held at the gate)
            await until(lambda: hub.voice.announcers["east"].stats.last_start_delay_s is not None)
            service.window_command("1", "finish")
            service.window_command("1", "call-next")  # A002: queued behind A001 in east …
            service.window_command("1", "finish")  # … and answered before its turn: withdrawn
            service.sign_in("2", "S002", "1234")
            service.window_command("2", "call-next")  # A003: west, in parallel with east
            await until(lambda: hub.voice.announcers["east"].stats.withdrawn == 1)
            sink.gate.set()
            await hub.voice.drain()
            assert sorted((u.number, u.window_number) for u in sink.utterances) == [("A001", 1), ("A003", 2)]
            east, west = hub.voice.announcers["east"].stats, hub.voice.announcers["west"].stats
            assert (east.spoken, east.withdrawn, west.spoken, west.withdrawn) == (1, 1, 1, 0)
            assert hub.snapshot()["voice"]["withdrawn"] == 1
        finally:
            await hub.stop()

    run(scenario)


def test_devices_section_defaults_and_values() -> None:
    settings = parse_devices({"buses": [{"id": "b", "port": "socket://127.0.0.1:4001",
                                         "devices": [{"address": 3, "kind": "display", "window": 9},
                                                     {"address": 4, "kind": "display", "window": 2, "brightness": 60}]}],
                              "printers": [{"id": "P1", "connection": "serial:/dev/ttyUSB0?baud=19200", "paper_width": 58},
                                           {"id": "P2", "connection": "sim", "status": "gs_r"}],
                              "voice": {"segmented": True, "max_backlog": 12}})
    assert settings.buses[0] == BusSpec("b", "socket://127.0.0.1:4001", 9600,
                                        (DeviceSpec(3, "display", "9"), DeviceSpec(4, "display", "2", 60)))
    assert settings.printers == (PrinterSpec("P1", "serial:/dev/ttyUSB0?baud=19200", 58, True, "auto"),
                                 PrinterSpec("P2", "sim", 80, True, "gs_r"))
    assert settings.voice == VoiceSettings(segmented=True, max_backlog=12)
    assert parse_devices({}) == DeviceSettings() and DeviceSettings().voice.max_backlog == 6


def test_demo_hall_gives_every_window_a_keypad_display_and_pad_on_small_buses() -> None:
    cfg = load_config(DEMO_CONFIG)
    settings: DeviceSettings = cfg.section("devices")
    kinds = {(d.window_id, d.kind) for bus in settings.buses for d in bus.devices}
    assert kinds == {(w.id, k) for w in cfg.windows for k in ("keypad", "display", "pad")}
    assert all(len(bus.devices) <= 12 and bus.port == "sim" for bus in settings.buses)
    assert [(p.id, p.connection) for p in settings.printers] == [("P1", "sim"), ("P2", "sim")]
    assert settings.voice.output == "auto"


# ---------------------------------------------------------------------- the demo server


@pytest.mark.slow
def test_demo_server_runs_simulated_devices_and_the_terminal_tool_drives_them(tmp_path) -> None:
    server = ServerProcess(tmp_path / "hall.db").start()
    try:
        http = httpx.Client(base_url=server.url, timeout=10)
        cfg = load_config(DEMO_CONFIG)
        staff = next(s for s in cfg.staff if "1" in s.windows)
        pin = _demo_pin(staff.id)

        def all_online() -> bool:
            snap = http.get("/api/devices").json()
            return len(snap["devices"]) == 63 and all(d["online"] for d in snap["devices"]) and all(
                p["paper"] == "ok" for p in snap["printers"])

        _wait(all_online)
        snap = http.get("/api/devices").json()
        assert {b["id"] for b in snap["buses"]} == {f"bus{n}" for n in range(1, 7)}
        assert snap["buses"][0]["stats"]["frames_ok"] > 0 and snap["voice"]["enabled"]

        pressed = http.post("/api/sim/keypads/1/press", json={"key": "sign_in", "staff_id": staff.id, "pin": pin}).json()
        assert pressed["handled"] and pressed["lcd"].startswith("签到成功")
        ticket = http.post("/api/tickets", headers=DEMO_KIOSK, json={"service_id": "hukou_move"}).json()
        called = http.post("/api/sim/keypads/1/press", json={"key": "call_next"}).json()
        assert called["lcd"] == f"已呼叫 {ticket['number']}"
        _wait(lambda: _window(http, "1")["display"]["lines"][:1] == [ticket["number"]])
        http.post("/api/sim/keypads/1/press", json={"key": "finish", "outcome": "即办件"})
        _wait(lambda: _window(http, "1")["pad"]["invite"] is not None)
        assert http.post("/api/sim/pads/1/rate", json={"level": 1}).json()["handled"]
        rated = [e for e in http.get("/api/events").json()["events"] if e["type"] == "rating.recorded"]
        assert len(rated) == 1 and http.post("/api/sim/pads/1/rate", json={"level": 1}).status_code == 409

        assert http.post("/api/printers/P1/test-print").status_code == 401
        token = http.post("/api/manager/sign-in", json={"manager_id": "manager", "password": "manager123"}).json()["token"]
        printed = http.post("/api/printers/P1/test-print", headers={"Authorization": f"Bearer {token}"}).json()
        assert printed == {"ok": True, "code": "ok", "message": "已打印"}
        logged = [e for e in http.get("/api/events").json()["events"] if e["type"] == "printer.test_printed"]
        assert logged[0]["data"]["by"] == "manager"
        assert http.post("/api/printers/P9/test-print", headers={"Authorization": f"Bearer {token}"}).status_code == 404

        tool = subprocess.run(
            [sys.executable, "-m", "hall_controller.cli", "devices", "--url", server.url],
            input="2 call\n2 signin nobody 1234\nshow\nquit\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert tool.returncode == 0, tool.stderr
        assert "呼叫器: 请先在窗口签到。" in tool.stdout and "呼叫器: 工号或密码错误。" in tool.stdout
        assert "[1号综合窗口] 窗口屏: 1号综合窗口 | " in tool.stdout
    finally:
        server.stop()
    if not has_sound_card():  # the call went to WAV files instead of the speakers
        wavs = list((tmp_path / "voice").glob("*/*.wav"))  # one folder per speaker zone
        assert wavs and all(w.stat().st_size > 44 for w in wavs)


def _demo_pin(staff_id: str) -> str:
    import tomllib

    data = tomllib.loads(Path(DEMO_CONFIG).read_text(encoding="utf-8"))
    return next(s["pin"] for s in data["staff"] if s["id"] == staff_id)


def _window(http: httpx.Client, window_id: str) -> dict:
    return next(w for w in http.get("/api/sim/devices").json()["windows"] if w["window_id"] == window_id)


def _wait(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)
