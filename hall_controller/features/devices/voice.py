"""The hall's voice (语音叫号): every call and recall announced, in the order of the hall's committed events, by
the `Announcer` of the window's speaker zone (one announcer per zone, `[[devices.voice.zones]]`), on its
speaker or, on a machine without sound, into a bounded folder of WAV files. A call is withdrawn from its
zone's queue as soon as its ticket is no longer being called (answered, finished, skipped, cancelled,
transferred), and none starts later than `max_delay_s` after its call."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from drivers.voice import (
    Announcer,
    AplaySink,
    Sink,
    Utterance,
    WavDirSink,
    has_sound_card,
    wav_seconds,
)
from hall_controller.core.service import HallService
from hall_controller.features.devices.settings import VoiceSettings

log = logging.getLogger(__name__)

ANNOUNCED = ("ticket.called", "ticket.recalled")


class BoundedWavSink(WavDirSink):
    """WAV files for machines without sound, keeping only the newest `keep` so the disk never fills.

    It stands in for the hall's speaker, so it takes the utterance's airtime as the speaker would (as
    `aplay` blocks): the announcer's backlog, merged recalls and dropped repeats then behave as in the
    hall, and speech is synthesised at the pace it can be heard, not as fast as calls come."""

    def __init__(self, directory: Path, keep: int) -> None:
        super().__init__(directory)
        self.keep = keep
        self._stopped = threading.Event()

    def play(self, utterance: Utterance, wav: bytes) -> None:
        super().play(utterance, wav)
        files = sorted(self.directory.glob("*.wav"), key=lambda p: p.stat().st_mtime_ns)
        for old in files[: -self.keep]:
            old.unlink(missing_ok=True)
        self._stopped.wait(wav_seconds(wav))

    def stop(self) -> None:
        """Cut the airtime short: the controller is shutting down."""
        self._stopped.set()


class Voice:
    """`sink`: where speech goes instead of the one the settings choose (tests); every zone shares it."""

    def __init__(self, service: HallService, settings: VoiceSettings, var_dir: Path, sink: Sink | None = None) -> None:
        self.settings, self.var_dir = settings, var_dir
        self.announcers: dict[str, Announcer] = {}  # zone id -> its announcer
        self._sink = sink
        self._wav_sinks: list[BoundedWavSink] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        service.bus.listen(self._on_event)

    async def start(self) -> None:
        if self._sink is None and (not self.settings.enabled or self.settings.output == "none"):
            return
        card = self._sink is None and self.settings.output == "auto" and await asyncio.to_thread(has_sound_card)
        base = Path(self.settings.wav_dir) if self.settings.wav_dir else self.var_dir / "voice"
        several = len(self.settings.zones) > 1
        for zone in self.settings.zones:
            sink = self._sink
            if sink is None and card:
                sink = AplaySink(zone.device or None)
            elif sink is None:
                wav = BoundedWavSink(base / zone.id if several else base, self.settings.keep_wav_files)
                self._wav_sinks.append(wav)
                sink = wav
            announcer = Announcer(sink, template=self.settings.template, repeats=self.settings.repeats,
                                  max_backlog=self.settings.max_backlog, segmented=self.settings.segmented,
                                  max_delay_s=self.settings.max_delay_s)
            await announcer.start()
            self.announcers[zone.id] = announcer
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._loop = None
        for wav in self._wav_sinks:
            wav.stop()
        for announcer in self.announcers.values():
            await announcer.close()
        self.announcers, self._wav_sinks = {}, []

    async def drain(self) -> None:
        """Wait until every zone has said everything queued (tests, demos)."""
        for announcer in list(self.announcers.values()):
            await announcer.drain()

    def _on_event(self, event: dict[str, Any]) -> None:
        # Called by the publishing command (on whichever thread committed it): the announcers are the loop's.
        if self._loop is None or not isinstance(event["data"].get("ticket"), dict):
            return
        if event["type"] in ANNOUNCED and event["data"].get("window_number"):
            self._loop.call_soon_threadsafe(self._announce, event["data"])
        elif event["data"]["ticket"].get("status") != "called":
            self._loop.call_soon_threadsafe(self._withdraw, event["data"]["ticket"]["id"])

    def _announce(self, data: dict[str, Any]) -> None:
        if self._loop is None:  # stopped meanwhile
            return
        ticket = data["ticket"]
        zone = self.settings.zone_of(str(data.get("window_id") or ticket.get("window_id")))
        announcer = self.announcers.get(zone.id) if zone else None
        if announcer is None:
            return
        try:
            announcer.announce(ticket["number"], data["window_number"], key=ticket["id"])
        except (ValueError, RuntimeError) as e:
            log.error("cannot announce %s: %s", ticket["number"], e)

    def _withdraw(self, ticket_id: str) -> None:
        # The ticket may have moved zones (transferred to another window): take it back everywhere.
        for announcer in self.announcers.values():
            announcer.withdraw(ticket_id)

    def view(self) -> dict[str, Any]:
        if not self.announcers:
            return {"enabled": False}
        stats = {zid: a.stats for zid, a in self.announcers.items()}
        total = {k: sum(getattr(s, k) for s in stats.values())
                 for k in ("queued", "spoken", "merged", "dropped_repeats", "withdrawn", "expired", "failed")}
        errors = [s.last_error for s in stats.values() if s.last_error]
        return {"enabled": True, **total, "last_error": errors[-1] if errors else None,
                "zones": {zid: {"queued": s.queued, "spoken": s.spoken, "withdrawn": s.withdrawn,
                                "expired": s.expired, "last_start_delay_s": s.last_start_delay_s}
                          for zid, s in stats.items()}}
