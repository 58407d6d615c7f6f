"""The hall's voice (语音叫号): every call and recall announced through one `Announcer`, in the order of the
hall's committed events, on the speaker or, on a machine without sound, into a bounded folder of WAV files."""

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
    """`sink`: where speech goes instead of the one the settings choose (tests)."""

    def __init__(self, service: HallService, settings: VoiceSettings, var_dir: Path, sink: Sink | None = None) -> None:
        self.settings, self.var_dir = settings, var_dir
        self.announcer: Announcer | None = None
        self._sink = sink
        self._wav_sink: BoundedWavSink | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        service.bus.listen(self._on_event)

    async def start(self) -> None:
        sink = self._sink
        if sink is None:
            if not self.settings.enabled or self.settings.output == "none":
                return
            wav_dir = Path(self.settings.wav_dir) if self.settings.wav_dir else self.var_dir / "voice"
            if self.settings.output == "auto" and await asyncio.to_thread(has_sound_card):
                sink = AplaySink()
            else:
                sink = self._wav_sink = BoundedWavSink(wav_dir, self.settings.keep_wav_files)
        self.announcer = Announcer(sink, template=self.settings.template, repeats=self.settings.repeats,
                                   max_backlog=self.settings.max_backlog, segmented=self.settings.segmented)
        await self.announcer.start()
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        self._loop = None
        if self._wav_sink is not None:
            self._wav_sink.stop()
        if self.announcer is not None:
            await self.announcer.close()

    def _on_event(self, event: dict[str, Any]) -> None:
        # Called by the publishing command (on whichever thread committed it): the announcer is the loop's.
        if self._loop is not None and event["type"] in ANNOUNCED and event["data"].get("window_number"):
            self._loop.call_soon_threadsafe(self._announce, event["data"])

    def _announce(self, data: dict[str, Any]) -> None:
        if self._loop is None or self.announcer is None:  # stopped meanwhile
            return
        ticket = data["ticket"]
        try:
            self.announcer.announce(ticket["number"], data["window_number"], key=ticket["id"])
        except (ValueError, RuntimeError) as e:
            log.error("cannot announce %s: %s", ticket["number"], e)

    def view(self) -> dict[str, Any]:
        if self.announcer is None:
            return {"enabled": False}
        s = self.announcer.stats
        return {"enabled": True, "queued": s.queued, "spoken": s.spoken, "merged": s.merged,
                "dropped_repeats": s.dropped_repeats, "failed": s.failed, "last_error": s.last_error}
