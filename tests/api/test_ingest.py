"""api/ingest.py end to end through a real Mosquitto into a real Redis."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from pydantic import ValidationError

from api import keys
from api.contract import partition_of
from api.ingest import IngestService
from api.reading_codec import decode_fields
from api.settings import ApiSettings
from tests.api.factories import DEVICE, GATEWAY, TOPIC, encode, enrol, golden, payload, readings_topic
from tests.conftest import load_golden
from tests.services import MosquittoBroker, RedisServer

pytestmark = pytest.mark.integration

PID = "p-ingest-1"
STATUS_TOPIC = "oxiward/v1/status/gw-0001"


def wait_for(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.05)


def make_settings(redis_url: str, mqtt_url: str, client_id: str, **kw: Any) -> ApiSettings:
    return ApiSettings(
        redis_url=redis_url,
        mqtt_url=mqtt_url,
        api_tokens="t" * 20,
        mqtt_client_id=client_id,
        ingest_linger_ms=2,
        **kw,
    )


def forget_session(mqtt_url: str, client_id: str) -> None:
    """Drop the persistent session a test left on a shared broker (clean session connect)."""
    u = urlparse(mqtt_url)
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    try:
        c.connect(u.hostname or "127.0.0.1", u.port or 1883)
        c.loop_start()
        c.disconnect()
        c.loop_stop()
    except OSError:
        pass


def publish(mqtt_url: str, messages: list[tuple[str, bytes]], *, retain: bool = False) -> None:
    u = urlparse(mqtt_url)
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"pub-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv311,
    )
    c.connect(u.hostname or "127.0.0.1", u.port or 1883)
    c.loop_start()
    try:
        infos = [c.publish(t, p, qos=1, retain=retain) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout=20)
            assert info.is_published()
    finally:
        c.disconnect()
        c.loop_stop()


class Running:
    """An IngestService plus the things a test needs to look at."""

    def __init__(self, redis_url: str, mqtt_url: str, client_id: str | None = None, **kw: Any) -> None:
        self.client_id = client_id or f"ingest-{uuid.uuid4().hex[:8]}"
        self.mqtt_url = mqtt_url
        self.settings = make_settings(redis_url, mqtt_url, self.client_id, **kw)
        self.service = IngestService(self.settings, reconnect_delay=(1, 2))

    def start(self) -> Running:
        self.service.start()
        wait_for(lambda: self.service.connected, what="ingest connected")
        return self

    def stop(self) -> None:
        self.service.stop(timeout=5)


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    enrol(client, PID, "ward-a", DEVICE, "Bed 1")
    yield client
    client.close()


@pytest.fixture
def ingest(redis_url: str, mosquitto: MosquittoBroker, r: redis.Redis) -> Iterator[Running]:
    run = Running(redis_url, mosquitto.url).start()
    yield run
    run.stop()
    forget_session(mosquitto.url, run.client_id)


def stored_ids(r: redis.Redis, pid: str = PID) -> list[str]:
    return [decode_fields(f)["r"] for _, f in r.xrange(keys.readings(pid))]


def dead_letters(r: redis.Redis) -> list[dict[bytes, bytes]]:
    return [f for _, f in r.xrange(keys.DEAD_LETTER)]


ACCEPT = load_golden("accept-")


def test_golden_accept_payloads_reach_the_patient_stream(
    ingest: Running, r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    messages = [(TOPIC, json.dumps(g["payload"]).encode()) for _, g in ACCEPT]
    publish(ingest.mqtt_url, messages)
    wait_for(lambda: len(stored_ids(r)) == len(ACCEPT), what="all golden readings stored")
    assert stored_ids(r) == [g["payload"]["reading_id"] for _, g in ACCEPT]  # in publish order
    assert r.xlen(keys.eval_stream(keys.shard_of(PID))) == len(ACCEPT)
    stats = ingest.service.stats
    assert (stats.stored, stats.acked) == (len(ACCEPT), len(ACCEPT))
    # Nothing about the patient or the payloads in the logs.
    text = caplog.text
    assert PID not in text
    assert all(g["payload"]["reading_id"] not in text for _, g in ACCEPT)
    assert DEVICE not in text


def test_a_bad_payload_is_dead_lettered_and_the_next_good_one_stored(ingest: Running, r: redis.Redis) -> None:
    bad = golden("reject-not-json")["raw"].encode()
    good = payload(spo2=95)
    publish(ingest.mqtt_url, [(TOPIC, bad), (TOPIC, encode(good))])
    wait_for(lambda: stored_ids(r) == [good["reading_id"]], what="good reading stored")
    [dl] = dead_letters(r)
    assert (dl[b"reason"], dl[b"raw"], dl[b"topic"]) == (b"malformed", bad, TOPIC.encode())
    assert ingest.service.connected


def test_every_golden_rejection_is_dead_lettered_with_its_reason(ingest: Running, r: redis.Redis) -> None:
    rejects = load_golden("reject-")
    msgs = [
        (TOPIC, g["raw"].encode() if "raw" in g else json.dumps(g["payload"]).encode()) for _, g in rejects
    ]
    publish(ingest.mqtt_url, msgs)
    wait_for(lambda: len(dead_letters(r)) == len(rejects), what="every rejection dead-lettered")
    assert [dl[b"reason"].decode() for dl in dead_letters(r)] == [g["reason"] for _, g in rejects]
    assert stored_ids(r) == []


def test_duplicates_are_stored_once(ingest: Running, r: redis.Redis) -> None:
    p = encode(payload(spo2=97))
    publish(ingest.mqtt_url, [(TOPIC, p), (TOPIC, p), (TOPIC, p)])
    wait_for(lambda: ingest.service.stats.duplicates == 2, what="two duplicates counted")
    assert len(stored_ids(r)) == 1
    assert r.hget(keys.METRICS, "duplicates") == b"2"


def test_gateway_status_is_kept(ingest: Running, r: redis.Redis) -> None:
    publish(ingest.mqtt_url, [(STATUS_TOPIC, json.dumps(golden("status-online")["payload"]).encode())])
    wait_for(lambda: r.hget(keys.gateway_status("gw-0001"), "state") == b"online", what="status stored")
    publish(ingest.mqtt_url, [(STATUS_TOPIC, json.dumps(golden("status-last-will")["payload"]).encode())])
    wait_for(lambda: r.hget(keys.gateway_status("gw-0001"), "state") == b"offline", what="last will stored")


def test_shared_subscription(redis_url: str, mosquitto: MosquittoBroker, r: redis.Redis) -> None:
    run = Running(redis_url, mosquitto.url, mqtt_shared_group=f"g{uuid.uuid4().hex[:6]}").start()
    try:
        p = payload(spo2=96)
        publish(mosquitto.url, [(TOPIC, encode(p))])
        wait_for(lambda: stored_ids(r) == [p["reading_id"]], what="reading via $share stored")
    finally:
        run.stop()
        forget_session(mosquitto.url, run.client_id)


def test_partitions_split_ingest_and_keep_each_gateway_on_one_process_in_order(
    redis_url: str, mosquitto: MosquittoBroker, r: redis.Redis
) -> None:
    other_gateway = next(
        g for g in (f"gw-{i:04d}" for i in range(2, 200)) if partition_of(g) != partition_of(GATEWAY)
    )
    other_device, other_pid = "C0:FF:EE:00:77:01", "p-ingest-2"
    enrol(r, other_pid, "ward-a", other_device, "Bed 2")
    owned = partition_of(GATEWAY)
    one = Running(redis_url, mosquitto.url, mqtt_partitions=str(owned)).start()
    rest = Running(
        redis_url, mosquitto.url, mqtt_partitions=",".join(str(p) for p in range(16) if p != owned)
    ).start()
    try:
        mine = [payload(spo2=96, seq=i) for i in range(20)]
        theirs = [payload(spo2=95, seq=i, gateway=other_gateway, device=other_device) for i in range(20)]
        messages: list[tuple[str, bytes]] = []
        for a, b in zip(mine, theirs, strict=True):
            messages += [(TOPIC, encode(a)), (readings_topic(other_gateway), encode(b))]
        publish(mosquitto.url, messages)
        wait_for(lambda: len(stored_ids(r)) == 20 and len(stored_ids(r, other_pid)) == 20, what="all stored")
        # Each process got exactly its partitions' readings, and each gateway's arrived in order.
        assert (one.service.stats.received, rest.service.stats.received) == (20, 20)
        assert stored_ids(r) == [p["reading_id"] for p in mine]
        assert stored_ids(r, other_pid) == [p["reading_id"] for p in theirs]
    finally:
        for run in (one, rest):
            run.stop()
            forget_session(mosquitto.url, run.client_id)


def test_partitions_are_checked_at_start() -> None:
    for bad in ("16", "3-1", "a", "0,,1"):
        with pytest.raises(ValidationError, match="partitions"):
            make_settings("redis://127.0.0.1:1/0", "mqtt://127.0.0.1:1", "x", mqtt_partitions=bad)
    good = make_settings("redis://127.0.0.1:1/0", "mqtt://127.0.0.1:1", "x", mqtt_partitions="0-2, 9")
    assert good.partitions() == (0, 1, 2, 9)


N = 40


def test_redis_outage_loses_nothing_and_stores_once(
    mosquitto: MosquittoBroker, own_redis: RedisServer
) -> None:
    r = redis.Redis.from_url(own_redis.url, socket_connect_timeout=1)
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    run = Running(own_redis.url, mosquitto.url).start()
    try:
        readings = [payload(seq=i) for i in range(N)]
        own_redis.stop()
        publish(mosquitto.url, [(TOPIC, encode(p)) for p in readings])
        wait_for(lambda: run.service.stats.storage_errors > 0, what="ingest noticed Redis was gone")
        assert run.service.stats.acked == 0  # nothing acknowledged while nothing could be stored
        own_redis.start()
        wait_for(lambda: len(stored_ids(r)) == N, what="all readings stored after Redis returned")
        assert stored_ids(r) == [p["reading_id"] for p in readings]
        wait_for(lambda: run.service.stats.acked == N, what="all acknowledged")
    finally:
        run.stop()
        forget_session(mosquitto.url, run.client_id)
        r.close()


def test_unacknowledged_messages_come_back_to_the_next_process(
    mosquitto: MosquittoBroker, own_redis: RedisServer
) -> None:
    """Stopped while Redis is down: nothing was acknowledged, so the broker redelivers it all."""
    r = redis.Redis.from_url(own_redis.url, socket_connect_timeout=1)
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    first = Running(own_redis.url, mosquitto.url).start()
    readings = [payload(seq=100 + i) for i in range(N)]
    own_redis.stop()
    publish(mosquitto.url, [(TOPIC, encode(p)) for p in readings])
    wait_for(lambda: first.service.stats.storage_errors > 0, what="ingest noticed Redis was gone")
    first.stop()
    assert not first.service.storing  # really gone: nothing of the first process stores later
    assert first.service.stats.acked == 0
    assert first.service.stats.stored == 0
    own_redis.start()
    second = Running(own_redis.url, mosquitto.url, client_id=first.client_id).start()
    try:
        wait_for(lambda: len(stored_ids(r)) == N, what="redelivered readings stored")
        assert sorted(stored_ids(r)) == sorted(p["reading_id"] for p in readings)
    finally:
        second.stop()
        forget_session(mosquitto.url, first.client_id)
        r.close()


def test_broker_restart_reconnects_and_keeps_ingesting(
    redis_url: str, own_mosquitto: MosquittoBroker, r: redis.Redis
) -> None:
    run = Running(redis_url, own_mosquitto.url).start()
    try:
        own_mosquitto.stop()
        wait_for(lambda: not run.service.connected, what="disconnect noticed")
        own_mosquitto.start()
        wait_for(lambda: run.service.connected, what="reconnected")
        p = payload(spo2=94)
        publish(own_mosquitto.url, [(TOPIC, encode(p))])
        wait_for(lambda: stored_ids(r) == [p["reading_id"]], what="reading after broker restart stored")
    finally:
        run.stop()


def test_stop_is_clean_and_idempotent_start(
    redis_url: str, mosquitto: MosquittoBroker, r: redis.Redis
) -> None:
    run = Running(redis_url, mosquitto.url).start()
    run.service.start()  # a second start is a no-op
    run.stop()
    assert not run.service.connected
    forget_session(mosquitto.url, run.client_id)


def test_a_message_redis_refuses_is_isolated_and_dead_lettered(ingest: Running, r: redis.Redis) -> None:
    poisoned = "C0:FF:EE:00:00:66"
    r.hset(keys.device(poisoned), "not", "a string")  # GET on it fails with WRONGTYPE
    before, bad, after = payload(seq=1), payload(seq=2, device=poisoned), payload(seq=3)
    publish(ingest.mqtt_url, [(TOPIC, encode(before)), (TOPIC, encode(bad)), (TOPIC, encode(after))])
    wait_for(lambda: len(stored_ids(r)) == 2, what="the good readings stored")
    wait_for(lambda: len(dead_letters(r)) == 1, what="the refused one dead-lettered")
    assert sorted(stored_ids(r)) == sorted([before["reading_id"], after["reading_id"]])
    [dl] = dead_letters(r)
    assert (dl[b"reason"], dl[b"detail"], dl[b"raw"]) == (b"ingest-failed", b"ResponseError", encode(bad))
    wait_for(lambda: ingest.service.stats.acked == 3, what="all three acknowledged")


def test_broker_restart_while_redis_is_down_stores_everything_once(
    own_mosquitto: MosquittoBroker, own_redis: RedisServer
) -> None:
    r = redis.Redis.from_url(own_redis.url, socket_connect_timeout=1)
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    run = Running(own_redis.url, own_mosquitto.url).start()
    try:
        readings = [payload(seq=200 + i) for i in range(N)]
        own_redis.stop()
        publish(own_mosquitto.url, [(TOPIC, encode(p)) for p in readings])
        wait_for(lambda: run.service.stats.storage_errors > 0, what="ingest noticed Redis was gone")
        own_mosquitto.stop()  # the broker goes too; its persisted session keeps the unacked messages
        wait_for(lambda: not run.service.connected, what="disconnect noticed")
        own_mosquitto.start()
        wait_for(lambda: run.service.connected, what="reconnected")
        own_redis.start()
        wait_for(lambda: len(stored_ids(r)) == N, what="all readings stored")
        wait_for(lambda: run.service.stats.queued == 0, what="queue drained")
        assert sorted(stored_ids(r)) == sorted(p["reading_id"] for p in readings)
    finally:
        run.stop()
        r.close()
