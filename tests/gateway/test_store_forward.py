"""Store and forward: the outbox's size policy, and what the ward sees of it on the status topic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.model import Reading
from gateway.mqtt_client import GatewayMqtt
from gateway.outbox import Outbox
from gateway.payload import encode_reading, reading_topic, status_topic
from gateway.settings import DEFAULT_OUTBOX_MAX_ROWS
from tests.gateway.gateway_harness import STATUSES
from tests.gateway.mqtt_helpers import Subscriber, wait_until
from tests.services import MosquittoBroker

pytestmark = pytest.mark.integration

WEEK_TWO_DEVICES_1HZ = 7 * 24 * 3600 * 2
DISK_BUDGET_BYTES = 1.5e9  # docs/gateway.md: "about 1 GB for a week of two oximeters"


def _readings(gateway_id: str, n: int) -> list[tuple[str, str, bytes]]:
    """Realistic reading.v1 payloads, as the gateway stores them (with the optional fields)."""
    start = datetime(2026, 11, 30, tzinfo=UTC)
    out = []
    for i in range(n):
        at = start + timedelta(seconds=i)
        reading = Reading(
            measured_at=at, received_at=at, mode="continuous", spo2=96.0 + i % 3, pulse=70.0 + i % 7,
            perfusion_index=4.2, measurement_status=None, device_sensor_status=0,
            device_clock_not_set=False, gateway_id=gateway_id, device_address="00:A0:50:12:34:56",
            protocol="berrymed-bci", model="BM1000C", frame=bytes([0x86, 0x30, 0x06, 0x48, 0x61]),
        )  # fmt: skip
        out.append((reading.reading_id, reading_topic(gateway_id), encode_reading(reading)))
    return out


def test_the_default_bound_holds_a_week_of_two_oximeters_and_fits_the_disk(tmp_path: Path) -> None:
    assert DEFAULT_OUTBOX_MAX_ROWS >= WEEK_TWO_DEVICES_1HZ
    sample = 20_000
    with Outbox(tmp_path / "o.sqlite3", max_rows=DEFAULT_OUTBOX_MAX_ROWS) as box:
        items = _readings("gw-size", sample)
        for i in range(0, sample, 1000):
            box.put_many(items[i : i + 1000])
        assert box.depth() == sample
        assert box.dropped() == 0
    size = sum(p.stat().st_size for p in tmp_path.glob("o.sqlite3*"))
    projected = size / sample * WEEK_TWO_DEVICES_1HZ
    assert projected < DISK_BUDGET_BYTES, f"a week would take {projected / 1e9:.2f} GB"


def test_dropped_readings_are_counted_and_reported_on_the_status_topic(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    gid = f"gw-{uuid.uuid4().hex[:10]}"
    with Outbox(tmp_path / "o.sqlite3", max_rows=1000) as box:
        items = _readings(gid, 1050)
        box.put_many(items[:600])
        box.put_many(items[600:])  # 50 over the bound: the 50 oldest go, counted
        assert box.dropped() == 50
        assert [r.reading_id for r in box.pending(1)] == [items[50][0]]  # oldest kept first
        statuses = Subscriber(mosquitto.port, status_topic(gid))
        readings = Subscriber(mosquitto.port, reading_topic(gid))
        mqtt = GatewayMqtt(
            gateway_id=gid,
            host="127.0.0.1",
            port=mosquitto.port,
            outbox=box,
            status_interval_s=1.0,
            status_extra=lambda: {"clock": {"sync": "unknown"}},
        )
        try:
            mqtt.start()
            wait_until(lambda: box.depth() == 0, message="flushed")
            wait_until(lambda: len(statuses.snapshot()) >= 3, message="heartbeats")
            wait_until(
                lambda: len({m.payload for m in readings.snapshot()}) == 1000, message="all kept readings"
            )
        finally:
            mqtt.stop()
            statuses.close()
            readings.close()
    online = [s for s in statuses.json_payloads() if s["state"] == "online"]
    for status in online:
        STATUSES.validate(status)
        assert status["outbox_dropped"] == 50
        assert status["outbox_capacity"] == 1000
        assert status["clock"] == {"sync": "unknown"}
    assert online[-1]["outbox_depth"] == 0
    ids = [json.loads(m.payload)["reading_id"] for m in readings.snapshot()]
    assert list(dict.fromkeys(ids)) == [rid for rid, _, _ in items[50:]]  # oldest first
