"""Time: the gateway's clock sync state and the device clock offset (gateway/clock.py)."""

from __future__ import annotations

import ctypes
from datetime import UTC, datetime, timedelta

from gateway.clock import OFFSET_TOLERANCE_S, DeviceClock, GatewayClock, gateway_clock

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_the_gateway_clock_state_is_read_from_the_kernel() -> None:
    clock = gateway_clock()
    # The kernel answers adjtimex(2) on any Linux, container or not; its own view decides.
    libc = ctypes.CDLL(None)
    expected = "unsynchronised" if libc.adjtimex(ctypes.create_string_buffer(512)) == 5 else "synchronised"
    assert clock.source == "adjtimex"
    assert clock.sync == expected
    status = clock.as_status()
    assert status["sync"] == expected
    assert isinstance(status.get("max_error_s"), float)


def test_unknown_when_nothing_can_tell() -> None:
    assert GatewayClock("unknown").as_status() == {"sync": "unknown", "source": "none"}


def test_offset_is_learned_from_a_live_timestamp_and_kept_within_tolerance() -> None:
    clock = DeviceClock()
    assert clock.offset_s is None
    ahead = timedelta(hours=1)
    assert clock.observe((T0 + ahead).replace(tzinfo=None), T0) is True
    assert clock.offset_s == 3600.5  # whole-second timestamps are on average half a second behind
    # Jitter within the tolerance does not move it (ids of re-downloaded records must not change).
    assert clock.observe((T0 + ahead + timedelta(seconds=1)).replace(tzinfo=None), T0) is False
    assert clock.offset_s == 3600.5
    # The device's clock was changed: the offset follows.
    moved = T0 + ahead + timedelta(seconds=OFFSET_TOLERANCE_S + 5)
    assert clock.observe(moved.replace(tzinfo=None), T0) is True


def test_correction_rules() -> None:
    clock = DeviceClock(offset_s=3600.0)
    device_time = (T0 + timedelta(hours=1)).replace(tzinfo=None)
    stored = clock.correct(device_time, T0 + timedelta(minutes=40), clock_set=True, stored=True)
    assert (stored.measured_at, stored.source, stored.offset_s) == (T0, "device-corrected", 3600.0)
    # A live frame is never later than its arrival; a stored one may be up to the tolerance late.
    live = clock.correct(device_time, T0 - timedelta(seconds=1), clock_set=True)
    assert live.measured_at == T0 - timedelta(seconds=1)
    late = clock.correct(device_time, T0 - timedelta(seconds=1), clock_set=True, stored=True)
    assert late.measured_at == T0
    assert clock.correct(None, T0, clock_set=True).source == "gateway"
    unknown = DeviceClock()
    assert unknown.correct(
        device_time, T0 + timedelta(hours=2), clock_set=False
    ).measured_at == T0 + timedelta(hours=2)
    assert (
        unknown.correct(device_time, T0 + timedelta(hours=2), clock_set=True).source == "device-uncorrected"
    )


def test_a_stale_frame_does_not_drag_the_offset_back_but_a_new_connection_may() -> None:
    clock = DeviceClock()
    clock.observe(T0.replace(tzinfo=None), T0)  # fresh: device clock = gateway clock
    # A measurement taken 5 minutes ago, sent now without the "stored" flag.
    assert clock.observe((T0 - timedelta(minutes=5)).replace(tzinfo=None), T0 + timedelta(seconds=1)) is False
    assert clock.offset_s == 0.5
    stale = clock.correct((T0 - timedelta(minutes=5)).replace(tzinfo=None), T0, clock_set=True)
    assert stale.measured_at == T0 - timedelta(minutes=5, seconds=0.5)  # placed when it was measured
    clock.new_connection()  # e.g. the clock was set back an hour before this connection
    assert clock.observe((T0 - timedelta(hours=1)).replace(tzinfo=None), T0) is True
    assert clock.offset_s == -3599.5
