"""The chart's per-minute aggregates (api/lua/rollup.lua) against a brute-force count of the stored
history: kept by the ingest script itself, late and duplicate readings counted once, unusable ones
excluded, trimmed with the history, and history from before they were kept at ingest caught up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import redis

from alerting.model import QualityLevel
from alerting.quality import DEVICE_FLAGS, MEASUREMENT_FLAGS
from api import keys
from api.contract import ValidReading, validate_reading
from api.reading_codec import to_api, to_fields
from api.reading_quality import quality_of
from api.store import Checked, Outcome, ReadingStore
from tests.api import factories
from tests.api.rest_support import AUTH, RETENTION_MS, api_client

pytestmark = pytest.mark.integration

PID = "p-rollup-1"
MINUTE = timedelta(minutes=1)
#: Counted, no values on the chart: the device's own unusable flags (alerting's judgement).
FLAG_REASONS = {
    reason
    for reason, level in (*MEASUREMENT_FLAGS.values(), *DEVICE_FLAGS.values())
    if level is QualityLevel.UNSCORABLE
} | {"measurement-ongoing"}
PROBE_OFF = 1 << 11
INVALID = 1 << 15  # Measurement Status: invalid measurement (unscorable)
QUESTIONABLE = 1 << 14  # Measurement Status: questionable (still charted)
POOR_SIGNAL = 1 << 4  # Device and Sensor Status: poor signal (questionable, still charted)
ONGOING = 1 << 5  # Measurement Status: measurement ongoing (unusable for a spot-check only)


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    factories.enrol(client, PID, "north-1", factories.DEVICE, "Bed 1")
    yield client
    client.close()


def now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def varied(start: datetime, count: int, seq0: int, step_s: int = 7) -> list[dict[str, Any]]:
    """Readings every `step_s` seconds with every kind of status the chart must tell apart."""
    kinds: list[dict[str, Any]] = [
        {},
        {"device_sensor": PROBE_OFF, "spo2": 41.0},
        {"measurement": INVALID, "spo2": 55.0},
        {"measurement": QUESTIONABLE},
        {"device_sensor": POOR_SIGNAL},
        {"measurement": ONGOING},  # spot-check: excluded
        {"measurement": ONGOING, "mode": "continuous"},  # continuous: charted
        {"spo2": None},  # no SpO2: counted, pulse only
        {"spo2": 94.5, "pulse": 101.5},
    ]
    out = []
    for i in range(count):
        values: dict[str, Any] = {"spo2": float(88 + (i * 5) % 11), "pulse": float(60 + (i * 3) % 40)}
        values |= kinds[i % len(kinds)]
        out.append(
            factories.payload(
                measured_at=start + timedelta(seconds=step_s * i, milliseconds=i), seq=seq0 + i, **values
            )
        )
    return out


def store(r: redis.Redis, payloads: list[dict[str, Any]], retention_ms: int = RETENTION_MS) -> list[Outcome]:
    batch = []
    for p in payloads:
        raw = factories.encode(p)
        batch.append(Checked(factories.TOPIC, raw, validate_reading(factories.TOPIC, raw)))
    return ReadingStore(r, retention_ms=retention_ms).store_batch(batch)


def stored(r: redis.Redis) -> list[dict[str, Any]]:
    rows: list[Any] = r.xrange(keys.readings(PID)) or []
    return [to_api(entry_id, fields) for entry_id, fields in rows]


def brute_force(readings: list[dict[str, Any]], bucket_s: int, from_minute: int = 0) -> list[dict[str, Any]]:
    """Per bucket, straight from the readings: counts, and min / max / mean of the usable values."""
    buckets: dict[int, dict[str, Any]] = {}
    for reading in readings:
        measured = datetime.fromisoformat(reading["measured_at"])
        if int(measured.timestamp()) // 60 < from_minute:
            continue
        start = int(measured.timestamp()) // bucket_s * bucket_s
        b = buckets.setdefault(start, {"readings": 0, "excluded": 0, "spo2": [], "pulse": []})
        b["readings"] += 1
        if FLAG_REASONS & set(quality_of(reading).reasons):
            b["excluded"] += 1
            continue
        for vital in ("spo2", "pulse"):
            if reading[vital] is not None:
                b[vital].append(reading[vital])
    return [
        {
            "start": factories.iso_ms(datetime.fromtimestamp(start, UTC)),
            "readings": b["readings"],
            "excluded": b["excluded"],
            **{
                vital: {
                    "n": len(v),
                    "min": min(v, default=None),
                    "max": max(v, default=None),
                    "mean": float(f"{sum(v) / len(v):.2f}") if v else None,
                }
                for vital, v in (("spo2", b["spo2"]), ("pulse", b["pulse"]))
            },
        }
        for start, b in sorted(buckets.items())
    ]


async def series(redis_url: str, start: datetime, end: datetime, bucket_s: int) -> list[dict[str, Any]]:
    params: dict[str, str | int] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "bucket_seconds": bucket_s,
    }
    async with api_client(redis_url) as client:
        response = await client.get(f"/v1/patients/{PID}/readings/series", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    buckets: list[dict[str, Any]] = response.json()["buckets"]
    return buckets


def minutes(r: redis.Redis) -> dict[int, str]:
    """The rollup's minute fields (the `~` fields are its bookkeeping)."""
    fields = cast(dict[bytes, bytes], r.hgetall(keys.rollup(PID)))
    return {int(k): v.decode() for k, v in fields.items() if not k.startswith(b"~")}


async def test_ingest_keeps_the_minutes_and_every_bucket_size_matches_the_history(
    r: redis.Redis, redis_url: str
) -> None:
    t0 = now_minute() - timedelta(minutes=40)
    payloads = varied(t0 + timedelta(seconds=13), 300, 0)  # 35 minutes of every kind of reading
    assert store(r, payloads) == [Outcome.STORED] * len(payloads)
    # Before any chart was asked for: the ingest script folded every reading into its minute.
    measured = {int(datetime.fromisoformat(p["measured_at"]).timestamp()) // 60 for p in payloads}
    assert sorted(minutes(r)) == sorted(measured)
    history = stored(r)
    assert len(history) == len(payloads)
    for bucket_s in (60, 300, 420, 3600):
        got = await series(redis_url, t0 - timedelta(hours=1), t0 + timedelta(hours=1), bucket_s)
        assert got == brute_force(history, bucket_s), bucket_s
    # A range that starts and ends inside buckets: only the range's minutes, whole buckets' starts.
    start, end = t0 + timedelta(minutes=7, seconds=20), t0 + timedelta(minutes=19, seconds=5)
    low, high = start.replace(second=0), end.replace(second=0) + MINUTE  # whole minutes
    inside = [x for x in history if low <= datetime.fromisoformat(x["measured_at"]) < high]
    assert await series(redis_url, start, end, 300) == brute_force(inside, 300)


async def test_late_and_duplicate_readings_count_once_in_the_minute_they_were_measured_in(
    r: redis.Redis, redis_url: str
) -> None:
    t0 = now_minute() - timedelta(minutes=30)
    on_time = varied(t0, 200, 0)
    late = varied(t0 + timedelta(minutes=3, seconds=2), 40, 10_000, step_s=11)
    store(r, on_time)
    before = await series(redis_url, t0, t0 + timedelta(minutes=30), 300)
    assert before == brute_force(stored(r), 300)
    # Late readings after the chart was read, duplicates of old and late ones within and across batches.
    outcomes = store(r, late[:20] + on_time[:15] + late[:5])
    assert outcomes == [Outcome.STORED] * 20 + [Outcome.DUPLICATE] * 20
    assert (
        store(r, late + on_time[100:])
        == [Outcome.DUPLICATE] * 20 + [Outcome.STORED] * 20 + [Outcome.DUPLICATE] * 100
    )
    history = stored(r)
    assert len(history) == len(on_time) + len(late)
    for bucket_s in (60, 300):
        got = await series(redis_url, t0, t0 + timedelta(minutes=30), bucket_s)
        assert got == brute_force(history, bucket_s)
        # ... and against the readings as sent, each once, not only as stored.
        assert got == brute_force([as_stored(p) for p in on_time + late], bucket_s)


def as_stored(p: dict[str, Any]) -> dict[str, Any]:
    reading = validate_reading(factories.TOPIC, factories.encode(p))
    assert isinstance(reading, ValidReading)
    return to_api("0-0", to_fields(reading))


def _server_ms(r: redis.Redis) -> int:
    sec, usec = r.time()
    return int(sec) * 1000 + int(usec) // 1000


def wait_server_ms(r: redis.Redis, until: int) -> None:
    """Until Redis' clock (the one retention is measured by) passes `until`."""
    deadline = time.monotonic() + 15
    while _server_ms(r) <= until:
        assert time.monotonic() < deadline
        time.sleep(0.05)


async def test_minutes_leave_with_the_retention_window(r: redis.Redis, redis_url: str) -> None:
    t0 = now_minute() - timedelta(minutes=6)
    store(r, varied(t0, 60, 0, step_s=5), retention_ms=10 * 60_000)  # minutes t0 .. t0+4
    first = int(t0.timestamp()) // 60
    assert sorted(minutes(r)) == list(range(first, first + 5))
    # Retention shortened so that the window now starts inside minute first+2 (the trim happens
    # on the next stored reading, as the history's): minutes before the first whole minute inside
    # it go; the history keeps everything (stored moments ago).
    cut = (first + 2) * 60_000 + 20_000
    newest = factories.payload(measured_at=datetime.now(UTC) - timedelta(seconds=2), seq=999)
    store(r, [newest], retention_ms=_server_ms(r) - cut)
    kept_from = first + 3
    assert min(minutes(r)) == kept_from
    assert r.hget(keys.rollup(PID), "~lo") == str(kept_from).encode()
    history = stored(r)
    assert len(history) == 61
    for bucket_s in (60, 300):
        got = await series(redis_url, t0 - timedelta(hours=1), t0 + timedelta(hours=1), bucket_s)
        assert got == brute_force(history, bucket_s, from_minute=kept_from)
    # A retention shorter than the time since they were stored: the history is trimmed to the
    # newest reading, and no minute of a trimmed reading remains.
    wait_server_ms(r, _server_ms(r) + 300)
    last = factories.payload(measured_at=datetime.now(UTC) - timedelta(seconds=1), seq=1000)
    store(r, [last], retention_ms=200)
    assert [x["reading_id"] for x in stored(r)] == [last["reading_id"]]
    # `last` itself was measured before the first whole minute of that window: not charted either.
    assert minutes(r) == {}
    assert await series(redis_url, t0 - timedelta(hours=1), datetime.now(UTC), 60) == []


def _store_directly(r: redis.Redis, payloads: list[dict[str, Any]]) -> None:
    """As a version that kept no aggregates at ingest stored them: the history stream only."""
    pipe = r.pipeline(transaction=False)
    for p in payloads:
        reading = validate_reading(factories.TOPIC, factories.encode(p))
        assert isinstance(reading, ValidReading)
        pipe.xadd(keys.readings(PID), dict[Any, Any](to_fields(reading)))
    pipe.execute()


async def test_history_stored_before_ingest_kept_minutes_is_caught_up_once(
    r: redis.Redis, redis_url: str
) -> None:
    t0 = now_minute() - timedelta(hours=2)
    window = (t0 - MINUTE, t0 + timedelta(hours=2))
    old = varied(t0, 4_000, 0, step_s=1)  # after the first 1,000: more than one catch-up chunk
    _store_directly(r, old[:1_000])
    # The previous version folded on read: its state is a '~w' watermark and no '~live'.
    assert await series(redis_url, *window, 300) == brute_force(stored(r), 300)
    assert r.hget(keys.rollup(PID), "~live") is None
    _store_directly(r, old[1_000:])  # stored by the old ingest, never folded
    new = varied(t0 + timedelta(minutes=50), 100, 50_000)
    late = varied(t0 + timedelta(seconds=500, milliseconds=500), 30, 60_000)
    store(r, new + late)  # the new ingest: folds these, marks where it started
    history = stored(r)
    for _ in range(2):  # caught up once: asking again counts nothing twice
        assert await series(redis_url, *window, 300) == brute_force(history, 300)
        assert await series(redis_url, *window, 60) == brute_force(history, 60)
    marks = r.hmget(keys.rollup(PID), ["~w", "~live"])
    assert marks[0] == marks[1] is not None
    assert sum(int(v.split(",")[0]) for v in minutes(r).values()) == len(history)


async def test_a_chart_of_a_patient_without_readings_writes_nothing(r: redis.Redis, redis_url: str) -> None:
    assert await series(redis_url, now_minute() - timedelta(hours=1), now_minute(), 60) == []
    assert not r.exists(keys.rollup(PID))
