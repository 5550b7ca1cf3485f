"""Downsampled reading series for charts: min / max / mean of SpO2 and pulse per time bucket.

Scanning a day of 1 Hz readings (86,400 stream entries) per request is far too slow, so each
patient has **per-minute aggregates** (keys.rollup; api/lua/rollup.lua): readings, excluded
readings, and count / sum / min / max of SpO2 and pulse, keyed by the minute they were *measured*
in. The ingest script folds every reading into its minute in the same atomic step that stores it
(api/lua/ingest.lua): a duplicate is refused before it, a late reading lands in the minute it was
measured in whenever it arrives, and a chart never waits for a fold -- the first request after a
quiet day or a restart costs what the hundredth does (docs/performance.md).

A chart request is one script call (api/lua/series.lua): it reads the range's minutes and merges
them into buckets in Redis, and this module writes the JSON. History stored before the aggregates
were kept at ingest is folded by that script once, ``CATCH_UP_CHUNK`` entries per call.

A chart bucket is a whole number of minutes, aligned to multiples of its size since the epoch (so
a chart does not shift as time passes); a request's `from` / `to` are taken to whole minutes.

Excluded readings (counted in `excluded`, no values): those the device flags unusable, see
api/rollup_lua.py. Retention: a minute is kept while every reading measured in it can still be in
the history, i.e. from the first whole minute inside the retention window (by Redis server time,
the clock of the history's trim); older minutes are trimmed by the ingest script as the history is,
and by chart requests for a patient whose readings stopped.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from redis.asyncio import Redis

from api import keys
from api.contract import datetime_ms, format_utc_ms
from api.registry import text
from api.rollup_lua import with_rollup

SERIES_LUA = with_rollup("series.lua")
#: History entries caught up on per script call: a few milliseconds of Redis time each.
CATCH_UP_CHUNK = 2_000
MINUTE_MS = 60_000
MAX_BUCKETS = 5_000


def default_bucket(start: datetime, end: datetime) -> int:
    """Whole minutes giving at most ~1,500 points (a day at 1 minute)."""
    minutes = max(1, int((end - start).total_seconds() // 60))
    return 60 * max(1, -(-minutes // 1500))


@lru_cache(maxsize=64)
def _day_prefix(day: int) -> str:
    return format_utc_ms(day * 86_400_000)[:11]  # "YYYY-MM-DDT"


def _minute_iso(minute: int) -> str:
    """format_utc_ms for a whole minute, without a datetime per call (1,440 of them per chart)."""
    day, rest = divmod(minute, 1440)
    return f"{_day_prefix(day)}{rest // 60:02d}:{rest % 60:02d}:00.000Z"


def _stats(n: str, total: str, low: str, high: str) -> str:
    if n == "0":
        return '{"n":0,"min":null,"max":null,"mean":null}'
    return f'{{"n":{n},"min":{low},"max":{high},"mean":{float(total) / int(n):.2f}}}'


def _bucket(minute: int, v: list[str]) -> str:
    spo2, pulse = _stats(v[2], v[3], v[4], v[5]), _stats(v[6], v[7], v[8], v[9])
    start = _minute_iso(minute)
    return f'{{"start":"{start}","readings":{v[0]},"excluded":{v[1]},"spo2":{spo2},"pulse":{pulse}}}'


async def series_json(
    r: Redis, patient_id: str, start: datetime, end: datetime, bucket_s: int, retention_ms: int
) -> str:
    """The JSON array of non-empty buckets of ``bucket_s`` seconds (a multiple of 60) over
    ``[start, end)``: ``{"start", "readings", "excluded", "spo2": {n, min, max, mean}, "pulse"}``.

    One script call (more only while catching up on old history); the JSON is written directly:
    this is the hot path of every chart refresh.
    """
    if bucket_s % 60 or bucket_s <= 0:
        raise ValueError("bucket_seconds must be a positive multiple of 60")
    first = datetime_ms(start) // MINUTE_MS
    last = -(-datetime_ms(end) // MINUTE_MS)  # exclusive, rounded up to a whole minute
    script = r.register_script(SERIES_LUA)
    k = [keys.readings(patient_id), keys.rollup(patient_id)]
    args = [CATCH_UP_CHUNK, retention_ms, first, last, bucket_s // 60]
    while True:
        caught_up, raw = await script(keys=k, args=args)
        if int(caught_up) < CATCH_UP_CHUNK:
            break
    buckets = text(raw)
    if not buckets:
        return "[]"
    out = []
    for item in buckets.split(";"):
        minute, _, aggregate = item.partition(":")
        out.append(_bucket(int(minute), aggregate.split(",")))
    return "[" + ",".join(out) + "]"


def check_range(start: datetime, end: datetime, bucket_s: int, retention: timedelta) -> str | None:
    """Why the request cannot be answered, or None."""
    if end <= start:
        return "`to` must be after `from`"
    if end - start > retention + timedelta(days=1):
        return f"the range may span at most the retention window ({retention.days} days)"
    if bucket_s % 60 or bucket_s < 60:
        return "bucket_seconds must be a multiple of 60 (charts aggregate whole minutes)"
    if (end - start).total_seconds() / bucket_s > MAX_BUCKETS:
        return f"at most {MAX_BUCKETS} buckets per request; choose a larger bucket_seconds"
    return None
