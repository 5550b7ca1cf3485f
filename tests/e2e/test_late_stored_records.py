"""A record an oximeter kept while out of reach reaches the ward as *late*, with its real measured time.

Gateway side (pure): a live spot-check teaches the pipeline the device clock's offset (an hour ahead),
then a stored record (RACP replay, Measurement Status bit 9) 30 minutes old is corrected with it.
Service side (pure): the wire payload is validated at the edge, stored as stream fields and shown as
REST JSON, whose `late` compares the stored time with the measured time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.contract import ValidReading, validate_reading
from api.reading_codec import to_api, to_fields
from emulator.frames import spot_check_frame
from emulator.racp import StoredRecord, stored_record_frame
from emulator.scenarios import Sample
from gateway.clock import DeviceClock
from gateway.model import Frame
from gateway.payload import encode_reading, reading_topic
from gateway.pipeline import DevicePipeline
from gateway.protocols import plx, registry

AHEAD = timedelta(hours=1)


def _stored_in_service(payload: bytes, stored_at: datetime) -> dict[str, object]:
    valid = validate_reading(reading_topic("gw-late"), payload)
    assert isinstance(valid, ValidReading), valid
    return to_api(f"{int(stored_at.timestamp() * 1000)}-0", to_fields(valid))


def test_a_replayed_stored_record_is_late_and_a_live_one_is_not() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    pipeline = DevicePipeline(
        registry.PLX, gateway_id="gw-late", address="C0:FF:EE:00:00:81", mode="auto",
        continuous_rate_hz=1.0, clock=DeviceClock(),
    )  # fmt: skip
    sample = Sample(94.0, 88.0, None)
    live = Frame(plx.SPOT_CHECK_UUID, spot_check_frame(sample, now + AHEAD), now)
    record = StoredRecord(0, sample, now + AHEAD - timedelta(minutes=30))
    replay = Frame(plx.SPOT_CHECK_UUID, stored_record_frame(record), now + timedelta(seconds=3))
    out = pipeline.feed([live, replay], model="Emu")
    live_reading, stored_reading = out.readings
    shown_live = _stored_in_service(encode_reading(live_reading), now + timedelta(seconds=1))
    shown_stored = _stored_in_service(encode_reading(stored_reading), now + timedelta(seconds=4))
    assert shown_live["late"] is False
    assert shown_stored["late"] is True
    measured = datetime.fromisoformat(str(shown_stored["measured_at"]))
    assert abs(measured - (now - timedelta(minutes=30))) < timedelta(seconds=2)
    assert shown_stored["status"]["measurement"] & (1 << 9)  # type: ignore[index]


def test_a_stored_record_is_late_even_when_downloaded_a_minute_after_it_was_measured() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    pipeline = DevicePipeline(
        registry.PLX, gateway_id="gw-late", address="C0:FF:EE:00:00:82", mode="auto",
        continuous_rate_hz=1.0, clock=DeviceClock(),
    )  # fmt: skip
    sample = Sample(93.0, 80.0, None)
    live = Frame(plx.SPOT_CHECK_UUID, spot_check_frame(sample, now), now)
    record = StoredRecord(0, sample, now - timedelta(minutes=1))
    replay = Frame(plx.SPOT_CHECK_UUID, stored_record_frame(record), now + timedelta(seconds=1))
    _, stored_reading = pipeline.feed([live, replay], model="Emu").readings
    shown = _stored_in_service(encode_reading(stored_reading), now + timedelta(seconds=2))
    assert shown["late"] is True  # from measurement storage: never shown as happening now
