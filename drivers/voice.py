"""Voice calls (语音叫号): phrase text, speech synthesis, output sinks, and the call queue.

One `Announcer` owns one queue and one worker thread; that thread alone synthesises (pyttsx3 over
espeak-ng, one utterance per `runAndWait`, because pyttsx3 2.99 keeps only one pending save) and plays
each utterance to completion before taking the next, so calls never overlap. Displays are the primary
channel: when speech is impossible the call still gets its chime and the error goes to the stats and log.

Demo and timing: `python -m drivers.voice --demo A012 3 out.wav`.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import io
import logging
import shutil
import statistics
import string
import subprocess
import tempfile
import threading
import time
import wave
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drivers.chime import RATE, chime_pcm

log = logging.getLogger(__name__)

VOICE = "cmn-latn-pinyin"  # Debian's plain `cmn` reads Hanzi as English words
DEFAULT_TEMPLATE = "请{number}号到{window}号窗口办理"
HANZI_DIGITS = "零一二三四五六七八九"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

CHIME_GAP_S = 0.15  # between the chime and the phrase
REPEAT_GAP_S = 0.6  # before a repeat, which has no chime of its own
SEGMENT_GAP_S = 0.02  # between cached segments: assembled phrases then last about as long as synthesised ones


# ---- phrase text -------------------------------------------------------------------------------


def spell_ticket(number: str) -> str:
    """How a ticket number is written for espeak-ng: "A012" -> "A 零一二".

    Digits become Hanzi read one by one (Arabic "A012" is read "零十二"); letters stay Latin, which the
    cmn-latn-pinyin voice reads as letter names, each set apart by a space ("AB" is read as one word).
    """
    tokens: list[str] = []
    for ch in number.strip().upper():
        if ch in LETTERS:
            tokens.append(ch)
        elif "0" <= ch <= "9":
            digit = HANZI_DIGITS[int(ch)]
            if tokens and tokens[-1][-1] in HANZI_DIGITS:
                tokens[-1] += digit
            else:
                tokens.append(digit)
        else:
            raise ValueError(f"ticket number {number!r}: only letters A-Z and digits can be read out")
    if not tokens:
        raise ValueError("empty ticket number")
    return " ".join(tokens)


def window_numeral(n: int) -> str:
    """A window number as said aloud: 3 -> "三", 12 -> "十二", 20 -> "二十", 105 -> "一百零五"."""
    if not 0 < n < 10000:
        raise ValueError(f"window number {n}: expected 1-9999")
    out = ""
    gap = False  # a skipped place inside the number is said as one 零
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            gap = bool(out)
            continue
        if gap:
            out += "零"
            gap = False
        if not (d == 1 and value == 10 and not out):  # 十二, not 一十二
            out += HANZI_DIGITS[d]
        out += unit
    return out


def call_phrase(number: str, window_number: int, template: str = DEFAULT_TEMPLATE) -> str:
    """The text spoken for a call: call_phrase("A012", 3) == "请A 零一二号到三号窗口办理"."""
    return template.format(number=spell_ticket(number), window=window_numeral(window_number))


def phrase_pieces(number: str, window_number: int, template: str = DEFAULT_TEMPLATE) -> list[str]:
    """The phrase split into cacheable pieces: template literals, one piece per letter or numeral."""
    pieces: list[str] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal.strip():
            pieces.append(literal.strip())
        if name == "number":
            pieces += spell_ticket(number).replace(" ", "")
        elif name == "window":
            pieces += window_numeral(window_number)
        elif name is not None:
            raise ValueError(f"template field {{{name}}}: only {{number}} and {{window}} exist")
    return pieces


def segment_inventory(template: str = DEFAULT_TEMPLATE) -> list[str]:
    """Every piece any call can need: the template's literals, Hanzi numerals, letters."""
    literals = [lit.strip() for lit, _, _, _ in string.Formatter().parse(template) if lit.strip()]
    return literals + list(HANZI_DIGITS + "十百千" + LETTERS)


# ---- audio -------------------------------------------------------------------------------------


def silence(seconds: float) -> bytes:
    return bytes(2 * int(RATE * seconds))


def wav_bytes(pcm: bytes) -> bytes:
    """A complete WAV file (mono, 16-bit, 22.05 kHz) around raw PCM."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return buf.getvalue()


def wav_seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav), "rb") as w:
        return w.getnframes() / w.getframerate()


def trim_silence(pcm: bytes, threshold: int = 200, margin_s: float = 0.01) -> bytes:
    """Cut espeak-ng's lead-in and ~0.24 s end pause so pieces join at speech pace."""
    samples = array.array("h", pcm)
    loud = [i for i, v in enumerate(samples) if abs(v) > threshold]
    if not loud:
        return b""
    margin = int(RATE * margin_s)
    return samples[max(0, loud[0] - margin) : loud[-1] + margin].tobytes()


def assemble(pieces: list[str], segments: dict[str, bytes]) -> bytes | None:
    """The phrase from cached segments, or None when one is missing (the caller synthesises in full)."""
    if any(p not in segments for p in pieces):
        return None
    return silence(SEGMENT_GAP_S).join(segments[p] for p in pieces)


# ---- synthesis ---------------------------------------------------------------------------------


class SynthesisError(RuntimeError):
    """No speech could be produced (espeak-ng or its voice missing, driver failure)."""


class Synthesizer(Protocol):
    def synthesize(self, text: str) -> bytes:
        """Raw s16le mono PCM at 22.05 kHz; raises SynthesisError."""
        ...

    def close(self) -> None: ...


class _Engine:
    """The process's one pyttsx3 engine, created on first use and kept for the process's life.

    pyttsx3.init() hands every caller the same engine, which is not thread-safe: `lock` serialises all
    use. It is never dropped and re-created: measured with pyttsx3 2.99, a re-created engine cancels
    about half of its second utterances (empty WAV, or a late write after runAndWait returned).
    """

    lock = threading.Lock()
    engine: Any = None
    finished: list[bool] = []  # "finished-utterance" flags of the current run; False = cancelled
    # pyttsx3 2.99's espeak driver starts espeak-ng in its asynchronous (retrieval) mode and its
    # runAndWait returns ~10 ms after starting the synthesis, not when it ends: the WAV is written, and
    # "finished-utterance" sent, from espeak-ng's own thread later. Waiting on this event for it (rather
    # than reading the flags as runAndWait returns) is what keeps a loaded machine from losing utterances.
    done = threading.Event()

    @classmethod
    def _finished(cls, completed: bool) -> None:
        cls.finished.append(completed)
        cls.done.set()

    @classmethod
    def get(cls) -> Any:
        if cls.engine is None:
            try:
                import pyttsx3

                engine = pyttsx3.init()
                import pyttsx3.drivers.espeak as espeak_driver
            except Exception as e:  # no libespeak-ng: RuntimeError from pyttsx3's import, OSError from ctypes
                raise SynthesisError(f"espeak-ng unavailable: {e}") from e
            engine.connect("finished-utterance", lambda name, completed: cls._finished(completed))
            # The driver prints "Audio saved to ..." per file; redirecting sys.stdout would be
            # process-wide and race other threads, so its print goes to our debug log instead.
            setattr(espeak_driver, "print", lambda *args, **_: log.debug(" ".join(map(str, args))))
            cls.engine = engine
        return cls.engine


_ENGINE_THREAD = ThreadPoolExecutor(1, thread_name_prefix="pyttsx3")
SYNTH_LIMIT_S = 120.0


class Pyttsx3Synthesizer:
    """espeak-ng through pyttsx3's `save_to_file`, one utterance per `runAndWait` (a second pending
    save would replace the first)."""

    def __init__(self, voice: str = VOICE) -> None:
        self._voice = voice
        self._dir = tempfile.TemporaryDirectory(prefix="voice-")
        self._path = Path(self._dir.name) / "utterance.wav"

    def synthesize(self, text: str) -> bytes:
        # Every pyttsx3 call runs on one process-wide thread, whoever asks (the announcer, the kiosk's
        # read-aloud): pyttsx3 2.99 loses utterances when two threads drive its engine.
        return _ENGINE_THREAD.submit(self._synthesize_locked, text).result()

    def _synthesize_locked(self, text: str) -> bytes:
        with _Engine.lock:
            engine = _Engine.get()
            try:
                return self._synthesize(engine, text)
            except SynthesisError:
                raise
            except Exception as e:
                with contextlib.suppress(RuntimeError):  # a failed runAndWait leaves its loop flagged running
                    engine.endLoop()
                raise SynthesisError(f"espeak-ng failed on {text!r}: {e}") from e

    def _synthesize(self, engine: Any, text: str) -> bytes:
        self._path.unlink(missing_ok=True)
        _Engine.finished.clear()
        _Engine.done.clear()
        engine.setProperty("voice", self._voice)  # the engine is shared process-wide: set it every time
        engine.save_to_file(text, str(self._path))
        engine.runAndWait()
        # The end of the synthesis, not of runAndWait (see _Engine.done); the limit only catches a hung
        # engine — a phrase takes ~12 ms, and minutes on a machine loaded past use.
        if not _Engine.done.wait(SYNTH_LIMIT_S):
            raise SynthesisError(f"espeak-ng did not finish {text!r} within {SYNTH_LIMIT_S:g} s")
        current = str(engine.getProperty("voice") or "")
        if current.split("/")[-1] != self._voice.lower():
            raise SynthesisError(f"espeak-ng voice {self._voice!r} not installed (have {current!r})")
        if _Engine.finished != [True]:
            raise SynthesisError(f"espeak-ng did not complete {text!r} (finished: {_Engine.finished})")
        try:
            with wave.open(str(self._path), "rb") as w:
                pcm = w.readframes(w.getnframes())
        except (OSError, EOFError, wave.Error) as e:
            raise SynthesisError(f"espeak-ng produced no audio for {text!r}: {e}") from e
        if not pcm:
            raise SynthesisError(f"espeak-ng produced empty audio for {text!r}")
        return pcm

    def close(self) -> None:
        self._dir.cleanup()


# ---- sinks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Utterance:
    seq: int  # production order, from 1
    key: str  # the ticket id the call was announced with
    number: str
    window_number: int
    text: str
    repeat: int  # 0 = first announcement (with chime), 1.. = repeats
    speech: bool  # False when synthesis failed and only the chime played


class Sink(Protocol):
    def play(self, utterance: Utterance, wav: bytes) -> None:
        """Output one utterance and return when it has finished (this is what keeps calls apart)."""
        ...


class AplaySink:
    """The sound card, through ALSA's `aplay` (WAV on stdin)."""

    def __init__(self, device: str | None = None) -> None:
        self.device = device

    def play(self, utterance: Utterance, wav: bytes) -> None:
        cmd = ["aplay", "-q", *(["-D", self.device] if self.device else []), "-"]
        done = subprocess.run(cmd, input=wav, capture_output=True, timeout=wav_seconds(wav) + 10)
        if done.returncode:
            reason = done.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"aplay exit {done.returncode}: {reason}")


class WavDirSink:
    """One WAV file per utterance in a directory: machines without sound, and tests."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, utterance: Utterance) -> Path:
        return self.directory / f"{utterance.seq:05d}-{utterance.number}-{utterance.repeat}.wav"

    def play(self, utterance: Utterance, wav: bytes) -> None:
        self.path_for(utterance).write_bytes(wav)


class RecordingSink:
    """Records every utterance in production order (end-to-end tests), passing it on to `inner`."""

    def __init__(self, inner: Sink | None = None) -> None:
        self.inner = inner
        self.utterances: list[Utterance] = []

    def play(self, utterance: Utterance, wav: bytes) -> None:
        if self.inner is not None:
            self.inner.play(utterance, wav)
        self.utterances.append(utterance)


def has_sound_card() -> bool:
    if shutil.which("aplay") is None:
        return False
    # `aplay -l` exits 0 even with no card; only its listing tells.
    listing = subprocess.run(["aplay", "-l"], capture_output=True, text=True, timeout=10).stdout
    return "card " in listing


def default_sink(wav_dir: Path) -> Sink:
    """The sound card when ALSA lists one, else WAV files in `wav_dir`."""
    return AplaySink() if has_sound_card() else WavDirSink(wav_dir)


# ---- announcer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnnouncerStats:
    queued: int  # utterances waiting now
    spoken: int  # utterances produced with speech
    merged: int  # recalls folded into a call already queued
    dropped_repeats: int  # repeats dropped because of backlog
    withdrawn: int  # calls taken back before they were said (the ticket was answered, finished, moved on)
    expired: int  # calls not said because they would have started more than max_delay_s after the call
    failed: int  # utterances without speech (chime only) or lost to a sink error
    last_latency_ms: float | None  # last call taken off the queue -> its audio handed to the sink
    last_start_delay_s: float | None  # last call: announce() -> its audio handed to the sink
    last_error: str | None


@dataclass(eq=False)  # identity equality: the queue removes this exact entry
class _Call:
    key: str
    number: str
    window_number: int
    repeat: int
    at: float  # time.monotonic() of the announce (a recall's, once merged)


class Announcer:
    """Queue of voice calls, produced one at a time by one worker thread.

    Use from the event loop thread: `async with Announcer(sink) as a: a.announce("A012", 3, key=id)`.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        synthesizer: Synthesizer | None = None,
        template: str = DEFAULT_TEMPLATE,
        repeats: int = 2,
        max_backlog: int = 6,
        segmented: bool = False,
        max_delay_s: float = 30.0,
    ) -> None:
        """`repeats`: times each call is said. `max_backlog`: queued utterances above which queued repeats
        are dropped, oldest first (first announcements never are for backlog). `segmented`: assemble phrases
        from segments cached at start-up instead of synthesising each (see docs/voice.md for the numbers).
        `max_delay_s`: the bound on call → audio start; an utterance that could only start later than that
        after its call is not said (`stats.expired`): the display has shown it all along, and a number
        called out a minute late sends a citizen to a window that has moved on."""
        phrase_pieces("A001", 1, template)  # a bad template fails here, not on the first call
        if repeats < 1 or max_backlog < 1 or max_delay_s <= 0:
            raise ValueError("repeats and max_backlog must be at least 1, max_delay_s above 0")
        self._sink = sink
        self._synth = synthesizer or Pyttsx3Synthesizer()
        self._template = template
        self._repeats = repeats
        self._max_backlog = max_backlog
        self._segmented = segmented
        self._max_delay_s = max_delay_s
        self._segments: dict[str, bytes] = {}
        self._chime = chime_pcm() + silence(CHIME_GAP_S)

        self._cv = threading.Condition()
        self._queue: deque[_Call] = deque()
        self._busy = False
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

        self._seq = 0
        self._spoken = 0
        self._merged = 0
        self._dropped = 0
        self._withdrawn = 0
        self._expired = 0
        self._failed = 0
        self._last_latency_ms: float | None = None
        self._last_start_delay_s: float | None = None
        self._last_error: str | None = None

    async def __aenter__(self) -> Announcer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Start the worker; returns once the engine is warm (and segments cached), so calls start fast.
        A missing espeak-ng does not raise: it shows in `stats.last_error` and the log."""
        if self._thread is not None:
            raise RuntimeError("announcer already started")
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="voice", daemon=True)
        self._thread.start()
        await ready

    def announce(self, number: str, window_number: int, *, key: str | None = None) -> None:
        """Queue a call and return at once. `key` (the ticket id; default `number`) identifies recalls:
        a call whose key is still queued is updated in place (its window may have changed), not queued
        twice."""
        # Reject bad input here, in the caller, rather than in the worker.
        spell_ticket(number)
        window_numeral(window_number)
        key = key or number
        with self._cv:
            if self._closing:
                raise RuntimeError("announcer is closed")
            queued = [c for c in self._queue if c.key == key]
            now = time.monotonic()
            if queued:
                for c in queued:
                    c.number, c.window_number, c.at = number, window_number, now
                queued[0].repeat = 0  # a recall is a first announcement: chimed, never dropped for backlog
                self._merged += 1
            else:
                self._queue.extend(_Call(key, number, window_number, r, now) for r in range(self._repeats))
                self._drop_repeats_over_backlog()
            self._cv.notify()
        self._idle.clear()

    def withdraw(self, key: str) -> bool:
        """Take back the queued utterances of a call (the ticket was answered, finished, skipped, cancelled or
        transferred): a number is never said for a citizen the window no longer calls. The utterance
        playing finishes. Returns whether anything was queued."""
        with self._cv:
            queued = [c for c in self._queue if c.key == key]
            for c in queued:
                self._queue.remove(c)
            if queued:
                self._withdrawn += 1
        if queued:
            self._to_loop(self._set_idle_if_idle)
        return bool(queued)

    async def drain(self) -> None:
        """Wait until every queued utterance has been produced."""
        await self._idle.wait()

    async def close(self) -> None:
        """Discard queued calls, let the utterance playing finish, release the engine."""
        with self._cv:
            self._closing = True
            self._queue.clear()
            self._cv.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        else:
            self._synth.close()
        self._idle.set()

    @property
    def stats(self) -> AnnouncerStats:
        with self._cv:
            return AnnouncerStats(
                queued=len(self._queue),
                spoken=self._spoken,
                merged=self._merged,
                dropped_repeats=self._dropped,
                withdrawn=self._withdrawn,
                expired=self._expired,
                failed=self._failed,
                last_latency_ms=self._last_latency_ms,
                last_start_delay_s=self._last_start_delay_s,
                last_error=self._last_error,
            )

    def _drop_repeats_over_backlog(self) -> None:
        excess = len(self._queue) - self._max_backlog
        for call in [c for c in self._queue if c.repeat > 0][: max(0, excess)]:
            self._queue.remove(call)
            self._dropped += 1

    # -- worker thread --

    def _run(self, ready: asyncio.Future[None]) -> None:
        self._warm_up()
        self._to_loop(lambda: ready.done() or ready.set_result(None))
        while (call := self._next()) is not None:
            self._produce(call)
            with self._cv:
                self._busy = False
            self._to_loop(self._set_idle_if_idle)
        self._synth.close()

    def _warm_up(self) -> None:
        try:
            if self._segmented:
                for piece in segment_inventory(self._template):
                    self._segments[piece] = trim_silence(self._synth.synthesize(piece))
            else:
                self._synth.synthesize(call_phrase("A001", 1, self._template))
        except Exception as e:  # SynthesisError, or a broken stand-in synthesizer: the worker must live on
            self._report(f"warm-up: {e}")

    def _next(self) -> _Call | None:
        with self._cv:
            while True:
                while not self._queue and not self._closing:
                    self._cv.wait()
                if self._closing:
                    return None
                call = self._queue.popleft()
                # Synthesis takes ~12 ms (docs/voice.md), so a call taken now starts now: one older than the
                # bound is not said at all, nor its repeats.
                if time.monotonic() - call.at <= self._max_delay_s:
                    self._busy = True
                    return call
                stale = [c for c in self._queue if c.key == call.key]
                for c in stale:
                    self._queue.remove(c)
                if call.repeat == 0:
                    self._expired += 1
                if not self._queue:
                    self._to_loop(self._set_idle_if_idle)

    def _produce(self, call: _Call) -> None:
        started = time.perf_counter()
        text = call_phrase(call.number, call.window_number, self._template)
        try:
            speech = self._phrase_pcm(call, text)
        except Exception as e:  # as in _warm_up
            self._fail(str(e))
            if call.repeat:
                return  # a repeat is speech only; nothing is left to play
            speech = b""
        lead = self._chime if call.repeat == 0 else silence(REPEAT_GAP_S)
        wav = wav_bytes(lead + speech)
        self._seq += 1
        utterance = Utterance(
            self._seq, call.key, call.number, call.window_number, text, call.repeat, bool(speech)
        )
        with self._cv:
            self._last_latency_ms = (time.perf_counter() - started) * 1000
            if call.repeat == 0:
                self._last_start_delay_s = time.monotonic() - call.at
        try:
            self._sink.play(utterance, wav)
        except Exception as e:  # a broken speaker must not stop the queue
            self._fail(f"sink: {e}")
            return
        if speech:
            with self._cv:
                self._spoken += 1

    def _phrase_pcm(self, call: _Call, text: str) -> bytes:
        if self._segments:
            pcm = assemble(phrase_pieces(call.number, call.window_number, self._template), self._segments)
            if pcm is not None:
                return pcm
        return self._synth.synthesize(text)

    def _fail(self, message: str) -> None:
        with self._cv:
            self._failed += 1
        self._report(message)

    def _report(self, message: str) -> None:
        with self._cv:
            repeated = message == self._last_error
            self._last_error = message
        if not repeated:  # one log line per distinct problem, not one per call
            log.error("voice: %s", message)

    def _to_loop(self, fn: Any) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is waiting
                self._loop.call_soon_threadsafe(fn)

    def _set_idle_if_idle(self) -> None:
        with self._cv:
            if self._queue or self._busy:
                return
        self._idle.set()


# ---- demo and timing ---------------------------------------------------------------------------


def measure(number: str, window_number: int, runs: int = 20) -> dict[str, float]:
    """Milliseconds and seconds behind docs/voice.md: engine start, segment caching, per-call latency of
    full synthesis vs segment assembly (medians over `runs`), and the audio lengths."""
    synth = Pyttsx3Synthesizer()
    text = call_phrase(number, window_number)
    pieces = phrase_pieces(number, window_number)
    try:
        t0 = time.perf_counter()
        full = synth.synthesize(text)
        t1 = time.perf_counter()
        segments = {p: trim_silence(synth.synthesize(p)) for p in segment_inventory()}
        t2 = time.perf_counter()
        full_ms, seg_ms = [], []
        for _ in range(runs):
            a = time.perf_counter()
            synth.synthesize(text)
            b = time.perf_counter()
            assemble(pieces, segments)
            c = time.perf_counter()
            full_ms.append((b - a) * 1000)
            seg_ms.append((c - b) * 1000)
    finally:
        synth.close()
    assembled = assemble(pieces, segments) or b""
    return {
        "engine_start_ms": (t1 - t0) * 1000,
        "segment_cache_ms": (t2 - t1) * 1000,
        "segment_count": len(segments),
        "full_synthesis_ms": statistics.median(full_ms),
        "segment_assembly_ms": statistics.median(seg_ms),
        "chime_s": len(chime_pcm()) / 2 / RATE,
        "phrase_full_s": len(full) / 2 / RATE,
        "phrase_segmented_s": len(assembled) / 2 / RATE,
    }


async def _demo(number: str, window_number: int, out: Path, segmented: bool) -> AnnouncerStats:
    with tempfile.TemporaryDirectory() as tmp:
        files = WavDirSink(Path(tmp))
        sink = RecordingSink(files)
        async with Announcer(sink, repeats=1, segmented=segmented) as announcer:
            announcer.announce(number, window_number)
            await announcer.drain()
            stats = announcer.stats
        for utterance in sink.utterances:
            out.write_bytes(files.path_for(utterance).read_bytes())
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m drivers.voice", description=__doc__.splitlines()[0])
    parser.add_argument("--demo", nargs=3, metavar=("NUMBER", "WINDOW", "OUT_WAV"), required=True)
    parser.add_argument("--segmented", action="store_true", help="assemble from cached segments")
    args = parser.parse_args(argv)
    number, window, out = args.demo[0], int(args.demo[1]), Path(args.demo[2])
    logging.basicConfig(level=logging.INFO)
    print(f"text: {call_phrase(number, window)}")
    try:
        figures = measure(number, window)
    except SynthesisError as e:
        parser.exit(1, f"{e}\n")
    for name, value in figures.items():
        print(f"{name:>22}: {value:.2f}")
    stats = asyncio.run(_demo(number, window, out, args.segmented))
    print(f"wrote {out} ({wav_seconds(out.read_bytes()):.2f} s); announcer stats: {stats}")


if __name__ == "__main__":
    main()
