"""Readings of a patient whose readings stopped still leave at the end of the retention window:
the scheduler's leader sweeps every patient once an hour (api/retention.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from api import keys
from api.contract import validate_reading
from api.resources import keys as rkeys
from api.scheduler import AlertScheduler
from api.store import Checked, Outcome, ReadingStore
from tests.api import factories
from tests.api.alerting_support import settings

pytestmark = pytest.mark.integration

LONG_MS = 14 * 24 * 3_600_000
STOPPED, ACTIVE, INDEXED_ONLY = "p-stopped", "p-active", "p-indexed"


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    factories.enrol(client, STOPPED, "north-1", "AA:00:00:00:00:01", "Bed 1")
    factories.enrol(client, ACTIVE, "north-1", "AA:00:00:00:00:02", "Bed 2")
    factories.enrol(client, INDEXED_ONLY, "north-2", "AA:00:00:00:00:03", "Bed 3")
    client.srem(keys.ward_patients("north-2"), INDEXED_ONLY)  # e.g. registered through the REST resources
    client.zadd(rkeys.PATIENTS, {INDEXED_ONLY: 0})
    yield client
    client.close()


def store(r: redis.Redis, address: str, seq: int) -> None:
    payload = factories.payload(measured_at=datetime.now(UTC) - timedelta(seconds=1), seq=seq, device=address)
    raw = factories.encode(payload)
    [outcome] = ReadingStore(r, retention_ms=LONG_MS).store_batch(
        [Checked(factories.TOPIC, raw, validate_reading(factories.TOPIC, raw))]
    )
    assert outcome is Outcome.STORED, outcome


def sizes(r: redis.Redis, pid: str) -> tuple[int, int, int]:
    fields: list[bytes] = list(r.hkeys(keys.rollup(pid)))  # type: ignore[arg-type]
    minutes = [k for k in fields if not k.startswith(b"~")]
    return int(r.xlen(keys.readings(pid))), int(r.zcard(keys.reading_ids(pid))), len(minutes)


def test_the_leader_trims_patients_whose_readings_stopped_once_an_hour(
    r: redis.Redis, redis_url: str
) -> None:
    for seq, address in enumerate(("AA:00:00:00:00:01", "AA:00:00:00:00:02", "AA:00:00:00:00:03")):
        store(r, address, seq)
    assert [sizes(r, p)[:2] for p in (STOPPED, ACTIVE, INDEXED_ONLY)] == [(1, 1)] * 3
    time.sleep(1.2)  # past a one-second retention window, by Redis' clock too
    store(r, "AA:00:00:00:00:02", 10)  # this patient still sends readings

    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    clock = [now]
    sched = AlertScheduler(
        settings(redis_url).model_copy(update={"retention_hours": 1 / 3600}), client=r, clock=lambda: clock[0]
    )
    first = sched.tick()
    assert first.leader
    assert first.trimmed == 3  # both stopped patients' readings and the active one's old reading
    assert sizes(r, STOPPED) == (0, 0, 0)
    assert sizes(r, INDEXED_ONLY) == (0, 0, 0)
    assert sizes(r, ACTIVE)[:2] == (1, 1)  # the fresh one stays

    time.sleep(1.2)
    clock[0] = now + timedelta(minutes=30)
    assert sched.tick().trimmed == 0  # not yet due: the fresh reading is still there
    assert sizes(r, ACTIVE)[:2] == (1, 1)
    clock[0] = now + timedelta(hours=1)
    assert sched.tick().trimmed == 1
    assert sizes(r, ACTIVE) == (0, 0, 0)
