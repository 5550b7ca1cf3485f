"""Read-side queries the REST API runs against Redis: reading history pages and the ward queue.

The ward queue reads, per patient of the ward, the shard hashes the ingest script and the alert
store maintain (latest reading, worst open alert) and orders the result with api/queue.py.

Reading history (``GET /v1/patients/{id}/readings``)
----------------------------------------------------
A patient's history stream is ordered by *ingest* time (the entry id), while callers ask for a
range of *measured* time. A reading is stored after it is measured, sometimes much later (an
outbox replayed after days offline), so:

- the scan starts at the stream id ``from - CLOCK_SKEW`` (a gateway clock running a little fast
  can make measured time exceed ingest time) and runs towards the newest entry;
- each entry is kept if ``from <= measured_at < to``;
- it does **not** stop at ``to``: a late-arriving reading measured inside the range can sit
  anywhere after it in the stream. One request examines at most ``SCAN_BUDGET`` entries; a
  page can therefore hold fewer than ``limit`` items (even none) and still have a
  ``next_cursor``. Only ``next_cursor: null`` means "no more".

Pages are **oldest first in ingest order** (stream order), which is measured order except for
late arrivals (``late: true`` marks them). The cursor is the last examined entry id, encoded
opaquely; the next page starts strictly after it, so pages never overlap or skip entries, even
while new readings arrive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from alerting.bands import o2home_band
from api import alert_store, keys
from api.contract import datetime_ms, format_utc_ms
from api.queue import QueueKey, order_queue
from api.reading_codec import decode_fields, latest_vitals, to_api
from api.registry import text
from api.schemas import Band
from api.stream_ids import cursor_entry, entry_cursor

_WARD_QUEUE_LUA = files("api").joinpath("lua/ward_queue.lua").read_text(encoding="utf-8")

#: Gateway clocks are NTP-synchronised in normal operation; 10 minutes covers a badly drifting
#: one. A reading measured more than this after it was stored could be missed at a range start.
CLOCK_SKEW_MS = 10 * 60 * 1000
#: Entries examined per request: bounds the work of one call (~10k small entries is a few ms of
#: Redis time and tens of ms of Python) while late arrivals are searched for.
SCAN_BUDGET = 10_000
#: Entries fetched per XRANGE round trip.
BATCH = 500

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

_CURSOR_PREFIX = "r1:"


class CursorError(ValueError):
    """A cursor this service did not issue."""


def encode_cursor(entry_id: str) -> str:
    return entry_cursor(_CURSOR_PREFIX, entry_id)


def decode_cursor(cursor: str) -> str:
    entry_id = cursor_entry(_CURSOR_PREFIX, cursor)
    if entry_id is None:
        raise CursorError("the cursor is not one this API issued; start again without it")
    return entry_id


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class ReadingPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


async def readings_page(
    r: Redis,
    patient_id: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None = None,
    budget: int = SCAN_BUDGET,
) -> ReadingPage:
    """One page of the patient's readings measured in ``[start, end)`` (see the module docstring)."""
    start_ms, end_ms = _ms(start), _ms(end)
    if cursor is not None:
        low = "(" + decode_cursor(cursor)
    elif start_ms is not None:
        low = f"{max(0, start_ms - CLOCK_SKEW_MS)}-0"
    else:
        low = "-"
    items: list[dict[str, Any]] = []
    examined = 0
    last_id = ""
    while examined < budget:
        want = min(BATCH, budget - examined)
        batch = await r.xrange(keys.readings(patient_id), min=low, max="+", count=want) or []
        for raw_id, raw_fields in batch:
            examined += 1
            if raw_id is None or raw_fields is None:  # typed as possible; XRANGE never returns it
                continue
            last_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
            measured = int(decode_fields(raw_fields)["m"])
            if (start_ms is None or measured >= start_ms) and (end_ms is None or measured < end_ms):
                items.append(to_api(last_id, raw_fields))
                if len(items) == limit:
                    return ReadingPage(items, encode_cursor(last_id))
        if len(batch) < want:
            return ReadingPage(items, None)  # reached the newest entry
        low = "(" + last_id
    # Budget spent before the end of the stream: let the caller continue from here.
    return ReadingPage(items, encode_cursor(last_id))


# -- ward queue ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Row(QueueKey):
    latest: str | None = None  # the raw keys.latest(shard) value
    summary: dict[str, Any] | None = None
    open_count: int = 0


def _band(spo2: float | None) -> Band:
    if spo2 is None:
        return "unknown"
    try:
        return o2home_band(spo2).value
    except ValueError:  # outside 0-100: cannot have passed ingest; never show a band for it
        return "unknown"


def _item(row: _Row, now_us: int) -> dict[str, Any]:
    """One queue row in the JSON form of schemas.QueueItem (same fields, same order, same values)."""
    latest = None
    spo2 = None
    if row.latest is not None:
        spo2, pulse, measured_ms = latest_vitals(row.latest)
        latest = {
            "spo2": spo2,
            "pulse": pulse,
            "measured_at": format_utc_ms(measured_ms),
            # As timedelta.total_seconds() would give it: exact microseconds over 10**6.
            "age_seconds": round((now_us - measured_ms * 1000) / 1_000_000, 3),
        }
    s = row.summary
    alert = None
    if s is not None and row.raised_at is not None:
        alert = {
            "alert_id": s["alert_id"],
            "priority": s["priority"],
            "rule": s["rule"],
            "raised_at": format_utc_ms(datetime_ms(row.raised_at)),
            "state": s["state"],
            "acknowledged_by": s.get("acknowledged_by"),
        }
    return {
        "patient_id": row.patient_id,
        "ref": row.ref,
        "latest": latest,
        "band": _band(spo2),
        "worst_alert": alert,
        "open_alerts": row.open_count,
    }


async def ward_queue_json(r: Redis, ward_id: str, now: datetime) -> str:
    """The ward's patients in queue order (api/queue.py) as the JSON of schemas.WardQueue.

    One SMEMBERS, then one script per shard (api/lua/ward_queue.lua): per patient its ref, the
    shard's latest-reading hash and the shard's open-alert summary (api/alert_store.py: worst open
    alert, who acknowledged it, how many are open). Summaries written before they carried
    `open_count` or `acknowledged_by` are completed from the alert records.

    The JSON is written from plain dicts, not through 500 pydantic models: building and dumping
    them was most of a 500-patient queue's time (docs/performance.md). tests/api/test_queue_json.py
    holds this output to the WardQueue schema.
    """
    members = sorted(text(p) for p in await r.smembers(keys.ward_patients(ward_id)))
    by_shard: dict[int, list[str]] = {}
    for pid in members:
        by_shard.setdefault(keys.shard_of(pid), []).append(pid)
    script = r.register_script(_WARD_QUEUE_LUA)
    async with r.pipeline(transaction=False) as pipe:
        for shard, pids in by_shard.items():
            shard_keys = [keys.latest(shard), keys.open_alerts(shard), *(keys.patient(p) for p in pids)]
            await script(keys=shard_keys, args=pids, client=pipe)
        replies: list[Any] = await pipe.execute()
    patients: list[tuple[str, str]] = []
    latests: list[str | None] = []
    summaries: list[dict[str, Any] | None] = []
    for pids, reply in zip(by_shard.values(), replies, strict=True):
        for i, pid in enumerate(pids):
            ref, raw_latest, raw_summary = reply[3 * i : 3 * i + 3]
            if ref is None:
                continue
            patients.append((pid, text(ref)))
            latests.append(text(raw_latest) if raw_latest else None)
            summaries.append(json.loads(raw_summary) if raw_summary else None)
    pids_kept = [pid for pid, _ in patients]
    counts = await _open_counts(r, pids_kept, summaries)
    await _add_acknowledgers(r, pids_kept, summaries)
    rows = [
        _Row(
            patient_id=pid,
            ref=ref,
            priority=None if s is None else s["priority"],
            raised_at=None if s is None else datetime.fromisoformat(s["raised_at"]),
            latest=latest,
            summary=s,
            # The summary exists exactly when something is open; never show "worst alert, 0 open".
            open_count=max(count, 1) if s is not None else count,
        )
        for (pid, ref), latest, s, count in zip(patients, latests, summaries, counts, strict=True)
    ]
    now_us = (now - _EPOCH) // _ONE_US
    body = {
        "ward_id": ward_id,
        "generated_at": format_utc_ms(datetime_ms(now)),
        "items": [_item(row, now_us) for row in order_queue(rows)],
    }
    # ensure_ascii=False: non-ASCII refs and names as UTF-8, as pydantic writes them.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


async def _open_counts(r: Redis, pids: list[str], summaries: list[dict[str, Any] | None]) -> list[int]:
    """Open alerts per patient: from the summary, or from the alerts' open index for old summaries."""
    counts = [0 if s is None else int(s.get("open_count", -1)) for s in summaries]
    missing = [i for i, c in enumerate(counts) if c < 0]
    if missing:
        async with r.pipeline(transaction=False) as pipe:
            for i in missing:
                pipe.hget(keys.alerts(pids[i]), alert_store.INDEX_FIELD)
            raws: list[Any] = await pipe.execute()
        for i, raw in zip(missing, raws, strict=True):
            counts[i] = 0 if raw is None else len(json.loads(raw))
    return counts


async def _add_acknowledgers(r: Redis, pids: list[str], summaries: list[dict[str, Any] | None]) -> None:
    wanted = [
        (i, pid, s["alert_id"])
        for i, (pid, s) in enumerate(zip(pids, summaries, strict=True))
        if s is not None and s.get("state") == "acknowledged" and "acknowledged_by" not in s
    ]
    if not wanted:
        return
    async with r.pipeline(transaction=False) as pipe:
        for _, pid, alert_id in wanted:
            pipe.hget(keys.alerts(pid), alert_id)
        records: list[Any] = await pipe.execute()
    for (i, _, _), raw in zip(wanted, records, strict=True):
        summary = summaries[i]
        if raw is not None and summary is not None:
            summary["acknowledged_by"] = json.loads(raw).get("acknowledged_by")
