"""Stream parser for the BerryMed Send characteristic: notifications in, whole BCI / BERRY packets out.

BCI frames arrive 100/s, several per notification (4 per 20-byte notification on a BM1000C), and may
straddle notifications (ble-protocols.md §2.2). Garbage is skipped byte by byte until the sync rule holds
again. The parser never raises: what it skips is counted and returned as FrameErrors.

The two protocols share the characteristic but cannot be confused at a sync point: a BCI head byte is
followed by four bytes with bit 7 clear, while a BERRY packet starts `FF AA` (0xAA has bit 7 set) and is
checksummed. In "auto" mode the first valid BERRY packet locks the parser to BERRY, because inside a
checksummed BERRY packet an ADC byte with bit 7 set could otherwise pass for a BCI head.
"""

from __future__ import annotations

from typing import Final, Literal

from gateway.protocols.berrymed import (
    BCI,
    BCI_LENGTH,
    BERRY,
    BERRY_HEAD,
    BERRY_LENGTH,
    BerryMedPacket,
    decode_bci_packet,
    decode_berry_packet,
)
from gateway.protocols.common import Parsed, SkipRun, StreamStats
from gateway.protocols.errors import FrameError

StreamMode = Literal["auto", "bci", "berry"]
_MODES: Final = ("auto", "bci", "berry")


class BerryMedStream:
    """Reassembles BerryMed packets from notifications. `feed()` never raises."""

    def __init__(self, mode: StreamMode = "auto") -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self._mode: StreamMode = mode
        self._buf = bytearray()
        self.stats = StreamStats()

    @property
    def buffered(self) -> int:
        """Bytes held back as the start of a frame not yet complete."""
        return len(self._buf)

    @property
    def mode(self) -> StreamMode:
        """ "auto" until a BERRY packet is seen, then "berry"; or the mode fixed at construction."""
        return self._mode

    def feed(self, data: bytes) -> Parsed[BerryMedPacket]:
        self._buf += data
        buf = self._buf
        frames: list[BerryMedPacket] = []
        errors: list[FrameError] = []
        skip = SkipRun(BERRY if self._mode == "berry" else BCI)
        i = 0
        while i < len(buf):
            step = self._try_berry(buf, i, frames, errors, skip) if self._mode != "bci" else 0
            if step == 0 and self._mode != "berry":
                step = self._try_bci(buf, i, frames, errors, skip)
            if step < 0:  # a candidate that needs more bytes
                break
            if step == 0:
                skip.add(buf[i : i + 1], "no sync byte")
                step = 1
            i += step
        del buf[:i]
        skip.flush(errors, self.stats)
        self.stats.frames += len(frames)
        return Parsed(tuple(frames), tuple(errors))

    def _try_berry(
        self, buf: bytearray, i: int, frames: list[BerryMedPacket], errors: list[FrameError], skip: SkipRun
    ) -> int:
        """Bytes consumed at i (0: no BERRY head here, -1: wait for more bytes)."""
        if buf[i] != BERRY_HEAD[0]:
            return 0
        if i + 1 == len(buf):
            return -1  # a lone 0xFF may be the start of FF AA
        if buf[i + 1] != BERRY_HEAD[1]:
            return 0
        if len(buf) - i < BERRY_LENGTH:
            return -1
        try:
            packet = decode_berry_packet(bytes(buf[i : i + BERRY_LENGTH]))
        except FrameError as err:
            self.stats.rejected_frames += 1
            skip.add(buf[i : i + 1], err.reason)
            return 1
        skip.flush(errors, self.stats)
        frames.append(packet)
        if self._mode == "auto":
            self._mode = "berry"
        return BERRY_LENGTH

    def _try_bci(
        self, buf: bytearray, i: int, frames: list[BerryMedPacket], errors: list[FrameError], skip: SkipRun
    ) -> int:
        if not buf[i] & 0x80:
            return 0
        tail = buf[i + 1 : i + BCI_LENGTH]
        for offset, byte in enumerate(tail, start=1):
            if byte & 0x80:  # the next head comes too early: everything before it is garbage
                skip.add(buf[i : i + offset], "frame cut short by the next sync byte")
                return offset
        if len(tail) < BCI_LENGTH - 1:
            return -1
        try:
            packet = decode_bci_packet(bytes(buf[i : i + BCI_LENGTH]))
        except FrameError as err:
            self.stats.rejected_frames += 1
            skip.add(buf[i : i + 1], err.reason)
            return 1
        skip.flush(errors, self.stats)
        frames.append(packet)
        return BCI_LENGTH
