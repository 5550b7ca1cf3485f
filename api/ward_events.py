"""Live ward updates as Server-Sent Events (``GET /v1/wards/{ward_id}/events``).

The service follows, with one blocking XREAD, every shard's alert-event stream and evaluation
stream (each stored reading is queued there once, api/store.py). Entries naming a patient of the
ward make the stream send that patient's fresh board row (api/ward_board.py); alert events are
also sent as they are, for the page's sound and desktop notification.

A reading's eval entry is deleted once evaluated, so one could come and go between two XREADs; a
sweep therefore rebuilds every row of the ward every ``SWEEP_S`` and sends those that changed (it
also notices patients joining or leaving the ward and gateways going offline). Nothing is lost for
longer than a sweep, and the page fetches the whole board again after each (re)connection.

Events: ``hello`` (connected), ``rows`` (changed rows and patients that left), ``alert`` (one
lifecycle event), ``ping`` (every ``PING_S``: the page treats silence as a lost connection) and
``bye`` (the stream ends by design; the page reconnects at once).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from api import keys, registry
from api.board_schemas import BoardRow
from api.registry import PatientRecord, text
from api.ward_board import rows_for

#: Below the Redis client's 5 s command timeout (api/main.py): a blocked XREAD must not time out.
BLOCK_MS = 2_000
PING_S = 10.0
SWEEP_S = 15.0
#: A stream ends after this long (or when its access token expires), so a revoked grant or a
#: signed-out session cannot keep one open; the page reconnects within a second.
MAX_STREAM_S = 600.0
#: Unknown patients in the streams (someone just enrolled?) re-read the ward at most this often.
MEMBERS_REFRESH_S = 1.0
_ALERT_FIELDS = (
    "event",
    "alert_id",
    "patient_id",
    "rule",
    "priority",
    "state",
    "at",
    "by",
    "outcome",
    "tier",
)


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _fingerprint(row: BoardRow) -> str:
    # The age changes every second; the page counts it up from measured_at itself.
    return row.model_dump_json(exclude={"latest": {"age_seconds"}})


def _entries(reply: Any) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """XREAD's reply as (stream, [(id, fields)]) under RESP2 (a list) or RESP3 (a map)."""
    items = reply.items() if isinstance(reply, dict) else (reply or [])
    out = []
    for stream, entries in items:
        batch = [
            (text(i), {text(k): text(v) for k, v in f.items()}) for i, f in entries if i is not None and f
        ]
        out.append((text(stream), batch))
    return out


class WardStream:
    def __init__(
        self,
        r: Redis,
        ward_id: str,
        lifetime_s: float,
        allowed: Callable[[], Awaitable[bool]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.r, self.ward_id, self.allowed, self.clock = r, ward_id, allowed, clock
        self.deadline = time.monotonic() + min(lifetime_s, MAX_STREAM_S)
        self.alert_streams = {keys.alert_events(s) for s in range(keys.SHARDS)}
        self.cursor: dict[str, str] = {}
        self.members: dict[str, PatientRecord] = {}
        self.sent: dict[str, str] = {}
        self.members_read = 0.0

    async def _start(self) -> None:
        """Every followed stream's newest id now: later entries are news, none is missed between reads."""
        names = sorted(self.alert_streams | {keys.eval_stream(s) for s in range(keys.SHARDS)})
        async with self.r.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.xrevrange(name, count=1)
            newest: list[Any] = await pipe.execute()
        self.cursor = {
            n: text(found[0][0]) if found else "0-0" for n, found in zip(names, newest, strict=True)
        }

    async def _read_members(self) -> set[str]:
        """Re-read the ward's patients; returns the ids that left it."""
        before = set(self.members)
        self.members = {p.patient_id: p for p in await registry.list_ward_patients(self.r, self.ward_id)}
        self.members_read = time.monotonic()
        return before - set(self.members)

    async def _rows(self, patient_ids: set[str]) -> list[BoardRow]:
        """Rows of these ward patients that differ from what this stream sent last."""
        wanted = [self.members[p] for p in sorted(patient_ids) if p in self.members]
        changed = []
        for row in await rows_for(self.r, wanted, self.clock()):
            mark = _fingerprint(row)
            if self.sent.get(row.patient_id) != mark:
                self.sent[row.patient_id] = mark
                changed.append(row)
        return changed

    async def _read(self) -> tuple[set[str], list[dict[str, str]]]:
        """Block until something happens (or BLOCK_MS): (patients named, alert events)."""
        streams: dict[Any, Any] = dict(self.cursor)
        reply = await self.r.xread(streams, count=1000, block=BLOCK_MS)
        touched: set[str] = set()
        alerts: list[dict[str, str]] = []
        for stream, batch in _entries(reply):
            for entry_id, fields in batch:
                self.cursor[stream] = entry_id
                pid = fields.get("patient_id") or fields.get("pt")
                if pid is not None:
                    touched.add(pid)
                    if stream in self.alert_streams:
                        alerts.append(fields)
        return touched, alerts

    async def events(self) -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"  # EventSource reconnect delay after a drop (ms)
        await self._start()
        await self._read_members()
        await self._rows(set(self.members))  # what the page is about to fetch: only changes follow
        yield sse("hello", {"ward_id": self.ward_id, "server_time": self.clock().isoformat()})
        next_ping = next_sweep = time.monotonic()
        next_ping += PING_S
        next_sweep += SWEEP_S
        while time.monotonic() < self.deadline:
            touched, alerts = await self._read()
            left: set[str] = set()
            if touched - set(self.members) and time.monotonic() - self.members_read > MEMBERS_REFRESH_S:
                left = await self._read_members()
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + SWEEP_S
                if not await self.allowed():
                    break
                left |= await self._read_members()
                touched = set(self.members)
            for fields in alerts:
                patient = self.members.get(fields["patient_id"])
                if patient is not None:
                    yield sse(
                        "alert", {**{k: fields[k] for k in _ALERT_FIELDS if k in fields}, "ref": patient.ref}
                    )
            rows = await self._rows(touched & set(self.members))
            for pid in left:
                self.sent.pop(pid, None)
            if rows or left:
                data = {
                    "generated_at": self.clock().isoformat(),
                    "items": [row.model_dump(mode="json") for row in rows],
                    "removed": sorted(left),
                }
                yield sse("rows", data)
            if now >= next_ping:
                next_ping = now + PING_S
                yield sse("ping", {"server_time": self.clock().isoformat()})
        yield sse("bye", {"reason": "the stream is renewed; reconnect"})
