"""Where webhook events come from: alert events and new readings, turned into outbox entries (sync).

- **Alerts**: consumer group ALERT_GROUP on every shard's keys.alert_events stream (created at
  `$`: events from then on). Each event becomes `alert.raised` (event `raised`) or
  `alert.updated` (upgraded, acknowledged, resolved) with the alert's current record; the outbox
  XADD happens before the XACK, so a crash in between repeats an event, never loses one.
- **Readings**: the evaluation stream is deleted from as it is evaluated, so webhooks read the
  patients' own history streams instead (they keep readings for the retention window). One
  process at a time holds READING_LOCK and, per shard, XREADs the streams of the ward patients
  from the cursor stored per patient; a patient seen for the first time starts at its newest
  entry (no flood of history). The cursor is saved after the outbox XADD: at-least-once again.

Event ids are deterministic (`evt_r_<reading id>`, `evt_a_<shard>_<entry id>`), so a receiver
can drop the repeats at-least-once delivery may produce.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

import redis

from api import keys
from api.delivery_loop import ensure_group
from api.reading_codec import to_api
from api.registry import iso_utc, text
from api.webhooks import keys as wkeys

ALERT_TYPES = {"raised": "alert.raised"}  # every other change is alert.updated
BATCH = 200
LOCK_TTL_MS = 10_000


def _event(event_id: str, kind: str, now: datetime, data: dict[str, Any]) -> str:
    return json.dumps(
        {"id": event_id, "type": kind, "created_at": iso_utc(now), "data": data}, separators=(",", ":")
    )


def ensure_groups(r: redis.Redis) -> None:
    targets = [(keys.alert_events(s), wkeys.ALERT_GROUP, "$") for s in range(keys.SHARDS)]
    targets.append((wkeys.OUTBOX, wkeys.FANOUT_GROUP, "0"))
    for stream, group, start in targets:
        ensure_group(r, stream, group, start)


def _rows(reply: Any) -> list[tuple[str, str, dict[str, str]]]:
    """XREAD / XREADGROUP reply (RESP2 list or RESP3 dict) -> (stream, entry id, fields)."""
    items = [(s, w[0] if w else []) for s, w in reply.items()] if isinstance(reply, dict) else (reply or [])
    out = []
    for stream, rows in items:
        for eid, fields in rows:
            out.append((text(stream), text(eid), {text(k): text(v) for k, v in (fields or {}).items()}))
    return out


def pump_alerts(r: redis.Redis, consumer: str, now: datetime, pending_first: bool) -> int:
    """Move new alert events to the outbox; returns how many."""
    streams = {keys.alert_events(s): "0" if pending_first else ">" for s in range(keys.SHARDS)}
    reply = r.xreadgroup(wkeys.ALERT_GROUP, consumer, dict[Any, Any](streams), count=BATCH)
    rows = _rows(reply)
    if not rows:
        return 0
    wanted = [(f.get("patient_id", ""), f.get("alert_id", "")) for _, _, f in rows]
    pipe = r.pipeline(transaction=False)
    for pid, alert_id in wanted:
        pipe.hget(keys.alerts(pid), alert_id)
        pipe.hget(keys.patient(pid), "ward")
    looked_up = pipe.execute()
    pipe = r.pipeline(transaction=False)
    for i, (stream, eid, fields) in enumerate(rows):
        raw_alert, raw_ward = looked_up[2 * i], looked_up[2 * i + 1]
        if raw_alert is not None:
            shard = stream.split("{ox:s", 1)[1][:2]
            event_id = f"evt_a_{shard}_{eid}"
            kind = ALERT_TYPES.get(fields.get("event", ""), "alert.updated")
            ward = "" if raw_ward is None else text(raw_ward)
            data = {
                "patient_id": fields.get("patient_id"),
                "ward_id": ward or None,
                "change": fields.get("event"),
                "alert": json.loads(raw_alert),
            }
            body = _event(event_id, kind, now, data)
            pipe.xadd(wkeys.OUTBOX, {"type": kind, "id": event_id, "ward": ward, "body": body})
        pipe.xack(stream, wkeys.ALERT_GROUP, eid)
    pipe.execute()
    return len(rows)


def _ward_patients(r: redis.Redis) -> dict[str, str]:
    """patient id -> ward, for every patient currently on a ward."""
    wards = sorted(text(w) for w in r.smembers(keys.wards()))
    pipe = r.pipeline(transaction=False)
    for w in wards:
        pipe.smembers(keys.ward_patients(w))
    return {text(p): w for w, members in zip(wards, pipe.execute(), strict=True) for p in members}


def pump_readings(r: redis.Redis, holder: str, now: datetime) -> int:
    """Move readings stored since the last call to the outbox; 0 when another process holds the lock."""
    lock = r.set(wkeys.READING_LOCK, holder, nx=True, px=LOCK_TTL_MS)
    if not lock:
        current = r.get(wkeys.READING_LOCK)
        if current is None or text(current) != holder:
            return 0
        r.pexpire(wkeys.READING_LOCK, LOCK_TTL_MS)
    patients = _ward_patients(r)
    if not patients:
        return 0
    ordered = sorted(patients)
    cursors = dict(zip(ordered, r.hmget(wkeys.CURSORS, ordered), strict=True))
    fresh = [p for p in ordered if cursors[p] is None]
    if fresh:
        pipe = r.pipeline(transaction=False)
        for pid in fresh:
            pipe.xrevrange(keys.readings(pid), count=1)
        start = {
            pid: (text(rows[0][0]) if rows else "0-0")
            for pid, rows in zip(fresh, pipe.execute(), strict=True)
        }
        r.hset(wkeys.CURSORS, mapping=dict[Any, Any](start))
        cursors.update(start)
    by_shard: dict[int, dict[str, str]] = defaultdict(dict)
    for pid in ordered:
        by_shard[keys.shard_of(pid)][keys.readings(pid)] = text(cursors[pid] or "0-0")
    moved = 0
    for streams in by_shard.values():
        rows = _rows(r.xread(dict[Any, Any](streams), count=BATCH))
        if not rows:
            continue
        pipe = r.pipeline(transaction=False)
        last: dict[str, str] = {}
        for stream, eid, fields in rows:
            pid = stream.split(":p:", 1)[1].rsplit(":readings", 1)[0]
            event_id = f"evt_r_{fields['r']}"
            data = {"patient_id": pid, "ward_id": patients[pid], "reading": to_api(eid, fields)}
            body = _event(event_id, "reading.created", now, data)
            pipe.xadd(
                wkeys.OUTBOX, {"type": "reading.created", "id": event_id, "ward": patients[pid], "body": body}
            )
            last[pid] = eid
        pipe.hset(wkeys.CURSORS, mapping=dict[Any, Any](last))
        pipe.execute()
        moved += len(rows)
    return moved
