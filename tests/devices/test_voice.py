"""Voice calls: phrase text, the announcer queue (order, merging, backlog), audio format, engine failure.

Everything runs against WAV / recording sinks, so no sound card is needed.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import wave
from pathlib import Path

import pytest

from drivers import voice
from drivers.chime import RATE, chime_pcm
from drivers.voice import (
    Announcer,
    RecordingSink,
    Utterance,
    WavDirSink,
    call_phrase,
    phrase_pieces,
    spell_ticket,
    window_numeral,
)


class GatedSink(RecordingSink):
    """Holds the worker in `play` until released, so tests can build a queue behind the first call."""

    def __init__(self) -> None:
        super().__init__()
        self.playing = threading.Event()
        self.release = threading.Event()

    def play(self, utterance: Utterance, wav: bytes) -> None:
        self.playing.set()
        assert self.release.wait(10)
        super().play(utterance, wav)


class SilentSynthesizer:
    """A fast stand-in where a test is about the queue, not the voice: 0.1 s of a low constant level."""

    def synthesize(self, text: str) -> bytes:
        return b"\x10\x00" * (RATE // 10)

    def close(self) -> None:
        pass


def said(sink: RecordingSink) -> list[tuple[str, int, int]]:
    return [(u.number, u.window_number, u.repeat) for u in sink.utterances]


async def hold_worker(announcer: Announcer, sink: GatedSink) -> None:
    announcer.announce("Z999", 9)
    await asyncio.to_thread(sink.playing.wait, 10)


# ---- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "spelled"),
    [("A012", "A 零一二"), ("a012", "A 零一二"), ("B100", "B 一零零"), ("AB07", "A B 零七"), ("0305", "零三零五")],
)
def test_ticket_is_spelled_letter_by_letter_and_digit_by_digit(number: str, spelled: str) -> None:
    assert spell_ticket(number) == spelled


@pytest.mark.parametrize(
    ("n", "said_as"),
    [(1, "一"), (3, "三"), (10, "十"), (12, "十二"), (20, "二十"), (21, "二十一"), (100, "一百"),
     (105, "一百零五"), (110, "一百一十"), (1001, "一千零一"), (1010, "一千零一十")],
)
def test_window_numbers_are_said_as_numbers(n: int, said_as: str) -> None:
    assert window_numeral(n) == said_as


def test_call_phrase() -> None:
    assert call_phrase("A012", 3) == "请A 零一二号到三号窗口办理"
    assert call_phrase("C007", 12) == "请C 零零七号到十二号窗口办理"
    assert call_phrase("A012", 3, template="{number}号请到{window}号窗口") == "A 零一二号请到三号窗口"


@pytest.mark.parametrize("bad", ["", "A-12", "Ａ012", "A 12"])
def test_unreadable_ticket_numbers_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        spell_ticket(bad)


def test_window_zero_is_rejected() -> None:
    with pytest.raises(ValueError):
        window_numeral(0)


def test_phrase_pieces_cover_the_phrase() -> None:
    assert phrase_pieces("A012", 12) == ["请", "A", "零", "一", "二", "号到", "十", "二", "号窗口办理"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_reads_the_number_digit_by_digit() -> None:
    def phonemes(text: str) -> str:
        cmd = ["espeak-ng", "-v", voice.VOICE, "-q", "-x", text]
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    # 十 is s.'i.35 / s.i.35: Arabic "A012" gets one, the spelled form must not.
    assert "s.i.35" in phonemes("A012").replace("'", "")
    spoken = phonemes(call_phrase("A012", 3))
    assert "s.i.35" not in spoken.replace("'", "")
    assert spoken.count("l'i35N") == 1 and "j'i55" in spoken and "'@r51" in spoken  # 零 一 二
    assert "(en)" not in phonemes(call_phrase("AB07", 3))  # letters are not read as an English word


# ---- announcer ---------------------------------------------------------------------------------


def test_ten_calls_at_once_are_all_produced_in_order(tmp_path: Path) -> None:
    """Real espeak-ng, whatever the machine's load: nothing here depends on how fast it runs (the bound on
    call → audio start is lifted; bench/voice.py measures the latency)."""
    async def scenario() -> tuple[list[tuple[str, int, int]], voice.AnnouncerStats]:
        sink = RecordingSink(WavDirSink(tmp_path))
        async with Announcer(sink, repeats=2, max_backlog=100, max_delay_s=24 * 3600) as announcer:
            for i in range(1, 11):
                announcer.announce(f"A{i:03d}", i)
            await announcer.drain()
            return said(sink), announcer.stats

    produced, stats = asyncio.run(scenario())
    assert produced == [(f"A{i:03d}", i, r) for i in range(1, 11) for r in (0, 1)]
    assert (stats.spoken, stats.queued, stats.dropped_repeats, stats.failed, stats.expired) == (20, 0, 0, 0, 0)
    assert stats.last_latency_ms is not None
    assert len(list(tmp_path.glob("*.wav"))) == 20


def test_with_default_backlog_ten_calls_at_once_all_get_their_first_announcement() -> None:
    async def scenario() -> list[tuple[str, int, int]]:
        sink = RecordingSink()
        async with Announcer(sink, synthesizer=SilentSynthesizer()) as announcer:
            for i in range(1, 11):
                announcer.announce(f"A{i:03d}", i)
            await announcer.drain()
        return said(sink)

    produced = asyncio.run(scenario())
    assert [(n, w) for n, w, r in produced if r == 0] == [(f"A{i:03d}", i) for i in range(1, 11)]


def test_produced_wav_is_mono_22k_and_holds_chime_and_phrase(tmp_path: Path) -> None:
    async def scenario() -> list[Utterance]:
        sink = RecordingSink(WavDirSink(tmp_path))
        async with Announcer(sink, repeats=2) as announcer:
            announcer.announce("A012", 3)
            await announcer.drain()
        return sink.utterances

    first, repeat = asyncio.run(scenario())
    assert first.text == "请A 零一二号到三号窗口办理" and first.speech
    for utterance, least in ((first, 1.35 + 2.5), (repeat, 2.5)):
        with wave.open(str(WavDirSink(tmp_path).path_for(utterance)), "rb") as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
            frames = w.readframes(w.getnframes())
        assert w.getnframes() / RATE > least
        assert max(abs(s) for s in memoryview(frames).cast("h")) > 5000  # speech, not silence
    with wave.open(str(WavDirSink(tmp_path).path_for(first)), "rb") as w:
        assert w.readframes(len(chime_pcm()) // 2) == chime_pcm()  # the call opens with the chime


def test_segmented_mode_assembles_from_cached_segments(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[Utterance], voice.AnnouncerStats]:
        sink = RecordingSink(WavDirSink(tmp_path))
        async with Announcer(sink, repeats=1, segmented=True) as announcer:
            announcer.announce("B305", 12)
            await announcer.drain()
            return sink.utterances, announcer.stats

    (utterance,), stats = asyncio.run(scenario())
    assert utterance.speech and stats.spoken == 1 and stats.last_error is None
    with wave.open(str(WavDirSink(tmp_path).path_for(utterance)), "rb") as w:
        assert w.getframerate() == 22050 and w.getnframes() / RATE > 1.35 + 2.5


def test_recall_of_a_queued_ticket_merges(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[tuple[str, int, int]], voice.AnnouncerStats]:
        sink = GatedSink()
        async with Announcer(sink, repeats=2, max_backlog=100) as announcer:
            await hold_worker(announcer, sink)
            announcer.announce("A001", 1, key="t1")
            announcer.announce("A002", 2, key="t2")
            announcer.announce("A001", 5, key="t1")  # recalled, now sent to window 5
            assert announcer.stats.queued == 5  # Z999's repeat + two calls of two utterances
            sink.release.set()
            await announcer.drain()
            return said(sink), announcer.stats

    produced, stats = asyncio.run(scenario())
    assert produced == [
        ("Z999", 9, 0), ("Z999", 9, 1), ("A001", 5, 0), ("A001", 5, 1), ("A002", 2, 0), ("A002", 2, 1)
    ]
    assert stats.merged == 1


def test_recall_while_only_its_repeat_is_queued_makes_that_a_first_call() -> None:
    async def scenario() -> tuple[list[tuple[str, int, int]], voice.AnnouncerStats]:
        sink = GatedSink()
        async with Announcer(sink, repeats=2) as announcer:
            await hold_worker(announcer, sink)  # Z999 is playing; its repeat is queued
            announcer.announce("Z999", 9)
            sink.release.set()
            await announcer.drain()
            return said(sink), announcer.stats

    produced, stats = asyncio.run(scenario())
    assert produced == [("Z999", 9, 0), ("Z999", 9, 0)]
    assert stats.merged == 1


def test_backlog_drops_queued_repeats_never_first_calls() -> None:
    async def scenario() -> tuple[list[tuple[str, int, int]], voice.AnnouncerStats]:
        sink = GatedSink()
        async with Announcer(sink, repeats=2, max_backlog=4) as announcer:
            await hold_worker(announcer, sink)
            for i in range(1, 7):
                announcer.announce(f"A{i:03d}", i)
            assert announcer.stats.queued == 6  # only first calls are left
            sink.release.set()
            await announcer.drain()
            return said(sink), announcer.stats

    produced, stats = asyncio.run(scenario())
    assert produced == [("Z999", 9, 0)] + [(f"A{i:03d}", i, 0) for i in range(1, 7)]
    assert stats.dropped_repeats == 7 and stats.spoken == 7


def test_engine_failure_keeps_the_queue_running_with_chime_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import pyttsx3

    def no_espeak(*args: object, **kwargs: object) -> None:
        raise RuntimeError("This means you probably do not have eSpeak or eSpeak-ng installed!")

    monkeypatch.setattr(pyttsx3, "init", no_espeak)
    monkeypatch.setattr(voice._Engine, "engine", None)  # as in a process that never had one

    async def scenario() -> tuple[RecordingSink, voice.AnnouncerStats]:
        sink = RecordingSink()
        async with Announcer(sink, repeats=2) as announcer:
            assert "espeak-ng unavailable" in (announcer.stats.last_error or "")
            announcer.announce("A001", 1)
            announcer.announce("A002", 2)
            await announcer.drain()
            return sink, announcer.stats

    sink, stats = asyncio.run(scenario())
    assert said(sink) == [("A001", 1, 0), ("A002", 2, 0)]  # the chime still plays; repeats have nothing
    assert not any(u.speech for u in sink.utterances)
    assert stats.spoken == 0 and stats.failed == 4  # 2 calls x 2 utterances
    assert "not have eSpeak" in (stats.last_error or "")
    # One log line per distinct message: the warm-up's and the calls'.
    assert sum("espeak-ng unavailable" in r.getMessage() for r in caplog.records) == 2


def test_failing_sink_is_reported_and_later_calls_still_play() -> None:
    class FlakySink(RecordingSink):
        def play(self, utterance: Utterance, wav: bytes) -> None:
            if utterance.seq == 1:
                raise RuntimeError("aplay exit 1: device busy")
            super().play(utterance, wav)

    async def scenario() -> tuple[RecordingSink, voice.AnnouncerStats]:
        sink = FlakySink()
        async with Announcer(sink, repeats=1, synthesizer=SilentSynthesizer()) as announcer:
            announcer.announce("A001", 1)
            announcer.announce("A002", 2)
            await announcer.drain()
            return sink, announcer.stats

    sink, stats = asyncio.run(scenario())
    assert said(sink) == [("A002", 2, 0)]
    assert stats.failed == 1 and stats.last_error == "sink: aplay exit 1: device busy"


def test_two_announcers_share_the_engine_without_losing_utterances(tmp_path: Path) -> None:
    """pyttsx3.init() is one engine per process: two speaker zones must still each get their own phrases.

    espeak-ng output varies by a few samples between runs, so phrases are compared by length; the zones
    use different windows (一 vs 十一) so a swapped or lost phrase shows as a length mismatch."""

    async def zone(letter: str, first_window: int) -> list[tuple[Path, int]]:
        files = WavDirSink(tmp_path / letter)
        sink = RecordingSink(files)
        async with Announcer(sink, repeats=1, max_backlog=100) as announcer:
            for i in range(5):
                announcer.announce(f"{letter}{i:03d}", first_window + i)
            await announcer.drain()
        return [(files.path_for(u), u.window_number) for u in sink.utterances]

    async def both() -> list[list[tuple[Path, int]]]:
        return list(await asyncio.gather(zone("A", 1), zone("B", 11)))

    lead = len(chime_pcm()) // 2 + int(RATE * voice.CHIME_GAP_S)
    reference = voice.Pyttsx3Synthesizer()
    try:
        for produced in asyncio.run(both()):
            assert len(produced) == 5
            for path, window in produced:
                with wave.open(str(path), "rb") as w:
                    speech = w.getnframes() - lead
                number = path.name.split("-")[1]
                expected = len(reference.synthesize(call_phrase(number, window))) // 2
                assert abs(speech - expected) < 200, (path.name, speech, expected)
    finally:
        reference.close()


@pytest.mark.skipif(
    shutil.which("aplay") is None or voice.has_sound_card(), reason="needs aplay without a sound card"
)
def test_aplay_sink_reports_a_missing_card(tmp_path: Path) -> None:
    assert isinstance(voice.default_sink(tmp_path), WavDirSink)
    utterance = Utterance(1, "A001", "A001", 1, "", 0, False)
    with pytest.raises(RuntimeError, match="aplay exit"):
        voice.AplaySink().play(utterance, voice.wav_bytes(chime_pcm()))


def test_close_discards_the_queue_and_rejects_new_calls() -> None:
    async def scenario() -> tuple[RecordingSink, voice.AnnouncerStats, Announcer]:
        sink = GatedSink()
        announcer = Announcer(sink, repeats=1, synthesizer=SilentSynthesizer())
        await announcer.start()
        await hold_worker(announcer, sink)
        announcer.announce("A001", 1)
        closing = asyncio.create_task(announcer.close())
        await asyncio.sleep(0)
        sink.release.set()
        await closing
        await announcer.drain()  # returns at once after close
        return sink, announcer.stats, announcer

    sink, stats, announcer = asyncio.run(scenario())
    assert said(sink) == [("Z999", 9, 0)] and stats.queued == 0
    with pytest.raises(RuntimeError):
        announcer.announce("A002", 2)



def test_a_withdrawn_call_is_never_said() -> None:
    async def scenario() -> tuple[list[tuple[str, int, int]], voice.AnnouncerStats, bool]:
        sink = GatedSink()
        async with Announcer(sink, repeats=2, max_backlog=100) as announcer:
            await hold_worker(announcer, sink)
            announcer.announce("A001", 1, key="t1")
            announcer.announce("A002", 2, key="t2")
            assert announcer.withdraw("t1")  # its ticket was answered: first call and repeat go
            again = announcer.withdraw("t1")
            sink.release.set()
            await announcer.drain()
            return said(sink), announcer.stats, again

    produced, stats, again = asyncio.run(scenario())
    assert produced == [("Z999", 9, 0), ("Z999", 9, 1), ("A002", 2, 0), ("A002", 2, 1)]
    assert stats.withdrawn == 1 and not again


def test_a_call_that_cannot_start_within_the_bound_is_not_said() -> None:
    """max_delay_s bounds call → audio start: held past it, a queued call expires with its repeats, and the
    call after it is said within the bound."""
    async def scenario() -> tuple[list[tuple[str, int, int]], voice.AnnouncerStats]:
        sink = GatedSink()
        async with Announcer(sink, synthesizer=SilentSynthesizer(), repeats=2, max_delay_s=0.3) as announcer:
            await hold_worker(announcer, sink)
            announcer.announce("A001", 1)
            await asyncio.sleep(0.5)  # the speaker is busy past A001's bound
            announcer.announce("A002", 2)
            sink.release.set()
            await announcer.drain()
            return said(sink), announcer.stats

    produced, stats = asyncio.run(scenario())
    assert [(n, r) for n, _, r in produced] == [("Z999", 0), ("A002", 0), ("A002", 1)]
    assert stats.expired == 1 and stats.last_start_delay_s is not None and stats.last_start_delay_s <= 0.3
