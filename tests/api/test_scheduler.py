"""The scheduler (api/scheduler.py) against a real Redis with an injected clock: escalation ladders,
snooze, missed readings, technical alerts, the lease between processes, races with clinicians."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio

from api import alert_store, keys
from api.alert_store import SyncAlertStore
from api.patient_context import WardConfigs, load_many
from api.scheduler import AlertScheduler, patient_change
from tests.api import alerting_support as s
from tests.api.factories import GATEWAY, enrol

pytestmark = pytest.mark.integration

PID = "p-sched-1"
WARD = "ward-s"
T0 = s.at()
LADDER = {
    "tiers": [
        {"name": "ward-nurse", "ack_within_s": 60},
        {"name": "ward-clinician", "ack_within_s": 120},
        {"name": "on-call", "ack_within_s": 300},
    ]
}


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    enrol(client, PID, WARD, s.DEVICE, "Bed 1")
    client.hset(keys.patient(PID), "enrolled_at", "2026-11-30T08:00:00.000Z")
    yield client
    client.close()


@pytest.fixture
def clock() -> s.Clock:
    return s.Clock(T0)


def scheduler(redis_url: str, clock: s.Clock, **kw: Any) -> AlertScheduler:
    return AlertScheduler(s.settings(redis_url), clock=clock, **kw)


def raise_alert(r: redis.Redis, redis_url: str, clock: s.Clock, spo2: float, **kw: Any) -> dict[str, Any]:
    s.store(r, spo2=spo2, measured_at=clock.now - timedelta(seconds=20), **kw)
    s.worker(redis_url, clock).run_once()
    return s.alerts(r, PID)[0]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _act(redis_url: str, name: str, *args: Any) -> dict[str, Any]:
    ar = redis.asyncio.Redis.from_url(redis_url)
    try:
        result: dict[str, Any] = await getattr(alert_store, name)(ar, PID, *args)
        return result
    finally:
        await ar.aclose()


def escalations(r: redis.Redis) -> list[tuple[str, str]]:
    return [(e["tier"], e["detail"]) for e in s.events(r, PID) if e["event"] == "escalated"]


def test_unacknowledged_alert_climbs_the_ladder_until_acknowledged(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.set_ward_config(r, WARD, {"escalation": LADDER})
    alert = raise_alert(r, redis_url, clock, 91)
    sched = scheduler(redis_url, clock)
    clock.advance(seconds=59)
    assert sched.tick().events == {}
    clock.advance(seconds=2)  # the nurse tier had its 60 s
    assert sched.tick().events == {"escalated": 1}
    assert sched.tick().events == {}  # the next tier's time starts now
    clock.advance(seconds=121)
    sched.tick()
    clock.advance(seconds=301)
    sched.tick()  # the last tier is told again until someone acknowledges
    assert escalations(r) == [("1", "to ward-clinician"), ("2", "to on-call"), ("2", "repeat to on-call")]
    notes = [n for n in s.notifications(r, PID) if n["kind"] == "escalated"]
    assert [(n["tier"], n["repeat"], n["page"]) for n in notes] == [
        (1, False, True),
        (2, False, True),
        (2, True, True),
    ]
    run(_act(redis_url, "acknowledge", alert["alert_id"], "dr-oncall", clock.now))
    clock.advance(hours=2)
    sched.tick()
    assert len(escalations(r)) == 3
    [a] = s.alerts(r, PID)
    assert (a["state"], a["tier"]) == ("acknowledged", 2)
    assert [e["kind"] for e in a["events"]] == [
        "raised",
        "escalated",
        "escalated",
        "escalated",
        "acknowledged",
    ]


def test_a_snooze_holds_escalation_until_it_ends(r: redis.Redis, redis_url: str, clock: s.Clock) -> None:
    s.set_ward_config(r, WARD, {"escalation": LADDER})
    alert = raise_alert(r, redis_url, clock, 94)
    run(
        _act(
            redis_url,
            "snooze",
            alert["alert_id"],
            "nurse-jb",
            timedelta(minutes=10),
            timedelta(minutes=30),
            T0,
        )
    )
    sched = scheduler(redis_url, clock)
    clock.advance(minutes=9)
    sched.tick()
    assert escalations(r) == []
    clock.advance(minutes=2)
    sched.tick()
    assert escalations(r) == [("1", "to ward-clinician")]


def test_technical_and_low_alerts_do_not_climb_the_ladder(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.set_ward_config(r, WARD, {"escalation": LADDER})
    raise_alert(r, redis_url, clock, 80, device_sensor=1 << 11)  # probe off: an advisory
    clock.advance(hours=3)
    scheduler(redis_url, clock).tick()
    assert escalations(r) == []


def test_without_a_ward_configuration_nothing_escalates(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    raise_alert(r, redis_url, clock, 85)
    clock.advance(hours=3)
    stats = scheduler(redis_url, clock).tick()
    assert (stats.leader, stats.patients, stats.saved) == (True, 1, 0)


OVERDUE = {
    "schedule": ["09:00", "13:00", "17:00"],
    "timezone": "UTC",
    "overdue": {
        "steps": [
            {"after_s": 1800, "priority": "low", "action": "prompt-patient"},
            {"after_s": 3600, "priority": "medium", "action": "task-clinician"},
        ]
    },
}


def test_a_missed_slot_raises_overdue_up_the_ladder_and_a_reading_clears_it(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.set_ward_config(r, WARD, OVERDUE)
    clock.now = datetime(2026, 11, 30, 9, 29, tzinfo=UTC)
    sched = scheduler(redis_url, clock)
    sched.tick()
    assert s.alerts(r, PID) == []
    clock.now = datetime(2026, 11, 30, 9, 31, tzinfo=UTC)
    sched.tick()
    [a] = s.alerts(r, PID)
    assert (a["rule"], a["priority"], a["technical"]) == ("overdue", "low", True)
    assert a["reasons"] == ["no-valid-reading-since-slot:prompt-patient"]
    clock.now = datetime(2026, 11, 30, 10, 1, tzinfo=UTC)
    sched.tick()
    sched.tick()  # re-asserting the same step writes nothing
    [a] = s.alerts(r, PID)
    assert (a["priority"], a["alert_id"]) == ("medium", a["alert_id"])
    clock.now = datetime(2026, 11, 30, 10, 6, tzinfo=UTC)
    s.store(r, spo2=97, measured_at=datetime(2026, 11, 30, 10, 5, tzinfo=UTC))
    s.worker(redis_url, clock).run_once()
    sched.tick()
    [a] = s.alerts(r, PID)
    assert (a["state"], a["outcome"]) == ("resolved", "all-clear")
    assert s.kinds(r, PID) == ["raised", "upgraded", "all-clear"]


def test_the_plans_own_schedule_wins_over_the_wards(r: redis.Redis, redis_url: str, clock: s.Clock) -> None:
    s.set_ward_config(r, WARD, OVERDUE)
    s.set_plan(r, PID, {"schedule": ["12:00"]})
    clock.now = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 09:00 missed by an hour: not the plan's slot
    scheduler(redis_url, clock).tick()
    assert s.alerts(r, PID) == []


TECHNICAL = {"technical": {"gateway_offline_after_s": 600, "stale_after_s": 900, "battery_low_percent": 20}}


def gateway_status(r: redis.Redis, state: str, at: datetime, battery: float | None = None) -> None:
    devices = [{"address": s.DEVICE, "state": "connected", "battery": battery}]
    r.hset(
        keys.gateway_status(GATEWAY),
        mapping={
            "state": state,
            "at": at.isoformat(),
            "reason": "",
            "devices": json.dumps(devices),
            "received_at": "",
        },
    )


def test_gateway_offline_and_battery_low_raise_technical_alerts(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.set_ward_config(r, WARD, TECHNICAL)
    s.store(r, spo2=97, measured_at=T0 - timedelta(seconds=20))  # the patient's gateway is now known
    s.worker(redis_url, clock).run_once()
    gateway_status(r, "offline", T0 - timedelta(minutes=5), battery=15)
    sched = scheduler(redis_url, clock)
    sched.tick()
    assert set(s.by_rule(r, PID)) == {"battery-low"}  # offline for 5 min: within the 10 min grace
    clock.advance(minutes=6)
    sched.tick()
    rules = s.by_rule(r, PID)
    assert (rules["gateway-offline"]["priority"], rules["battery-low"]["priority"]) == ("low", "advisory")
    gateway_status(r, "online", clock.now, battery=80)
    clock.advance(seconds=10)
    sched.tick()
    rules = s.by_rule(r, PID)
    assert {rule: a["state"] for rule, a in rules.items()} == {
        "gateway-offline": "resolved",
        "battery-low": "resolved",
    }


def test_stale_data_for_continuous_monitoring(r: redis.Redis, redis_url: str, clock: s.Clock) -> None:
    s.set_ward_config(r, WARD, TECHNICAL)
    s.store(r, spo2=97, mode="continuous", measured_at=T0 - timedelta(seconds=5))
    s.worker(redis_url, clock).run_once()
    sched = scheduler(redis_url, clock)
    clock.advance(minutes=14)
    sched.tick()
    assert s.alerts(r, PID) == []
    clock.advance(minutes=2)
    sched.tick()
    [a] = s.alerts(r, PID)
    assert (a["rule"], a["priority"]) == ("stale-data", "low")


def test_only_the_lease_holder_acts_and_another_takes_over(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.set_ward_config(r, WARD, {"escalation": LADDER})
    raise_alert(r, redis_url, clock, 91)
    first = scheduler(redis_url, clock, lease_ms=60_000)
    second = scheduler(redis_url, clock, lease_ms=300)
    clock.advance(seconds=61)
    assert second.tick().leader is True  # takes the free lease, escalates
    assert first.tick().leader is False
    assert escalations(r) == [("1", "to ward-clinician")]
    deadline = time.monotonic() + 15
    while not first.tick().leader:  # the second stopped renewing: its lease lapses
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert second.tick().leader is False
    first.release()
    assert second.tick().leader is True
    assert len(escalations(r)) == 1  # nobody escalated twice: the tier's time had not come again


def test_an_acknowledgement_racing_a_tick_is_never_overwritten(
    r: redis.Redis, redis_url: str, clock: s.Clock
) -> None:
    s.set_ward_config(r, WARD, {"escalation": LADDER})
    alert = raise_alert(r, redis_url, clock, 91)
    clock.advance(seconds=61)
    store = SyncAlertStore(r)
    ctx = load_many(r, store, [PID], WardConfigs())[PID]
    assert not isinstance(ctx, Exception)
    change = patient_change(ctx, None, clock.now)  # read before the nurse acknowledges ...
    assert change is not None
    run(_act(redis_url, "acknowledge", alert["alert_id"], "nurse-jb", clock.now))
    assert store.save_many([change]) == ["conflict"]  # ... so its escalation is refused
    [a] = s.alerts(r, PID)
    assert (a["state"], a["tier"]) == ("acknowledged", 0)
    assert escalations(r) == []


def test_the_scheduler_thread_runs_without_readings(r: redis.Redis, redis_url: str, clock: s.Clock) -> None:
    s.set_ward_config(r, WARD, {"escalation": LADDER})
    raise_alert(r, redis_url, clock, 91)
    clock.advance(seconds=61)
    sched = scheduler(redis_url, clock, interval_s=0.05)
    sched.start()
    try:
        deadline = time.monotonic() + 20
        while not escalations(r):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert sched.running
    finally:
        sched.stop()
    assert r.get(keys.SCHEDULER_LEASE) is None  # handed back on stop
