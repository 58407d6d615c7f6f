"""The 叮咚 chime played before a call: a generated two-tone bell, so no audio asset ships with the code.

Output is raw 16-bit mono PCM at the rate espeak-ng's WAVs use (22.05 kHz), so it can be joined to
synthesised speech without resampling.
"""

from __future__ import annotations

import array
import math
from functools import cache

RATE = 22050


@cache
def chime_pcm(
    tones: tuple[tuple[float, float], ...] = ((659.25, 0.55), (523.25, 0.80)),
    rate: int = RATE,
    volume: float = 0.5,
) -> bytes:
    """Raw s16le mono PCM: each (frequency Hz, seconds) tone in turn, bell-shaped (fast attack, decay).

    Defaults are E5 then C5 (a falling major third, the usual 叮咚), 1.35 s in all.
    """
    samples = array.array("h")
    peak = 32767 * volume
    for freq, seconds in tones:
        n = int(rate * seconds)
        attack = int(rate * 0.005)  # a 5 ms ramp avoids a click at the tone's start
        for i in range(n):
            t = i / rate
            envelope = min(1.0, i / attack) * math.exp(-4.0 * t / seconds)
            # A quieter octave partial makes it sound like a bell rather than a test tone.
            wave = 0.8 * math.sin(2 * math.pi * freq * t) + 0.2 * math.sin(4 * math.pi * freq * t)
            samples.append(int(peak * envelope * wave))
    return samples.tobytes()
