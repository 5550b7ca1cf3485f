"""GatewayMqtt against a real Mosquitto: QoS 1 from the outbox, PUBACK-gated deletes, outages, will."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from referencing import Registry, Resource

from gateway.model import DeviceStatus
from gateway.mqtt_client import GatewayMqtt
from gateway.outbox import Outbox
from gateway.payload import reading_topic, status_topic
from tests.gateway.mqtt_helpers import Subscriber, wait_until
from tests.services import MosquittoBroker, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
STATUS_SCHEMA = json.loads((ROOT / "docs" / "contract" / "status.v1.schema.json").read_text())
READING_SCHEMA = json.loads((ROOT / "docs" / "contract" / "reading.v1.schema.json").read_text())


def _status_validator() -> jsonschema.Draft202012Validator:
    # status.v1 borrows the timestamp definition from reading.v1 by a relative $ref.
    reading = Resource.from_contents(READING_SCHEMA)
    registry: Registry[Any] = Registry().with_resource(READING_SCHEMA["$id"], reading)
    return jsonschema.Draft202012Validator(STATUS_SCHEMA, registry=registry)


def _gid() -> str:
    return f"gw-{uuid.uuid4().hex[:10]}"


def _fill(box: Outbox, gid: str, start: int, n: int) -> list[str]:
    ids = [f"{i:032x}" for i in range(start, start + n)]
    box.put_many([(rid, reading_topic(gid), json.dumps({"reading_id": rid}).encode()) for rid in ids])
    return ids


def _first_seen(sub: Subscriber) -> list[str]:
    seen: list[str] = []
    for payload in sub.json_payloads():
        if payload["reading_id"] not in seen:
            seen.append(payload["reading_id"])
    return seen


@pytest.fixture
def persistent_mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of the test's own whose persistence is checked to really work (see tests/services.py)."""
    broker = MosquittoBroker(name="mosquitto", workdir=tmp_path)
    broker.start()
    yield broker
    broker.stop()
    log = (tmp_path / "mosquitto.log").read_text(errors="replace")
    assert "Error saving" not in log, log
    assert "Error saving" not in (tmp_path / "mosquitto.log").read_text()


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    outbox = Outbox(tmp_path / "outbox.sqlite3", max_rows=100_000)
    yield outbox
    outbox.close()


def _client(gid: str, port: int, box: Outbox, **kw: Any) -> GatewayMqtt:
    return GatewayMqtt(gateway_id=gid, host="127.0.0.1", port=port, outbox=box, reconnect_max_s=1, **kw)


def test_readings_arrive_at_qos1_and_rows_go_after_puback(mosquitto: MosquittoBroker, box: Outbox) -> None:
    gid = _gid()
    sub = Subscriber(mosquitto.port, reading_topic(gid))
    mqtt = _client(gid, mosquitto.port, box)
    try:
        ids = _fill(box, gid, 0, 50)
        mqtt.start()
        mqtt.notify()
        wait_until(lambda: len(sub.snapshot()) >= 50, message="50 readings at the subscriber")
        assert all(m.qos == 1 and m.topic == reading_topic(gid) for m in sub.snapshot())
        assert _first_seen(sub) == ids
        wait_until(lambda: box.depth() == 0, message="acknowledged rows deleted")
        assert mqtt.sent == 50
    finally:
        mqtt.stop()
        sub.close()


def test_rows_stay_until_the_broker_acknowledges(own_mosquitto: MosquittoBroker, box: Outbox) -> None:
    gid = _gid()
    mqtt = _client(gid, own_mosquitto.port, box)
    assert own_mosquitto.proc is not None
    mqtt.start()
    try:
        wait_until(lambda: mqtt.connected, message="connected")
        own_mosquitto.proc.send_signal(signal.SIGSTOP)  # the broker receives nothing and acks nothing
        try:
            _fill(box, gid, 0, 20)
            mqtt.notify()
            wait_until(lambda: mqtt.inflight() == 20, message="20 readings handed to paho")
            # Handed to the network but not acknowledged: every row is still in the outbox.
            assert box.depth() == 20
            assert mqtt.sent == 0
        finally:
            own_mosquitto.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: box.depth() == 0, message="rows deleted after PUBACK")
        assert mqtt.sent == 20
    finally:
        mqtt.stop()


def test_broker_outage_loses_nothing_and_keeps_order(
    persistent_mosquitto: MosquittoBroker, box: Outbox
) -> None:
    own_mosquitto = persistent_mosquitto
    gid = _gid()
    sub = Subscriber(own_mosquitto.port, reading_topic(gid), client_id=f"sub-{gid}", persistent=True)
    mqtt = _client(gid, own_mosquitto.port, box)
    mqtt.start()
    try:
        ids = _fill(box, gid, 0, 20)
        mqtt.notify()
        wait_until(lambda: len(_first_seen(sub)) == 20, message="first 20 readings")

        own_mosquitto.stop()
        wait_until(lambda: not mqtt.connected, message="gateway notices the broker is gone")
        ids += _fill(box, gid, 20, 30)
        mqtt.notify()
        for k in range(50, 80, 10):  # readings keep coming during the outage
            ids += _fill(box, gid, k, 10)
            mqtt.notify()
        assert box.depth() == 60  # accumulated, none lost

        own_mosquitto.start()
        wait_until(lambda: len(set(_first_seen(sub))) >= 80, message="all 80 readings after the outage")
        assert _first_seen(sub) == ids  # every id, oldest first; duplicates would be fine
        wait_until(lambda: box.depth() == 0, message="outbox drained")
    finally:
        mqtt.stop()
        sub.close()


def test_restart_resends_what_was_pending(own_mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    gid = _gid()
    path = tmp_path / "outbox.sqlite3"
    own_mosquitto.stop()
    first_box = Outbox(path, max_rows=1000)
    first = _client(gid, own_mosquitto.port, first_box)
    first.start()
    ids = _fill(first_box, gid, 0, 25)
    first.notify()
    first.stop()  # the "process" ends with the broker unreachable; paho's memory is gone
    first_box.close()

    own_mosquitto.start()
    sub = Subscriber(own_mosquitto.port, reading_topic(gid))
    box = Outbox(path, max_rows=1000)
    assert box.depth() == 25
    second = _client(gid, own_mosquitto.port, box)
    second.start()
    try:
        wait_until(lambda: len(_first_seen(sub)) >= 25, message="pending readings re-sent")
        assert _first_seen(sub) == ids
        wait_until(lambda: box.depth() == 0, message="outbox drained")
    finally:
        second.stop()
        sub.close()
        box.close()


def test_backlog_drains_with_bounded_inflight(mosquitto: MosquittoBroker, box: Outbox) -> None:
    gid = _gid()
    sub = Subscriber(mosquitto.port, reading_topic(gid))
    ids = _fill(box, gid, 0, 3000)
    mqtt = _client(gid, mosquitto.port, box, max_inflight=50)
    mqtt.start()
    try:
        wait_until(lambda: box.depth() == 0, timeout=60, message="3000-row backlog drained")
        wait_until(lambda: len(set(_first_seen(sub))) == 3000, message="3000 readings at the subscriber")
        assert _first_seen(sub) == ids
        assert 0 < mqtt.inflight_high_water <= 50
    finally:
        mqtt.stop()
        sub.close()


def _statuses(sub: Subscriber) -> list[dict[str, Any]]:
    return [p for p in sub.json_payloads() if isinstance(p, dict)]


def test_online_status_is_retained_and_valid(mosquitto: MosquittoBroker, box: Outbox) -> None:
    gid = _gid()
    mqtt = _client(gid, mosquitto.port, box)
    _fill(box, gid, 0, 3)
    mqtt.set_devices([DeviceStatus("C0:FF:EE:00:00:01", "searching")])
    mqtt.start()
    validator = _status_validator()
    try:
        wait_until(lambda: box.depth() == 0, message="drained")
        late = Subscriber(mosquitto.port, status_topic(gid))  # joins after: sees the retained status
        wait_until(lambda: bool(late.snapshot()), message="retained status")
        first = late.snapshot()[0]
        assert first.retain
        status = first.json()
        validator.validate(status)
        assert status["state"] == "online"
        assert status["devices"] == [
            {"address": "C0:FF:EE:00:00:01", "state": "searching", "protocol": None, "model": None}
        ]
        mqtt.set_devices([DeviceStatus("C0:FF:EE:00:00:01", "connected", "plx-continuous", "Emu")])
        wait_until(
            lambda: any(s.get("devices", [{}])[0].get("state") == "connected" for s in _statuses(late)),
            message="status republished on device change",
        )
        late.close()
    finally:
        mqtt.stop()
    after = Subscriber(mosquitto.port, status_topic(gid))
    try:
        wait_until(lambda: bool(after.snapshot()), message="retained offline status")
        offline = after.snapshot()[-1].json()
        validator.validate(offline)
        assert offline["state"] == "offline"
        assert offline["reason"] == "shutdown"  # clean stop, not the last will
    finally:
        after.close()


_CRASHING_GATEWAY = """
import sys, time
from gateway.mqtt_client import GatewayMqtt
from gateway.outbox import Outbox
box = Outbox(sys.argv[1], max_rows=1000)
mqtt = GatewayMqtt(gateway_id=sys.argv[2], host="127.0.0.1", port=int(sys.argv[3]), outbox=box)
mqtt.start()
while not mqtt.connected:
    time.sleep(0.05)
print("connected", flush=True)
time.sleep(600)
"""


def test_last_will_on_abrupt_death(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    gid = _gid()
    sub = Subscriber(mosquitto.port, status_topic(gid))
    child = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_GATEWAY, str(tmp_path / "o.sqlite3"), gid, str(mosquitto.port)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"connected"
        wait_until(lambda: any(s["state"] == "online" for s in _statuses(sub)), message="online status")
        child.send_signal(signal.SIGKILL)  # no DISCONNECT: the broker must publish the will
        child.wait(timeout=10)
        wait_until(lambda: _statuses(sub)[-1]["state"] == "offline", message="last will")
        will = {"v": 1, "gateway_id": gid, "state": "offline", "reason": "connection-lost"}
        assert _statuses(sub)[-1] == will
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        sub.close()
    late = Subscriber(mosquitto.port, status_topic(gid))
    try:
        wait_until(lambda: bool(late.snapshot()), message="retained will")
        assert late.snapshot()[0].retain
        assert late.snapshot()[0].json()["reason"] == "connection-lost"
    finally:
        late.close()


def test_unreachable_broker_is_reported_once_and_never_crashes(
    box: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    gid = _gid()
    port = free_port()  # nothing listens here
    mqtt = _client(gid, port, box)
    mqtt.start()
    try:
        _fill(box, gid, 0, 5)
        mqtt.notify()
        wait_until(lambda: "Cannot reach the ward's server" in caplog.text, message="operator warning")
        wait_until(lambda: mqtt.outbox.depth() == 5, message="rows kept")
        # Several retries later (paho retries every second here), still one warning and nothing lost.
        time.sleep(2.5)
        assert caplog.text.count("Cannot reach the ward's server") == 1
        assert box.depth() == 5
    finally:
        mqtt.stop()
