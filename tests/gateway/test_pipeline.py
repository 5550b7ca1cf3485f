"""DevicePipeline (pure): frames with their receive times in, readings out.

Frames come from the emulator's own encoders (independent of the gateway's decoders); times are
given, so a 70-second NHS spot check runs in milliseconds.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from emulator.frames import continuous_frame, spot_check_frame
from emulator.racp import StoredRecord, stored_record_frame
from emulator.scenarios import PROBE_OFF, Sample, probe_off, stable
from emulator.vendors.encode_berrymed import bci_frame_for, encode_bci_frame
from gateway.clock import DeviceClock
from gateway.config import ReduceMode
from gateway.model import Frame
from gateway.payload import to_payload
from gateway.pipeline import SAMPLED_METHOD, DevicePipeline
from gateway.protocols import berrymed, plx, registry
from gateway.reduce import NHS_METHOD

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ADDRESS = "00:A0:50:00:00:01"


def _pipeline(
    profile: registry.ProtocolProfile, mode: ReduceMode = "auto", rate: float = 1.0
) -> DevicePipeline:
    return DevicePipeline(
        profile, gateway_id="gw-1", address=ADDRESS, mode=mode, continuous_rate_hz=rate, clock=DeviceClock()
    )


def _bci_frames(samples: list[Sample], hz: int = 100) -> list[Frame]:
    """One 20-byte notification (4 frames) per 40 ms, as a BM1000C sends them; 100 frames per sample."""
    stream = b"".join(
        encode_bci_frame(bci_frame_for(sample, second * hz + i)) for second, sample in enumerate(samples)
        for i in range(hz)
    )  # fmt: skip
    return [
        Frame(berrymed.NOTIFY_UUID, stream[i : i + 20], T0 + timedelta(seconds=i / 5 / hz))
        for i in range(0, len(stream), 20)
    ]


def test_a_100hz_stream_becomes_one_reading_per_second_of_whole_frames() -> None:
    samples = stable(seed=3).take(10)
    pipeline = _pipeline(registry.BERRYMED)
    out = pipeline.feed(_bci_frames(samples), model="BM1000C")
    # One per second on a grid that lets a frame through up to a quarter second early (reduce.py).
    assert len(out.readings) in (10, 11)
    assert not out.rejected
    times = [r.measured_at for r in out.readings]
    assert all(b - a >= timedelta(seconds=0.75) for a, b in itertools.pairwise(times))
    for reading in out.readings:
        second = int((reading.measured_at - T0).total_seconds())
        assert reading.protocol == berrymed.BCI
        assert reading.spo2 == samples[second].spo2  # pulse and SpO2 from the same frame
        assert len(reading.frame) == 5
        assert reading.derivation is not None
        assert reading.derivation.method == SAMPLED_METHOD
    # How many stream frames each reading stands for (the first has none before it).
    counts = [r.derivation.samples for r in out.readings if r.derivation is not None]
    assert counts[0] == 1
    assert all(count is not None and count >= 75 for count in counts[1:])


def test_the_rate_is_configurable() -> None:
    out = _pipeline(registry.BERRYMED, rate=4).feed(_bci_frames(stable().take(5)), model=None)
    assert 20 <= len(out.readings) <= 21


def test_spot_check_mode_gives_one_nhs_reading_with_its_derivation() -> None:
    # 70 s on the finger: SpO2 94 for 40 s, then 96 held steady; then the finger comes out.
    samples = [Sample(94.0, 80.0, 3.0)] * 40 + [Sample(96.0, 78.0, 3.5)] * 30 + [PROBE_OFF] * 3
    frames = _bci_frames(samples, hz=10)
    out = _pipeline(registry.BERRYMED, mode="spot-check").feed(frames, model="BM1000C")
    assert len(out.readings) == 1
    reading = out.readings[0]
    assert reading.mode == "spot-check"
    assert reading.spo2 == 96.0
    assert reading.pulse == 78.0
    assert reading.derivation is not None
    assert reading.derivation.method == NHS_METHOD
    assert reading.derivation.window_start == frames[0].received_at
    payload = to_payload(reading)
    assert payload["derivation"]["method"] == NHS_METHOD
    assert "steady" in payload["derivation"]["detail"]
    assert payload["derivation"]["samples"] >= 690


def test_a_spot_check_cut_short_gives_no_reading_and_says_why() -> None:
    samples = [Sample(97.0, 70.0, 4.0)] * 20 + [PROBE_OFF] * 2
    out = _pipeline(registry.BERRYMED, mode="spot-check").feed(_bci_frames(samples, hz=10), model=None)
    assert not out.readings
    assert [o.reason for o in out.no_result] == ["finger removed after 20 s; the NHS method needs 60 s"]


def test_disconnect_ends_a_spot_check_session() -> None:
    samples = [Sample(95.0, 75.0, 4.0)] * 70
    frames = _bci_frames(samples, hz=10)
    pipeline = _pipeline(registry.BERRYMED, mode="spot-check")
    assert not pipeline.feed(frames, model=None).readings
    out = pipeline.finish(frames[-1].received_at + timedelta(seconds=0.5), model=None)
    assert [r.spo2 for r in out.readings] == [95.0]


def test_plx_frames_are_readings_one_for_one_in_auto_mode() -> None:
    samples = probe_off(valid_ticks=3, off_ticks=2).take(6)
    frames = [Frame(plx.CONTINUOUS_UUID, continuous_frame(s), T0 + timedelta(seconds=i / 20))
              for i, s in enumerate(samples)]  # fmt: skip
    out = _pipeline(registry.PLX).feed(frames, model="Emu")
    assert [r.frame for r in out.readings] == [f.data for f in frames]
    assert [r.spo2 is None for r in out.readings] == [s.spo2 is None for s in samples]
    assert all(r.derivation is None and r.time_source is None for r in out.readings)
    # In "continuous" mode the same 20 Hz stream is reduced to the configured rate.
    assert len(_pipeline(registry.PLX, mode="continuous").feed(frames, model=None).readings) == 1


def test_device_time_is_corrected_by_the_offset_seen_on_live_frames() -> None:
    pipeline = _pipeline(registry.PLX)
    ahead = timedelta(hours=1, seconds=17)  # a device set to summer time, and a bit fast
    sample = Sample(96.0, 70.0, None)
    live_at = T0 + timedelta(minutes=30)
    live = Frame(plx.SPOT_CHECK_UUID, spot_check_frame(sample, live_at + ahead), live_at)
    out = pipeline.feed([live], model=None)
    assert out.offset_changed
    [reading] = out.readings
    assert reading.time_source == "device-corrected"
    assert timedelta(0) <= reading.received_at - reading.measured_at < timedelta(seconds=1)
    assert reading.device_offset_s == pytest.approx(ahead.total_seconds(), abs=1)
    # A stored record measured 25 minutes earlier (device clock), replayed now: back in gateway time.
    record = StoredRecord(0, sample, T0 + timedelta(minutes=5) + ahead)
    stored = Frame(plx.SPOT_CHECK_UUID, stored_record_frame(record), live_at + timedelta(seconds=2))
    [record] = pipeline.feed([stored], model=None).readings
    assert record.from_storage
    assert abs(record.measured_at - (T0 + timedelta(minutes=5))) < timedelta(seconds=1)
    assert to_payload(record)["status"]["from_storage"] is True
    assert to_payload(record)["clock"]["source"] == "device-corrected"


def test_without_an_observed_offset_a_stored_record_keeps_the_device_time_marked_uncorrected() -> None:
    pipeline = _pipeline(registry.PLX)
    at = T0 + timedelta(hours=2)
    frame = Frame(plx.SPOT_CHECK_UUID, stored_record_frame(StoredRecord(0, Sample(95.0, 71.0, None), T0)), at)
    [reading] = pipeline.feed([frame], model=None).readings
    assert reading.time_source == "device-uncorrected"
    assert reading.measured_at == T0
    assert reading.device_offset_s is None


def test_bad_bytes_are_rejected_with_their_reason_and_the_stream_goes_on() -> None:
    pipeline = _pipeline(registry.BERRYMED, rate=100)
    good = _bci_frames(stable().take(1), hz=20)
    junk = Frame(berrymed.NOTIFY_UUID, b"\x00\x01\x02", T0)
    out = pipeline.feed([good[0], junk, *good[1:]], model=None)
    assert len(out.rejected) == 1
    frame, data, reason = out.rejected[0]
    assert frame is junk
    assert data == b"\x00\x01\x02"
    assert "sync" in reason
    assert pipeline.decoder.stream.stats.frames == 20  # type: ignore[attr-defined]  # none lost
    assert len(out.readings) == len(good)  # one per notification: its frames share a receive time
