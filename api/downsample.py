"""Downsampled reading series for charts: min / max / mean of SpO2 and pulse per time bucket.

Scanning a day of 1 Hz readings (86,400 stream entries) per request is far too slow in Python, so
the service keeps **per-minute aggregates** per patient (api/lua/rollup.lua): readings, excluded
readings, and count / sum / min / max of SpO2 and pulse, keyed by the minute they were *measured*
in. The aggregates are folded in incrementally: the hash remembers the last stream entry folded
(`~w`), and a request first folds whatever was stored since, in chunks of ``FOLD_CHUNK`` entries
(each chunk one short atomic script, so Redis never stalls on a long one). Counts and sums merge,
so late-arriving readings land in the minute they were measured in, whenever they arrive.

A chart bucket is a whole number of minutes, aligned to multiples of its size since the epoch (so
a chart does not shift as time passes); a request's `from` / `to` are taken to whole minutes.

Excluded readings: those the device itself flags as unusable -- the *unscorable* flags of
alerting/quality.py (invalid, unavailable, early estimate, demo/test data, calibration, probe
off, sensor displaced/disconnected/malfunction, equipment malfunction; measurement ongoing for a
spot-check). They are counted in `excluded` but add no values: a probe-off 60% must not draw a
dip on the chart.

Retention: minutes older than the readings' retention are trimmed as the fold advances.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from importlib.resources import files

from redis.asyncio import Redis

from alerting.model import QualityLevel
from alerting.quality import DEVICE_FLAGS, MEASUREMENT_FLAGS, MEASUREMENT_ONGOING_BIT
from api import keys
from api.contract import datetime_ms, format_utc_ms
from api.registry import text
from api.resources import keys as rkeys

ROLLUP_LUA = files("api").joinpath("lua/rollup.lua").read_text(encoding="utf-8")
#: Entries folded per script call: a few milliseconds of Redis time each.
FOLD_CHUNK = 2_000
MINUTE_MS = 60_000
MAX_BUCKETS = 5_000


def _mask(table: dict[int, tuple[str, QualityLevel]]) -> int:
    return sum(1 << bit for bit, (_, level) in table.items() if level is QualityLevel.UNSCORABLE)


MEASUREMENT_MASK = _mask(MEASUREMENT_FLAGS)
DEVICE_MASK = _mask(DEVICE_FLAGS)
ONGOING_MASK = 1 << MEASUREMENT_ONGOING_BIT


async def _fold(
    r: Redis, patient_id: str, retention_ms: int, now: datetime, span: tuple[int, int] | None
) -> str:
    """Fold everything stored since the last fold; then the buckets of ``span`` as one string."""
    keep_from = (datetime_ms(now) - retention_ms) // MINUTE_MS
    script = r.register_script(ROLLUP_LUA)
    k = [keys.readings(patient_id), rkeys.rollup(patient_id)]
    args: list[int] = [FOLD_CHUNK, keep_from, MEASUREMENT_MASK, DEVICE_MASK, ONGOING_MASK]
    if span is not None:
        args += span
    while True:
        folded, minutes = await script(keys=k, args=args)
        if int(folded) < FOLD_CHUNK:
            return text(minutes)


async def refresh(r: Redis, patient_id: str, retention_ms: int, now: datetime) -> None:
    """Fold every reading stored since the last fold."""
    await _fold(r, patient_id, retention_ms, now, None)


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


def _merge(into: list[str] | None, v: list[str]) -> list[str]:
    """Two minute aggregates as one (counts and sums add; min of mins, max of maxes)."""
    if into is None:
        return v
    out = [str(int(into[0]) + int(v[0])), str(int(into[1]) + int(v[1]))]
    for i in (2, 6):
        n_a, n_b = int(into[i]), int(v[i])
        low = v[i + 2] if not n_a else into[i + 2] if not n_b else min(into[i + 2], v[i + 2], key=float)
        high = v[i + 3] if not n_a else into[i + 3] if not n_b else max(into[i + 3], v[i + 3], key=float)
        out += [str(n_a + n_b), repr(float(into[i + 1]) + float(v[i + 1])), low, high]
    return out


async def series_json(
    r: Redis, patient_id: str, start: datetime, end: datetime, bucket_s: int, retention_ms: int, now: datetime
) -> str:
    """The JSON array of non-empty buckets of ``bucket_s`` seconds (a multiple of 60) over
    ``[start, end)``: ``{"start", "readings", "excluded", "spo2": {n, min, max, mean}, "pulse"}``.

    One script call in steady state (fold what is new, return the range's minutes as one
    string); the JSON is written directly: this is the hot path of every chart refresh.
    """
    if bucket_s % 60 or bucket_s <= 0:
        raise ValueError("bucket_seconds must be a positive multiple of 60")
    first = datetime_ms(start) // MINUTE_MS
    last = -(-datetime_ms(end) // MINUTE_MS)  # exclusive, rounded up to a whole minute
    raw = await _fold(r, patient_id, retention_ms, now, (first, last))
    size = bucket_s // 60
    buckets: dict[int, list[str]] = {}
    for item in raw.split(";") if raw else []:
        minute, _, aggregate = item.partition(":")
        key = int(minute) // size * size
        buckets[key] = _merge(buckets.get(key), aggregate.split(","))
    return "[" + ",".join(_bucket(m, v) for m, v in sorted(buckets.items())) + "]"


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
