"""api/alert_store.py against a real Redis: acknowledge / resolve / snooze / escalate transitions,
summary, events, notifications."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import redis.asyncio

from alerting.escalation import ward_ladder
from alerting.model import Band, Priority
from api import alert_store, keys
from api.alert_store import Apply, Cause, Conflict, NotFound, SyncAlertStore, new_alert, upgraded
from tests.api.alerting_support import notifications

pytestmark = pytest.mark.integration

PID = "p-alerts-1"
SHARD = keys.shard_of(PID)
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def ar(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def cause(spo2: float, band: Band) -> Cause:
    return Cause("ab" * 16, spo2, "2026-11-30T08:59:00.000Z", band)


def raise_alert(r: redis.Redis, rule: str, priority: Priority, at: datetime, alert_id: str) -> dict[str, Any]:
    store = SyncAlertStore(r)
    [current] = store.get_open_many([(PID, rule)])
    band = Band.RED if priority is Priority.HIGH else Band.AMBER
    alert = new_alert(alert_id, PID, rule, priority, cause(92 if band is Band.RED else 94, band), at)
    assert store.apply_many([Apply(PID, rule, "", current, alert, "raised")]) == ["ok"]
    return alert


def summary(r: redis.Redis) -> dict[str, Any] | None:
    raw = r.hget(keys.open_alerts(SHARD), PID)
    return None if raw is None else json.loads(raw)


def events(r: redis.Redis) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in r.xrange(keys.alert_events(SHARD))]


def test_raise_writes_alert_index_summary_and_event(r: redis.Redis) -> None:
    alert = raise_alert(r, "o2home-band", Priority.MEDIUM, T0, "a1")
    assert json.loads(r.hget(keys.alerts(PID), "a1") or b"") == alert
    assert json.loads(r.hget(keys.alerts(PID), "~open") or b"") == {"o2home-band": "a1"}
    raised_at = "2026-11-30T09:00:00.000Z"
    assert summary(r) == {
        "alert_id": "a1", "priority": "medium", "rule": "o2home-band", "raised_at": raised_at,
        "state": "open", "spo2": 94, "questionable": False, "late": False,
        "acknowledged_by": None, "open_count": 1,
    }  # fmt: skip
    assert events(r) == [
        {"event": "raised", "alert_id": "a1", "patient_id": PID, "rule": "o2home-band", "priority": "medium",
         "state": "open", "at": "2026-11-30T09:00:00.000Z"}
    ]  # fmt: skip


def test_apply_refuses_a_stale_view(r: redis.Redis) -> None:
    raise_alert(r, "o2home-band", Priority.MEDIUM, T0, "a1")
    store = SyncAlertStore(r)
    stale_new = new_alert("a2", PID, "o2home-band", Priority.HIGH, cause(90, Band.RED), T0)
    assert store.apply_many([Apply(PID, "o2home-band", "", "", stale_new, "raised")]) == ["conflict"]
    assert r.hget(keys.alerts(PID), "a2") is None


async def test_acknowledge(r: redis.Redis, ar: redis.asyncio.Redis) -> None:
    raise_alert(r, "o2home-band", Priority.MEDIUM, T0, "a1")
    later = T0 + timedelta(minutes=3)
    acked = await alert_store.acknowledge(ar, PID, "a1", "nurse-7", later)
    assert acked["state"] == "acknowledged"
    assert (acked["acknowledged_by"], acked["acknowledged_at"]) == ("nurse-7", "2026-11-30T09:03:00.000Z")
    assert acked["updated_at"] == "2026-11-30T09:03:00.000Z"
    assert acked["resolved_at"] is None  # nulls survive the Lua JSON round trip
    assert await alert_store.get_alert(ar, PID, "a1") == acked
    assert (summary(r) or {})["state"] == "acknowledged"
    assert events(r)[-1]["event"] == "acknowledged"
    assert events(r)[-1]["by"] == "nurse-7"
    # idempotent: a second acknowledgement changes nothing and adds no event
    again = await alert_store.acknowledge(ar, PID, "a1", "nurse-8", later + timedelta(minutes=1))
    assert again == acked
    assert len(events(r)) == 2


async def test_resolve_ends_the_alert_and_clears_the_summary(r: redis.Redis, ar: redis.asyncio.Redis) -> None:
    raise_alert(r, "o2home-band", Priority.HIGH, T0, "a1")
    done = await alert_store.resolve(ar, PID, "a1", "dr-2", "admitted", T0 + timedelta(minutes=10))
    assert (done["state"], done["resolved_by"], done["outcome"]) == ("resolved", "dr-2", "admitted")
    assert summary(r) is None
    assert r.hget(keys.alerts(PID), "~open") is None
    assert SyncAlertStore(r).get_open_many([(PID, "o2home-band")]) == [""]
    assert events(r)[-1] == {
        "event": "resolved", "alert_id": "a1", "patient_id": PID, "rule": "o2home-band", "priority": "high",
        "state": "resolved", "at": "2026-11-30T09:10:00.000Z", "by": "dr-2", "outcome": "admitted",
    }  # fmt: skip
    with pytest.raises(Conflict) as err:
        await alert_store.resolve(ar, PID, "a1", "dr-3", None, T0 + timedelta(minutes=11))
    assert err.value.alert["resolved_by"] == "dr-2"
    with pytest.raises(Conflict):
        await alert_store.acknowledge(ar, PID, "a1", "nurse-7", T0 + timedelta(minutes=12))


async def test_resolve_an_acknowledged_alert_without_outcome(r: redis.Redis, ar: redis.asyncio.Redis) -> None:
    raise_alert(r, "o2home-band", Priority.MEDIUM, T0, "a1")
    await alert_store.acknowledge(ar, PID, "a1", "nurse-7", T0)
    done = await alert_store.resolve(ar, PID, "a1", "nurse-7", None, T0 + timedelta(minutes=1))
    assert (done["state"], done["outcome"], done["acknowledged_by"]) == ("resolved", None, "nurse-7")
    assert "outcome" not in events(r)[-1]


@pytest.mark.parametrize("alert_id", ["nope", "~open"])
async def test_unknown_alert_is_not_found(r: redis.Redis, ar: redis.asyncio.Redis, alert_id: str) -> None:
    raise_alert(r, "o2home-band", Priority.MEDIUM, T0, "a1")
    with pytest.raises(NotFound):
        await alert_store.acknowledge(ar, PID, alert_id, "nurse-7", T0)
    with pytest.raises(NotFound):
        await alert_store.resolve(ar, PID, alert_id, "nurse-7", None, T0)
    with pytest.raises(NotFound):
        await alert_store.get_alert(ar, PID, alert_id)
    with pytest.raises(NotFound):
        await alert_store.acknowledge(ar, "p-nobody", "a1", "nurse-7", T0)


async def test_summary_is_the_worst_open_alert(r: redis.Redis, ar: redis.asyncio.Redis) -> None:
    raise_alert(r, "evaluation-failed", Priority.LOW, T0, "t1")
    assert (summary(r) or {})["alert_id"] == "t1"
    raise_alert(r, "o2home-band", Priority.HIGH, T0 + timedelta(minutes=1), "a1")
    assert (summary(r) or {})["alert_id"] == "a1"  # high beats the older low
    await alert_store.resolve(ar, PID, "a1", "dr-2", "reviewed", T0 + timedelta(minutes=2))
    assert (summary(r) or {})["alert_id"] == "t1"
    assert (await alert_store.open_summaries(ar))[PID]["alert_id"] == "t1"
    listed = await alert_store.list_alerts(ar, PID)
    assert [a["alert_id"] for a in listed] == ["a1", "t1"]  # newest raised first, index not listed
    assert SyncAlertStore(r).list_alerts(PID) == listed


def test_equal_priority_the_older_alert_leads(r: redis.Redis) -> None:
    raise_alert(r, "rule-b", Priority.MEDIUM, T0 + timedelta(minutes=5), "b")
    raise_alert(r, "rule-a", Priority.MEDIUM, T0, "a")
    assert (summary(r) or {})["alert_id"] == "a"


async def test_upgrade_reopens_an_acknowledged_alert(r: redis.Redis, ar: redis.asyncio.Redis) -> None:
    raise_alert(r, "o2home-band", Priority.MEDIUM, T0, "a1")
    acked = await alert_store.acknowledge(ar, PID, "a1", "nurse-7", T0 + timedelta(minutes=1))
    store = SyncAlertStore(r)
    [raw] = store.get_open_many([(PID, "o2home-band")])
    up = upgraded(json.loads(raw), Priority.HIGH, cause(91, Band.RED), T0 + timedelta(minutes=2))
    assert store.apply_many([Apply(PID, "o2home-band", "", raw, up, "upgraded")]) == ["ok"]
    now = await alert_store.get_alert(ar, PID, "a1")
    assert (now["priority"], now["state"], now["acknowledged_by"]) == ("high", "open", None)
    assert now["raised_at"] == acked["raised_at"]
    assert [e["event"] for e in events(r)] == ["raised", "acknowledged", "upgraded"]


async def test_no_alerts(ar: redis.asyncio.Redis) -> None:
    assert await alert_store.list_alerts(ar, PID) == []
    assert await alert_store.open_summaries(ar) == {}


async def test_snooze_is_limited_and_recorded(r: redis.Redis, ar: redis.asyncio.Redis) -> None:
    raise_alert(r, "o2home-band", Priority.MEDIUM, T0, "a1")
    limit = timedelta(minutes=30)
    with pytest.raises(alert_store.Refused, match="at most"):
        await alert_store.snooze(ar, PID, "a1", "nurse-7", timedelta(minutes=31), limit, T0)
    done = await alert_store.snooze(ar, PID, "a1", "nurse-7", timedelta(minutes=10), limit, T0)
    assert (done["snoozed_by"], done["snoozed_until"], done["snooze_priority"]) == (
        "nurse-7",
        "2026-11-30T09:10:00.000Z",
        "medium",
    )
    assert [e["kind"] for e in done["events"]] == ["snoozed"]
    assert events(r)[-1]["event"] == "snoozed"
    assert events(r)[-1]["by"] == "nurse-7"
    await alert_store.resolve(ar, PID, "a1", "dr-2", "reviewed", T0 + timedelta(minutes=1))
    with pytest.raises(Conflict):
        await alert_store.snooze(ar, PID, "a1", "nurse-7", timedelta(minutes=5), limit, T0)


async def test_escalate_by_hand_saves_the_notification_with_the_change(
    r: redis.Redis, ar: redis.asyncio.Redis
) -> None:
    raise_alert(r, "o2home-band", Priority.HIGH, T0, "a1")
    ladder = ward_ladder(600, 900, 1200)
    await alert_store.acknowledge(ar, PID, "a1", "nurse-7", T0 + timedelta(minutes=1))
    later = T0 + timedelta(minutes=2)
    done = await alert_store.escalate(ar, PID, "a1", ladder, "nurse-7", "needs a doctor", later, from_tier=0)
    assert (done["state"], done["acknowledged_by"], done["tier"], done["tier_since"]) == (
        "open",
        None,
        1,
        "2026-11-30T09:02:00.000Z",
    )
    assert done["events"][-1]["detail"] == "by hand to ward-clinician: needs a doctor"
    assert (summary(r) or {})["state"] == "open"
    assert {k: events(r)[-1][k] for k in ("event", "by", "tier")} == {
        "event": "escalated",
        "by": "nurse-7",
        "tier": "1",
    }
    [note] = notifications(r, PID)
    assert (note["kind"], note["tier"], note["at"], note["repeat"], note["page"]) == (
        "escalated",
        1,
        "2026-11-30T09:02:00+00:00",
        False,
        True,
    )
    # the second of two clinicians who both saw tier 0: told, nothing changed, nobody re-notified
    with pytest.raises(Conflict, match="already escalated by nurse-7") as moved:
        await alert_store.escalate(ar, PID, "a1", ladder, "dr-2", "same worry", later, from_tier=0)
    assert moved.value.alert["tier"] == 1
    with pytest.raises(alert_store.Refused, match="no escalation ladder"):
        await alert_store.escalate(ar, PID, "a1", None, "dr-2", "why", later)
    assert len(notifications(r, PID)) == 1
    await alert_store.resolve(ar, PID, "a1", "dr-2", "reviewed", later)
    with pytest.raises(Conflict, match="already resolved"):
        await alert_store.escalate(ar, PID, "a1", ladder, "nurse-7", "why", later)


def test_the_open_op_lists_every_open_alert_by_rule(r: redis.Redis) -> None:
    raise_alert(r, "o2home-band", Priority.HIGH, T0, "a1")
    raise_alert(r, "signal-quality", Priority.ADVISORY, T0, "q1")
    store = SyncAlertStore(r)
    pipe = r.pipeline(transaction=False)
    store.queue_open(pipe, PID)
    [flat] = pipe.execute()
    pairs = dict(zip(flat[::2], flat[1::2], strict=True))
    assert {k.decode(): json.loads(v)["alert_id"] for k, v in pairs.items()} == {
        "o2home-band": "a1",
        "signal-quality": "q1",
    }
    assert (summary(r) or {})["open_count"] == 2
