"""api/worker.py against a real Redis: readings stored by the ingest path, evaluated into alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from api import keys
from api.alert_store import SyncAlertStore
from api.contract import validate_reading
from api.settings import ApiSettings
from api.store import Checked, Outcome, ReadingStore
from api.worker import FAILED_RULE, EvaluationWorker, heartbeat_key
from tests.api.factories import DEVICE, TOPIC, encode, enrol, payload
from tests.services import RedisServer

pytestmark = pytest.mark.integration

PID = "p-worker-1"
SHARD = keys.shard_of(PID)
LOW_PERFUSION = 1 << 5
PROBE_OFF = 1 << 11


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    enrol(client, PID, "ward-a", DEVICE, "Bed 1")
    yield client
    client.close()


def settings(redis_url: str, name: str = "worker-0") -> ApiSettings:
    return ApiSettings(
        redis_url=redis_url, mqtt_url="mqtt://127.0.0.1:9", api_tokens="t" * 20, worker_name=name
    )


@pytest.fixture
def worker(redis_url: str) -> Iterator[EvaluationWorker]:
    w = EvaluationWorker(settings(redis_url))
    yield w
    w.stop()


_seq = iter(range(1_000_000))


def store(r: redis.Redis, **kw: Any) -> dict[str, Any]:
    p = payload(seq=next(_seq), **kw)
    raw = encode(p)
    [outcome] = ReadingStore(r, retention_ms=3_600_000).store_batch(
        [Checked(TOPIC, raw, validate_reading(TOPIC, raw))]
    )
    assert outcome is Outcome.STORED
    return p


def alerts(r: redis.Redis) -> list[dict[str, Any]]:
    return SyncAlertStore(r).list_alerts(PID)


def events(r: redis.Redis) -> list[str]:
    return [f[b"event"].decode() for _, f in r.xrange(keys.alert_events(SHARD))]


def summary(r: redis.Redis) -> dict[str, Any] | None:
    raw = r.hget(keys.open_alerts(SHARD), PID)
    return None if raw is None else json.loads(raw)


def nothing_pending(r: redis.Redis) -> bool:
    stream = keys.eval_stream(SHARD)
    return r.xpending(stream, keys.EVAL_GROUP)["pending"] == 0 and r.xlen(stream) == 0


def test_amber_raises_a_medium_alert(r: redis.Redis, worker: EvaluationWorker) -> None:
    p = store(r, spo2=94)
    assert worker.run_once() == 1
    [a] = alerts(r)
    assert (a["rule"], a["priority"], a["band"], a["state"]) == ("o2home-band", "medium", "amber", "open")
    assert (a["reading_id"], a["spo2"], a["measured_at"]) == (p["reading_id"], 94.0, p["measured_at"])
    assert (a["late"], a["questionable"], a["detail"]) == (False, False, None)
    assert (summary(r) or {})["alert_id"] == a["alert_id"]
    assert events(r) == ["raised"]
    assert nothing_pending(r)


def test_alerts_raised_and_upgraded_are_counted_by_priority_in_the_save_itself(
    r: redis.Redis, worker: EvaluationWorker
) -> None:
    def counters() -> dict[str, int]:
        return {k.decode(): int(v) for k, v in r.hgetall(keys.shard_metrics(SHARD)).items()}

    store(r, spo2=93)
    worker.run_once()
    assert counters() == {"alerts_raised:medium": 1}
    store(r, spo2=92)
    worker.run_once()
    assert counters() == {"alerts_raised:medium": 1, "alerts_upgraded:high": 1}
    store(r, spo2=91)  # still red: the open alert only takes the new evidence
    worker.run_once()
    assert counters() == {"alerts_raised:medium": 1, "alerts_upgraded:high": 1}


def test_red_upgrades_in_place_and_green_leaves_it_open_latched(
    r: redis.Redis, worker: EvaluationWorker
) -> None:
    store(r, spo2=93)
    worker.run_once()
    [amber] = alerts(r)
    red = store(r, spo2=92)
    worker.run_once()
    [upgraded] = alerts(r)
    assert upgraded["alert_id"] == amber["alert_id"]
    assert (upgraded["priority"], upgraded["band"], upgraded["reading_id"]) == (
        "high",
        "red",
        red["reading_id"],
    )
    assert upgraded["raised_at"] == amber["raised_at"]
    store(r, spo2=98)
    store(r, spo2=94)
    assert worker.run_once() == 2
    [still] = alerts(r)
    assert (still["alert_id"], still["priority"], still["state"]) == (amber["alert_id"], "high", "open")
    # High latches (§5.1): the green reading's all-clear is recorded, the amber one re-activates it;
    # the priority is never lowered and no second alert is raised.
    assert events(r) == ["raised", "upgraded", "condition-cleared", "condition-returned"]
    assert [e["kind"] for e in still["events"]] == events(r)
    assert still["condition_active"] is True
    assert (summary(r) or {})["priority"] == "high"
    assert worker.stats.raised == 1
    assert worker.stats.upgraded == 1


def test_several_readings_of_one_patient_in_one_batch(r: redis.Redis, worker: EvaluationWorker) -> None:
    for spo2 in (94, 93, 91, 99):
        store(r, spo2=spo2)
    assert worker.run_once() == 4
    [a] = alerts(r)
    assert a["priority"] == "high"
    assert events(r) == ["raised", "upgraded", "condition-cleared"]
    assert a["condition_active"] is False  # latched: open until a clinician resolves it


def by_rule(r: redis.Redis) -> dict[str, dict[str, Any]]:
    found = alerts(r)
    rules = {a["rule"]: a for a in found}
    assert len(rules) == len(found)
    return rules


def test_probe_off_raises_only_a_technical_advisory(r: redis.Redis, worker: EvaluationWorker) -> None:
    store(r, spo2=None, pulse=None, mode="continuous", measurement=1 << 13, device_sensor=PROBE_OFF)
    store(r, spo2=80, device_sensor=PROBE_OFF)
    assert worker.run_once() == 2
    # §6.2.2: no band from an unscorable reading; one low-grade technical advisory with a repeat request.
    [a] = alerts(r)
    assert (a["rule"], a["priority"], a["technical"], a["band"]) == ("signal-quality", "advisory", True, None)
    assert "probe-off" in a["reasons"]
    assert (summary(r) or {})["priority"] == "advisory"
    notes = [f for _, f in r.xrange(keys.notifications(SHARD))]
    assert [n[b"kind"] for n in notes] == [b"raised"]
    assert nothing_pending(r)


def test_a_valid_repeat_clears_the_advisory_and_drives_the_band(
    r: redis.Redis, worker: EvaluationWorker
) -> None:
    store(r, spo2=80, device_sensor=PROBE_OFF)
    store(r, spo2=94)
    worker.run_once()
    rules = by_rule(r)
    quality = rules["signal-quality"]
    assert (quality["state"], quality["outcome"]) == ("resolved", "all-clear")  # advisory: non-latching
    assert rules["o2home-band"]["priority"] == "medium"
    assert events(r) == ["raised", "all-clear", "raised"]


def test_questionable_red_raises_marked_questionable(r: redis.Redis, worker: EvaluationWorker) -> None:
    store(r, spo2=90, device_sensor=LOW_PERFUSION)
    store(r, spo2=94, device_sensor=LOW_PERFUSION)  # questionable amber: no escalation on its own
    worker.run_once()
    rules = by_rule(r)
    a = rules["o2home-band"]
    assert (a["priority"], a["questionable"], a["detail"]) == ("high", True, "low-perfusion")
    assert (rules["signal-quality"]["priority"], rules["signal-quality"]["questionable"]) == (
        "advisory",
        True,
    )


def test_questionable_amber_alone_asks_for_a_repeat_only(r: redis.Redis, worker: EvaluationWorker) -> None:
    store(r, spo2=94, device_sensor=LOW_PERFUSION)
    worker.run_once()
    [a] = alerts(r)
    assert (a["rule"], a["priority"], a["reasons"]) == ("signal-quality", "advisory", ["low-perfusion"])


def test_late_reading_is_marked_late(r: redis.Redis, worker: EvaluationWorker) -> None:
    p = store(r, spo2=91, measured_at=datetime.now(UTC) - timedelta(hours=2))
    worker.run_once()
    [a] = alerts(r)
    assert (a["late"], a["measured_at"]) == (True, p["measured_at"])


def test_after_resolution_a_new_amber_raises_a_new_alert(r: redis.Redis, worker: EvaluationWorker) -> None:
    import asyncio

    import redis.asyncio

    from api import alert_store

    store(r, spo2=94)
    worker.run_once()
    [first] = alerts(r)

    async def resolve() -> None:
        ar = redis.asyncio.Redis.from_url(worker_url(r))
        await alert_store.resolve(ar, PID, first["alert_id"], "dr-1", "reviewed", datetime.now(UTC))
        await ar.aclose()

    asyncio.run(resolve())
    store(r, spo2=94)
    worker.run_once()
    newest, old = alerts(r)
    assert newest["alert_id"] != first["alert_id"]
    assert (newest["state"], old["state"]) == ("open", "resolved")


def worker_url(r: redis.Redis) -> str:
    kw = r.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/0"


def test_restart_with_pending_entries_loses_nothing_and_doubles_nothing(
    redis_url: str, r: redis.Redis
) -> None:
    store(r, spo2=94)
    store(r, spo2=90)
    first = EvaluationWorker(settings(redis_url))
    first.ensure_groups()
    # The first worker takes the entries and dies before settling them.
    taken = r.xreadgroup(keys.EVAL_GROUP, "worker-0", {keys.eval_stream(SHARD): ">"}, count=10)
    assert len(taken[0][1]) == 2
    assert r.xpending(keys.eval_stream(SHARD), keys.EVAL_GROUP)["pending"] == 2
    restarted = EvaluationWorker(settings(redis_url))  # same name: re-reads its own pending list
    assert restarted.run_once() == 2
    assert restarted.run_once() == 0
    [a] = alerts(r)
    assert a["priority"] == "high"
    assert events(r) == ["raised", "upgraded"]
    assert nothing_pending(r)


def test_entries_of_a_dead_consumer_are_claimed(redis_url: str, r: redis.Redis) -> None:
    store(r, spo2=92)
    w = EvaluationWorker(settings(redis_url, "worker-b"), claim_idle_ms=50)
    w.ensure_groups()
    r.xreadgroup(keys.EVAL_GROUP, "worker-dead", {keys.eval_stream(SHARD): ">"}, count=10)
    assert w.run_once() == 0  # not its own, not new
    deadline = time.monotonic() + 15
    while w.claim_stale() == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [a] = alerts(r)
    assert a["priority"] == "high"
    assert nothing_pending(r)
    assert w.claim_stale() == 0


def test_a_failing_evaluation_is_dead_lettered_and_raises_a_technical_alert(
    r: redis.Redis, worker: EvaluationWorker
) -> None:
    worker.ensure_groups()
    stream = keys.eval_stream(SHARD)
    # An entry the codec cannot read (written by a buggy or newer producer).
    r.xadd(stream, {"pt": PID, "r": "ab" * 16, "m": "not-a-time", "g": "1", "o": "s", "s": "97"})
    r.xadd(stream, {"pt": PID, "r": "cd" * 16, "m": "also-bad", "g": "1", "o": "s"})
    r.xadd(stream, {"no": "patient"})
    store(r, spo2=93)  # a good reading after the bad ones is still evaluated
    assert worker.run_once() == 4
    by_rule = {a["rule"]: a for a in alerts(r)}
    assert len(alerts(r)) == 2  # the second failure did not raise a second technical alert
    assert set(by_rule) == {FAILED_RULE, "o2home-band"}
    tech = by_rule[FAILED_RULE]
    assert (tech["priority"], tech["state"], tech["detail"], tech["reading_id"]) == (
        "low",
        "open",
        "ValueError",
        "ab" * 16,
    )
    assert by_rule["o2home-band"]["priority"] == "medium"
    reasons = [f[b"reason"] for _, f in r.xrange(keys.DEAD_LETTER)]
    assert reasons == [b"evaluation-failed"] * 3
    raws = [json.loads(f[b"raw"]) for _, f in r.xrange(keys.DEAD_LETTER)]
    assert {"pt": PID, "r": "ab" * 16, "m": "not-a-time", "g": "1", "o": "s", "s": "97"} in raws
    assert (summary(r) or {})["priority"] == "medium"  # the clinical alert leads the technical one
    assert worker.stats.failed == 3
    assert nothing_pending(r)


def test_a_deleted_pending_entry_is_just_settled(redis_url: str, r: redis.Redis) -> None:
    store(r, spo2=91)
    w = EvaluationWorker(settings(redis_url))
    w.ensure_groups()
    [[_, [(entry_id, _)]]] = r.xreadgroup(keys.EVAL_GROUP, "worker-0", {keys.eval_stream(SHARD): ">"})
    r.xdel(keys.eval_stream(SHARD), entry_id)
    assert w.run_once() == 1
    assert alerts(r) == []
    assert nothing_pending(r)


def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_thread_evaluates_as_readings_arrive_and_beats(r: redis.Redis, worker: EvaluationWorker) -> None:
    worker.start()
    wait_for(lambda: r.exists(heartbeat_key("worker-0")) == 1)
    assert 0 < r.pttl(heartbeat_key("worker-0")) <= 10_000
    store(r, spo2=92)
    wait_for(lambda: len(alerts(r)) == 1)
    assert worker.running
    worker.stop()
    assert not worker.running


def test_clock_is_injected(redis_url: str, r: redis.Redis) -> None:
    fixed = datetime(2030, 1, 1, tzinfo=UTC)
    w = EvaluationWorker(settings(redis_url), clock=lambda: fixed)
    store(r, spo2=93)
    w.run_once()
    [a] = alerts(r)
    assert a["raised_at"] == "2030-01-01T00:00:00.000Z"
    assert a["late"] is True  # measured years before the worker's "now"


def test_a_patient_whose_alert_record_redis_refuses_does_not_block_others(
    r: redis.Redis, worker: EvaluationWorker
) -> None:
    other = "p-worker-2"
    enrol(r, other, "ward-a", "C0:FF:EE:00:00:02", "Bed 2")
    r.delete(keys.alerts(PID))
    r.set(keys.alerts(PID), "not a hash")  # WRONGTYPE for every alert command on this patient
    store(r, spo2=90)
    store(r, spo2=90, device="C0:FF:EE:00:00:02")
    assert worker.run_once() == 2
    [a] = SyncAlertStore(r).list_alerts(other)
    assert a["priority"] == "high"
    [dl] = [f for _, f in r.xrange(keys.DEAD_LETTER)]
    assert dl[b"reason"] == b"evaluation-failed"
    assert dl[b"detail"].startswith(b"ResponseError")
    assert nothing_pending(r)


def test_worker_waits_for_redis_and_resumes(own_redis: RedisServer) -> None:
    r = redis.Redis.from_url(own_redis.url)
    enrol(r, PID, "ward-a", DEVICE, "Bed 1")
    w = EvaluationWorker(settings(own_redis.url))
    w.start()
    try:
        wait_for(lambda: r.exists(heartbeat_key("worker-0")) == 1)
        store(r, spo2=94)
        wait_for(lambda: len(alerts(r)) == 1)
        own_redis.stop()
        wait_for(lambda: not w.redis_ok)
        own_redis.start()
        wait_for(lambda: w.redis_ok)
        store(r, spo2=91)
        wait_for(lambda: [a["priority"] for a in alerts(r)] == ["high"])
        assert w.running
    finally:
        w.stop()
        r.close()


def test_works_over_resp3_too(redis_url: str, r: redis.Redis) -> None:
    client = redis.Redis.from_url(redis_url, protocol=3)
    try:
        w = EvaluationWorker(settings(redis_url), client=client)
        store(r, spo2=93)
        assert w.run_once() == 1
        [a] = alerts(r)
        assert a["priority"] == "medium"
    finally:
        client.close()
