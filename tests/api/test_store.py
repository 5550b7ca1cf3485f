"""api/store.py against a real Redis: idempotent append, dead letters, retention, latest, status."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from api import keys
from api.contract import Rejection, RejectReason, validate_reading, validate_status
from api.reading_codec import decode_fields, from_fields, latest_to_api
from api.store import Checked, Outcome, ReadingStore, connect
from tests.api.factories import DEVICE, TOPIC, encode, enrol, golden, payload
from tests.conftest import load_golden

pytestmark = pytest.mark.integration

PID = "p-store-1"
WEEK_MS = 7 * 24 * 3600 * 1000


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def checked(raw: bytes, topic: str = TOPIC) -> Checked:
    return Checked(topic, raw, validate_reading(topic, raw))


def metrics(r: redis.Redis) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in r.hgetall(keys.METRICS).items()}


def test_patient_keys_share_one_slot() -> None:
    shard = keys.shard_of(PID)
    slots = {
        key_slot(k.encode())
        for k in (
            keys.reading_ids(PID),
            keys.readings(PID),
            keys.rollup(PID),
            keys.alerts(PID),
            keys.patient(PID),
            keys.eval_stream(shard),
            keys.latest(shard),
            keys.open_alerts(shard),
            keys.alert_events(shard),
        )
    }
    assert len(slots) == 1


def test_accepted_reading_is_stored_queued_and_latest(r: redis.Redis) -> None:
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    raw = json.dumps(golden("accept-continuous-plx-cont-04")["payload"]).encode()
    store = ReadingStore(r, retention_ms=WEEK_MS)
    assert store.store_batch([checked(raw)]) == [Outcome.STORED]

    [(entry_id, fields)] = r.xrange(keys.readings(PID))
    stored = from_fields(decode_fields(fields))
    assert stored == validate_reading(TOPIC, raw)
    [(_, eval_fields)] = r.xrange(keys.eval_stream(keys.shard_of(PID)))
    ef = decode_fields(eval_fields)
    assert ef["pt"] == PID
    assert ef["sid"] == entry_id.decode()
    assert from_fields(ef) == stored
    latest = latest_to_api(r.hget(keys.latest(keys.shard_of(PID)), PID) or b"")
    assert latest["reading_id"] == stored.reading_id
    assert latest["entry_id"] == entry_id.decode()
    assert r.zscore(keys.reading_ids(PID), stored.reading_id) is not None
    assert metrics(r) == {"received": 1, "stored": 1}


def test_same_reading_twice_is_stored_once(r: redis.Redis) -> None:
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    raw = encode(payload(spo2=96))
    store = ReadingStore(r, retention_ms=WEEK_MS)
    # within one batch, and again in a later batch (a QoS 1 redelivery, an outbox replay)
    assert store.store_batch([checked(raw), checked(raw)]) == [Outcome.STORED, Outcome.DUPLICATE]
    assert store.store_batch([checked(raw)]) == [Outcome.DUPLICATE]
    assert r.xlen(keys.readings(PID)) == 1
    assert r.xlen(keys.eval_stream(keys.shard_of(PID))) == 1
    assert metrics(r) == {"received": 3, "stored": 1, "duplicates": 2}


def test_unknown_device_is_dead_lettered_with_the_raw_bytes(r: redis.Redis) -> None:
    g = golden("reject-unknown-device")
    raw = json.dumps(g["payload"]).encode()
    store = ReadingStore(r, retention_ms=WEEK_MS)
    assert store.store_batch([checked(raw)]) == [Outcome.DEAD_LETTERED]
    [(_, dl)] = r.xrange(keys.DEAD_LETTER)
    assert dl[b"reason"] == b"unknown-device" == g["reason"].encode()
    assert dl[b"raw"] == raw
    assert dl[b"topic"] == TOPIC.encode()
    assert b"DE:AD:00:00:00:00" in dl[b"detail"]
    assert dl[b"at"].endswith(b"Z")
    assert metrics(r) == {"received": 1, "dead_letter:unknown-device": 1}
    assert r.keys("ox:{*}:p:*") == []  # no patient data anywhere


@pytest.mark.parametrize(("name", "g"), load_golden("reject-"), ids=[n for n, _ in load_golden("reject-")])
def test_every_golden_rejection_reaches_the_dead_letter_stream(
    r: redis.Redis, name: str, g: dict[str, Any]
) -> None:
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    raw = g["raw"].encode() if "raw" in g else json.dumps(g["payload"]).encode()
    ReadingStore(r, retention_ms=WEEK_MS).store_batch([checked(raw)])
    [(_, dl)] = r.xrange(keys.DEAD_LETTER)
    assert (dl[b"reason"], dl[b"raw"]) == (g["reason"].encode(), raw)
    assert r.xlen(keys.readings(PID)) == 0


def test_a_batch_keeps_its_order_and_mixes_outcomes(r: redis.Redis) -> None:
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    good = [encode(payload(seq=i)) for i in range(3)]
    status = json.dumps(golden("status-online")["payload"]).encode()
    batch = [
        checked(good[0]),
        checked(b"not json"),
        Checked("oxiward/v1/status/gw-0001", status, validate_status("oxiward/v1/status/gw-0001", status)),
        checked(good[1]),
        checked(good[0]),
        checked(good[2]),
    ]
    outcomes = ReadingStore(r, retention_ms=WEEK_MS).store_batch(batch)
    assert outcomes == [
        Outcome.STORED,
        Outcome.DEAD_LETTERED,
        Outcome.STATUS,
        Outcome.STORED,
        Outcome.DUPLICATE,
        Outcome.STORED,
    ]
    ids = [decode_fields(f)["r"] for _, f in r.xrange(keys.readings(PID))]
    assert ids == [json.loads(g)["reading_id"] for g in good]
    gw = {k.decode(): v.decode() for k, v in r.hgetall(keys.gateway_status("gw-0001")).items()}
    assert gw["state"] == "online"
    assert gw["at"] == "2026-11-30T09:00:00.000Z"
    assert gw["outbox_depth"] == "0"
    assert json.loads(gw["devices"])[0]["state"] == "connected"
    assert metrics(r) == {
        "received": 5,
        "stored": 3,
        "duplicates": 1,
        "status": 1,
        "dead_letter:malformed": 1,
    }


def test_last_will_overwrites_every_status_field(r: redis.Redis) -> None:
    store = ReadingStore(r, retention_ms=WEEK_MS)
    for name in ("status-online", "status-last-will"):
        raw = json.dumps(golden(name)["payload"]).encode()
        topic = "oxiward/v1/status/gw-0001"
        store.store_batch([Checked(topic, raw, validate_status(topic, raw))])
    gw = r.hgetall(keys.gateway_status("gw-0001"))
    assert gw[b"state"] == b"offline"
    assert gw[b"reason"] == b"connection-lost"
    assert gw[b"devices"] == b""
    assert gw[b"at"] == b""


def test_latest_follows_measured_time_not_arrival(r: redis.Redis) -> None:
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    store = ReadingStore(r, retention_ms=WEEK_MS)
    newer = payload(spo2=91, seq=2)
    older = payload(spo2=99, seq=1)
    older["measured_at"] = "2020-01-01T00:00:00.000Z"
    store.store_batch([checked(encode(newer))])
    store.store_batch([checked(encode(older))])  # backfill arrives later
    latest = latest_to_api(r.hget(keys.latest(keys.shard_of(PID)), PID) or b"")
    assert latest["reading_id"] == newer["reading_id"]
    assert latest["spo2"] == 91.0
    assert r.xlen(keys.readings(PID)) == 2  # both kept in history


def server_ms(r: redis.Redis) -> int:
    sec, usec = r.time()
    return int(sec) * 1000 + int(usec) // 1000


def test_retention_trims_history_and_the_id_set(r: redis.Redis) -> None:
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    retention_ms = 300
    store = ReadingStore(r, retention_ms=retention_ms)
    first = payload(seq=1)
    store.store_batch([checked(encode(first))])
    [(first_id, _)] = r.xrange(keys.readings(PID))
    first_ms = int(first_id.split(b"-")[0])
    deadline = time.monotonic() + 15
    while server_ms(r) <= first_ms + retention_ms:  # wait for Redis' clock, not ours
        assert time.monotonic() < deadline
        time.sleep(0.05)
    second = payload(seq=2)
    store.store_batch([checked(encode(second))])
    remaining = [decode_fields(f)["r"] for _, f in r.xrange(keys.readings(PID))]
    assert remaining == [second["reading_id"]]
    assert r.zscore(keys.reading_ids(PID), first["reading_id"]) is None
    assert r.zcard(keys.reading_ids(PID)) == 1


def test_device_lookup_is_case_insensitive_and_not_negatively_cached(r: redis.Redis) -> None:
    store = ReadingStore(r, retention_ms=WEEK_MS)
    p = payload(device="c0:ff:ee:00:00:09")
    assert store.store_batch([checked(encode(p))]) == [Outcome.DEAD_LETTERED]
    enrol(r, PID, "ward-a", "C0:FF:EE:00:00:09", "Bed 1")  # enrolled a moment later
    assert store.store_batch([checked(encode(p))]) == [Outcome.STORED]


def test_reassignment_takes_effect_after_the_cache_ttl(r: redis.Redis) -> None:
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    store = ReadingStore(r, retention_ms=WEEK_MS, device_cache_ttl=0)
    store.store_batch([checked(encode(payload(seq=1)))])
    enrol(r, "p-store-2", "ward-a", DEVICE, "Bed 2")
    store.store_batch([checked(encode(payload(seq=2)))])
    assert r.xlen(keys.readings(PID)) == 1
    assert r.xlen(keys.readings("p-store-2")) == 1


def test_redis_down_raises_so_nothing_is_acknowledged() -> None:
    from tests.services import free_port

    client = connect(f"redis://127.0.0.1:{free_port()}/0")
    raw = encode(payload())
    with pytest.raises(redis.ConnectionError):
        ReadingStore(client, retention_ms=WEEK_MS).store_batch([checked(raw)])


def test_dead_letter_outside_a_batch(r: redis.Redis) -> None:
    ReadingStore(r, retention_ms=WEEK_MS).dead_letter("ingest-failed", "KeyError", TOPIC, b"\x00\x01")
    [(_, dl)] = r.xrange(keys.DEAD_LETTER)
    assert (dl[b"reason"], dl[b"raw"]) == (b"ingest-failed", b"\x00\x01")
    assert metrics(r) == {"dead_letter:ingest-failed": 1}


def test_rejection_value_objects_are_dead_lettered_as_given(r: redis.Redis) -> None:
    c = Checked(TOPIC, b"{}", Rejection(RejectReason.TOPIC_MISMATCH, "x"))
    assert ReadingStore(r, retention_ms=WEEK_MS).store_batch([c]) == [Outcome.DEAD_LETTERED]
    [(_, dl)] = r.xrange(keys.DEAD_LETTER)
    assert (dl[b"reason"], dl[b"detail"], dl[b"raw"]) == (b"topic-mismatch", b"x", b"{}")
