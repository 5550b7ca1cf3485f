"""Deterministic stream timing and a synthetic pleth wave for the streaming vendor emulators (pure).

Streaming oximeters send many frames per reading (BerryMed 100/s, PC-60FW pleth ~60 samples/s).
Which frames belong to which scenario tick, and what pleth value each carries, are pure functions of
the frame's position in the stream, so a test can recompute exactly what a device sent.
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["frames_in_tick", "pleth_wave"]

_UPSTROKE = 0.15  # fraction of a beat spent rising, roughly a fingertip pleth's systolic upstroke


def frames_in_tick(tick: int, rate_hz: float, interval: float) -> range:
    """Stream positions of the frames a `rate_hz` stream sends during scenario tick `tick`.

    Exact rational arithmetic: 100 Hz with a 0.03 s tick is 3 frames every tick, 1 Hz with a
    0.25 s tick is one frame every fourth tick.
    """
    per_tick = Fraction(str(rate_hz)) * Fraction(str(interval))
    return range(math.floor(tick * per_tick), math.floor((tick + 1) * per_tick))


def pleth_wave(position: int, pulse_rate: float | None, rate_hz: float) -> tuple[int, bool]:
    """(amplitude 1..100, beat) at stream position `position` for a pulse of `pulse_rate` bpm.

    `beat` is True on the frame where a new beat starts. No pulse → (0, False), the protocols'
    "invalid" pleth.
    """
    if not pulse_rate or pulse_rate <= 0:
        return 0, False
    beats_per_frame = pulse_rate / 60.0 / rate_hz
    now = position * beats_per_frame
    beat = math.floor(now) != math.floor(now - beats_per_frame)
    phase = now % 1.0
    shape = phase / _UPSTROKE if phase < _UPSTROKE else (1.0 - phase) / (1.0 - _UPSTROKE)
    return 1 + round(99 * shape), beat
