"""The evaluation worker with care plans, manual observations, continuous mode and the full alert
lifecycle, against a real Redis, with an injected clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from api import keys
from api.alert_engine import Change
from api.alert_store import SyncAlertStore
from tests.api import alerting_support as s
from tests.api.factories import enrol

pytestmark = pytest.mark.integration

PID = "p-life-1"
SHARD = keys.shard_of(PID)
T0 = s.at()


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    enrol(client, PID, "ward-l", s.DEVICE, "Bed 1")
    yield client
    client.close()


@pytest.fixture
def clock() -> s.Clock:
    return s.Clock(T0)


def test_medium_is_non_latching_its_all_clear_resolves_it(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    w = s.worker(redis_url, clock)
    s.store(r, spo2=94, measured_at=T0 - timedelta(seconds=30))
    w.run_once()
    clock.advance(minutes=5)
    s.store(r, spo2=97, measured_at=clock.now - timedelta(seconds=30))
    w.run_once()
    [a] = s.alerts(r, PID)
    assert (a["state"], a["outcome"], a["resolved_at"]) == (
        "resolved",
        "all-clear",
        "2026-11-30T09:05:00.000Z",
    )
    assert s.summary(r, PID) is None
    assert [n["kind"] for n in s.notifications(r, PID)] == ["raised", "all-clear"]
    assert [n["page"] for n in s.notifications(r, PID)] == [True, False]  # good news does not page
    clock.advance(minutes=5)
    s.store(r, spo2=93, measured_at=clock.now - timedelta(seconds=30))
    w.run_once()
    newest, old = s.alerts(r, PID)
    assert newest["alert_id"] != old["alert_id"]
    assert newest["state"] == "open"
    assert s.kinds(r, PID) == ["raised", "all-clear", "raised"]


def test_late_data_never_pages_and_a_current_reading_confirms_it(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    w = s.worker(redis_url, clock)
    s.store(r, spo2=91, measured_at=T0 - timedelta(hours=3))  # from a gateway's backlog
    w.run_once()
    [a] = s.alerts(r, PID)
    assert (a["priority"], a["late"]) == ("high", True)
    [raised] = s.notifications(r, PID)
    assert (raised["kind"], raised["late"], raised["page"]) == ("raised", True, False)
    # An older normal reading arriving later never clears what newer evidence set (§6.2.5).
    s.store(r, spo2=98, measured_at=T0 - timedelta(hours=4))
    w.run_once()
    assert s.alerts(r, PID)[0]["condition_active"] is True
    s.store(r, spo2=90, measured_at=T0 - timedelta(seconds=20))
    w.run_once()
    [a] = s.alerts(r, PID)
    assert a["late"] is False
    assert s.kinds(r, PID) == ["raised", "current"]
    assert [(n["kind"], n["page"]) for n in s.notifications(r, PID)] == [("raised", False), ("current", True)]


def test_news2_plan_uses_fresh_manual_observations(r: redis.Redis, redis_url: str, clock: s.Clock) -> None:
    s.set_plan(r, PID, {"rule_pack": "news2-scale1"})
    for parameter, value in (("respiration_rate", 25), ("systolic_bp", 120), ("temperature", 37.0)):
        s.manual(r, PID, parameter, value, T0 - timedelta(hours=1))
    s.manual(r, PID, "consciousness", "A", T0 - timedelta(hours=1))
    s.manual(r, PID, "temperature", 39.5, T0 - timedelta(hours=13))  # stale: not used
    s.store(r, spo2=95, pulse=95, measured_at=T0 - timedelta(seconds=30))
    s.worker(redis_url, clock).run_once()
    [a] = s.alerts(r, PID)
    # RR 25 -> 3 (single parameter 3), SpO2 95 -> 1, pulse 95 -> 1: total 5, urgent response (Chart 4).
    assert (a["rule"], a["news2_total"], a["news2_partial"], a["response"]) == ("news2", 5, False, "medium")
    assert a["priority"] == "medium"


def test_a_manual_oxygen_observation_overrides_the_plan(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.set_plan(r, PID, {"rule_pack": "news2-scale2", "target_spo2": [88, 92]})
    s.manual(r, PID, "oxygen", "oxygen", T0 - timedelta(hours=2))
    s.store(r, spo2=97, pulse=80, measured_at=T0 - timedelta(seconds=30))
    s.worker(redis_url, clock).run_once()
    [a] = s.alerts(r, PID)
    # Scale 2 on oxygen: SpO2 >=97 -> 3, oxygen -> 2: a single-parameter 3 (§2.1, §2.4).
    assert (a["news2_total"], a["news2_partial"], a["priority"]) == (5, True, "medium")


def test_continuous_persistence_survives_batches_and_a_restart(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    start = T0 - timedelta(seconds=60)
    for i in range(6):  # 0..10 s at 90 %: red, but not yet for 15 s (S-RAD97 delay)
        s.store(r, spo2=90, mode="continuous", measured_at=start + timedelta(seconds=2 * i))
    s.worker(redis_url, clock).run_once()
    assert s.alerts(r, PID) == []
    state = json.loads(r.hget(keys.alerting_state(PID), "continuous") or b"{}")
    assert state["runs"]
    for i in range(6, 9):  # 12..16 s: persisted >= 15 s
        s.store(r, spo2=90, mode="continuous", measured_at=start + timedelta(seconds=2 * i))
    s.worker(redis_url, clock, name="worker-restarted").run_once()
    [a] = s.alerts(r, PID)
    assert (a["priority"], a["band"]) == ("high", "red")
    assert s.kinds(r, PID) == ["raised"]
    assert s.nothing_pending(r, PID)


def test_a_save_over_a_changed_continuous_state_is_refused(r: redis.Redis) -> None:
    r.hset(keys.alerting_state(PID), "continuous", '{"confirmed":null,"runs":[],"last_at":null}')
    stale = Change(PID, expect_state="", state_set={"continuous": "x"})
    assert SyncAlertStore(r).save_many([stale]) == ["conflict"]
    assert r.hget(keys.alerting_state(PID), "continuous") != b"x"


def test_discharged_patients_no_longer_alert(r: redis.Redis, redis_url: str, clock: s.Clock) -> None:
    r.hset(keys.patient(PID), "discharged_at", "2026-11-30T08:00:00.000Z")
    s.store(r, spo2=85, measured_at=T0 - timedelta(seconds=30))
    assert s.worker(redis_url, clock).run_once() == 1
    assert s.alerts(r, PID) == []
    assert s.nothing_pending(r, PID)
    assert r.xlen(keys.readings(PID)) == 1  # stored, never lost


def test_state_records_the_last_valid_reading_and_its_gateway(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.store(r, spo2=97, measured_at=T0 - timedelta(minutes=10))
    s.store(r, spo2=80, device_sensor=1 << 11, measured_at=T0 - timedelta(minutes=1))  # probe off
    s.store(r, spo2=97, measured_at=T0 - timedelta(hours=2))  # late, older: moves nothing back
    s.worker(redis_url, clock).run_once()
    state = {k.decode(): v.decode() for k, v in r.hgetall(keys.alerting_state(PID)).items()}
    assert state["last_valid_at"] == "2026-11-30T08:50:00.000Z"
    assert state["last_reading_at"] == "2026-11-30T08:59:00.000Z"
    assert (state["gateway"], state["device"], state["mode"]) == ("gw-0001", s.DEVICE, "spot-check")


def test_summary_names_who_acknowledged_and_counts_open_alerts(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    import asyncio

    import redis.asyncio

    from api import alert_store

    s.store(r, spo2=90, device_sensor=1 << 5, measured_at=T0 - timedelta(seconds=30))  # questionable red
    s.worker(redis_url, clock).run_once()
    rules = s.by_rule(r, PID)
    assert (s.summary(r, PID) or {})["open_count"] == 2

    async def ack() -> None:
        ar = redis.asyncio.Redis.from_url(redis_url)
        await alert_store.acknowledge(ar, PID, rules["o2home-band"]["alert_id"], "nurse-jb", T0)
        await ar.aclose()

    asyncio.run(ack())
    summary = s.summary(r, PID) or {}
    assert (summary["rule"], summary["acknowledged_by"], summary["open_count"]) == (
        "o2home-band",
        "nurse-jb",
        2,
    )


def test_evaluation_failed_latches_until_someone_resolves_it(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    w = s.worker(redis_url, clock)
    w.ensure_groups()
    r.xadd(keys.eval_stream(SHARD), {"pt": PID, "r": "ab" * 16, "m": "bad", "g": "1", "o": "s"})
    w.run_once()
    clock.advance(minutes=5)
    s.store(r, spo2=97, measured_at=clock.now - timedelta(seconds=30))
    w.run_once()
    [a] = s.alerts(r, PID)
    # Low priority, yet latched: a reading went unevaluated and someone must look (api/alert_engine.py).
    assert (a["rule"], a["priority"], a["state"], a["condition_active"]) == (
        "evaluation-failed",
        "low",
        "open",
        False,
    )
    assert s.kinds(r, PID) == ["raised", "condition-cleared"]


def test_restart_with_pending_entries_of_the_new_lifecycle_doubles_nothing(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.store(r, spo2=94, measured_at=T0 - timedelta(seconds=50))
    s.store(r, spo2=80, device_sensor=1 << 11, measured_at=T0 - timedelta(seconds=40))
    s.store(r, spo2=90, measured_at=T0 - timedelta(seconds=30))
    first = s.worker(redis_url, clock)
    first.ensure_groups()
    taken = r.xreadgroup(keys.EVAL_GROUP, "worker-0", {keys.eval_stream(SHARD): ">"}, count=10)
    assert len(taken[0][1]) == 3  # taken, then the worker died before saving anything
    again = s.worker(redis_url, clock)  # same consumer name: re-reads its pending entries
    assert again.run_once() == 3
    assert again.run_once() == 0
    rules = s.by_rule(r, PID)
    assert rules["o2home-band"]["priority"] == "high"
    assert rules["signal-quality"]["state"] == "resolved"
    assert s.kinds(r, PID) == ["raised", "raised", "all-clear", "upgraded"]
    assert s.nothing_pending(r, PID)
