"""Read-aloud for 长者模式: short Chinese texts synthesised offline by the controller's voice, as WAV.

One worker thread (pyttsx3 is one process-wide engine, serialised by drivers.voice) and an in-memory
cache: a kiosk repeats the same few screen texts all day.
"""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from drivers.voice import Pyttsx3Synthesizer, SynthesisError, spell_ticket, wav_bytes
from hall_controller.core.errors import HallError

MAX_CHARS = 300
CACHE_ENTRIES = 256
_TICKET = re.compile(r"\b[A-Z]{1,2}[0-9]{3,4}\b")


def speakable(text: str) -> str:
    """Ticket numbers are spelt for the voice ("A012" → "A 零一二"), which would say "零十二"."""
    return _TICKET.sub(lambda m: spell_ticket(m.group(0)), text.strip())


class Speech:
    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None  # made on first use, again after a shutdown
        self._synth: Pyttsx3Synthesizer | None = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()

    async def wav(self, text: str) -> bytes:
        text = speakable(text)[:MAX_CHARS]
        if not text:
            raise HallError("empty_text", "没有要朗读的内容。", 422)
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="kiosk-speech")
        try:
            pcm = await asyncio.get_running_loop().run_in_executor(self._executor, self._synthesize, text)
        except SynthesisError as e:
            raise HallError("speech_unavailable", "语音朗读暂不可用，请阅读屏幕文字或咨询工作人员。", 503) from e
        wav = wav_bytes(pcm)
        self._cache[text] = wav
        if len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return wav

    def _synthesize(self, text: str) -> bytes:
        if self._synth is None:
            self._synth = Pyttsx3Synthesizer()
        return self._synth.synthesize(text)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._synth is not None:
            self._synth.close()
