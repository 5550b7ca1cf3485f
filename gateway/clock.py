"""Time: the gateway's own clock sync state, and correcting device timestamps to the gateway clock.

Device clocks on home oximeters are set by hand (or not at all), drift, and carry no time zone (PLX
Date Time, ble-protocols.md §1.3). The gateway therefore measures, per device, the offset between the
device clock and its own: when a live timestamped measurement arrives, the device measured it "just
now", so `device timestamp - receive time` is the offset (minus a transmission delay well under the
1 s resolution of the timestamp). Stored records downloaded later are corrected with that offset.

The offset kept is only replaced when a new observation differs by more than OFFSET_TOLERANCE_S:
the reading id hashes measured_at (docs/wire-contract.md), so a stored record downloaded twice must
come out with the same measured_at, not one that moved by a few hundred milliseconds of jitter.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from gateway.model import TimeSource

log = logging.getLogger(__name__)

ClockSync = Literal["synchronised", "unsynchronised", "unknown"]
OFFSET_TOLERANCE_S: Final = 2.0
# PLX Date Time has whole seconds (§1.3), so a timestamp is on average half a second before the moment.
_HALF_SECOND: Final = timedelta(seconds=0.5)
# adjtimex(2): the call returns the clock state; TIME_ERROR (5) = "clock not synchronised".
_TIME_ERROR: Final = 5
_TIMEX_BYTES: Final = 512  # larger than struct timex on every Linux ABI; modes = 0 only reads
_MAXERROR_OFFSET: Final = 3 * ctypes.sizeof(ctypes.c_long)  # modes (padded), offset, freq, maxerror


@dataclass(frozen=True, slots=True)
class GatewayClock:
    """What the gateway knows about its own clock, for the status topic."""

    sync: ClockSync
    max_error_s: float | None = None  # the kernel's bound on the clock error, when it gives one
    source: str = "none"  # "adjtimex", "timedatectl" or "none"

    def as_status(self) -> dict[str, object]:
        out: dict[str, object] = {"sync": self.sync, "source": self.source}
        if self.max_error_s is not None:
            out["max_error_s"] = round(self.max_error_s, 3)
        return out


def _adjtimex() -> GatewayClock | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        buffer = ctypes.create_string_buffer(_TIMEX_BYTES)  # zeroed: modes = 0 reads, changes nothing
        state = int(libc.adjtimex(buffer))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    max_error_us = ctypes.c_long.from_buffer(buffer, _MAXERROR_OFFSET).value
    sync: ClockSync = "unsynchronised" if state == _TIME_ERROR else "synchronised"
    return GatewayClock(sync, max_error_us / 1e6 if max_error_us >= 0 else None, "adjtimex")


def _timedatectl() -> GatewayClock | None:
    binary = shutil.which("timedatectl")
    if binary is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv of a system tool
            [binary, "show", "--property=NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    value = result.stdout.strip()
    if result.returncode != 0 or value not in ("yes", "no"):
        return None
    return GatewayClock("synchronised" if value == "yes" else "unsynchronised", None, "timedatectl")


def gateway_clock() -> GatewayClock:
    """The kernel's view first (works in containers and without systemd), then timedatectl."""
    return _adjtimex() or _timedatectl() or GatewayClock("unknown")


@dataclass(frozen=True, slots=True)
class Corrected:
    measured_at: datetime
    source: TimeSource
    offset_s: float | None


class DeviceClock:
    """The observed offset of one device's clock from the gateway clock (pure: times are passed in).

    A frame can only be delayed on its way, never early, so the largest `device time - receive time`
    seen on a connection is the best estimate (a device that sends a measurement taken a while ago
    without marking it stored would otherwise drag the offset back). A new connection starts a new
    estimate, so a clock that was set back (end of summer time) is followed.
    """

    def __init__(self, offset_s: float | None = None) -> None:
        self._offset = None if offset_s is None else timedelta(seconds=offset_s)
        self._best: timedelta | None = None  # this connection's largest observation

    @property
    def offset_s(self) -> float | None:
        return None if self._offset is None else self._offset.total_seconds()

    def new_connection(self) -> None:
        self._best = None

    def observe(self, device_time: datetime, received_at: datetime) -> bool:
        """A live measurement stamped `device_time` (device clock, naive) arrived at `received_at`.

        Returns True when the kept offset changed (worth remembering across restarts).
        """
        observed = device_time + _HALF_SECOND - received_at.replace(tzinfo=None)
        self._best = observed if self._best is None else max(self._best, observed)
        tolerance = timedelta(seconds=OFFSET_TOLERANCE_S)
        if self._offset is not None and abs(self._best - self._offset) <= tolerance:
            return False
        self._offset = self._best
        return True

    def correct(
        self, device_time: datetime | None, received_at: datetime, *, clock_set: bool, stored: bool = False
    ) -> Corrected:
        """measured_at for a frame stamped `device_time` (None: no timestamp) received at `received_at`.

        A device whose clock "is not set" still counts seconds, so an observed offset corrects it; without
        one its timestamp means nothing and the receive time is used. A device cannot report the future:
        a live frame is never later than its receive time. A stored record may come out up to
        OFFSET_TOLERANCE_S late (the offset is only that precise) and is left so, because its id must
        not depend on when it was downloaded; later than that, the receive time is used.
        """
        if device_time is None:
            return Corrected(received_at, "gateway", None)
        if self._offset is not None:
            corrected = (device_time - self._offset).replace(tzinfo=received_at.tzinfo)
            limit = received_at + timedelta(seconds=OFFSET_TOLERANCE_S) if stored else received_at
            measured = corrected if corrected <= limit else received_at
            return Corrected(measured, "device-corrected", self.offset_s)
        if not clock_set:
            return Corrected(received_at, "gateway", None)
        # Nothing observed yet: the device clock is taken as UTC, as reading_from_plx does.
        as_utc = device_time.replace(tzinfo=received_at.tzinfo)
        return Corrected(min(as_utc, received_at), "device-uncorrected", None)
