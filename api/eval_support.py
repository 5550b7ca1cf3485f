"""Parts of the evaluation worker (api/worker.py): eval stream entries, counters, and the failure
path -- a reading whose evaluation raises is dead-lettered ("evaluation-failed") AND raises the
patient's low priority technical alert `evaluation-failed` (latching, api/alert_engine.py) in the
same save that acknowledges the entry: failure is never silent, and one bad entry cannot stop the
worker."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from api import keys
from api.alert_engine import Change
from api.alert_store import SyncAlertStore, text
from api.evaluation import failure_change
from api.patient_context import PatientContext, WardConfigs, load_many
from api.reading_codec import decode_fields
from api.store import DEAD_LETTER_MAXLEN, TRANSIENT, dead_letter_fields

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5


@dataclass(frozen=True, slots=True)
class Entry:
    stream: str
    entry_id: str
    fields: dict[str, str] | None  # None: the entry was deleted while pending


@dataclass
class WorkerStats:
    evaluated: int = 0
    raised: int = 0
    upgraded: int = 0
    failed: int = 0
    conflicts: int = 0
    claimed: int = 0
    events: dict[str, int] = field(default_factory=dict)

    def count(self, change: Change) -> None:
        for kind in change.kinds:
            self.events[kind] = self.events.get(kind, 0) + 1


def entries_of(reply: Any) -> list[Entry]:
    """XREADGROUP reply -> entries in order. RESP2: [[stream, rows]]; RESP3: {stream: [rows]}."""
    if isinstance(reply, dict):
        items = [(stream, wrapped[0] if wrapped else []) for stream, wrapped in reply.items()]
    else:
        items = reply or []
    out: list[Entry] = []
    for stream, rows in items:
        out += [Entry(text(stream), text(eid), None if not f else decode_fields(f)) for eid, f in rows]
    return out


def ack(client: redis.Redis, e: Entry) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.xack(e.stream, keys.EVAL_GROUP, e.entry_id)
    pipe.xdel(e.stream, e.entry_id)
    pipe.execute()


class FailurePath:
    """Dead letter + technical alert + acknowledgement for an entry that could not be evaluated."""

    def __init__(
        self,
        client: redis.Redis,
        store: SyncAlertStore,
        configs: WardConfigs,
        clock: Callable[[], datetime],
        count: Callable[[Change], None],
    ) -> None:
        self._r = client
        self._store = store
        self._configs = configs
        self._clock = clock
        self._count = count

    def fail(self, e: Entry, pid: str | None, exc: Exception) -> None:
        kind = type(exc).__name__
        log.error("evaluation of entry %s failed: %s", e.entry_id, kind)
        log.debug("evaluation failure detail", exc_info=exc)
        raw = json.dumps(e.fields or {}, separators=(",", ":")).encode("utf-8")
        pipe = self._r.pipeline(transaction=False)
        now_ms = int(time.time() * 1000)
        fields = dead_letter_fields("evaluation-failed", f"{kind}: {exc}", e.stream, raw, now_ms)
        pipe.xadd(keys.DEAD_LETTER, fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        pipe.hincrby(keys.METRICS, "dead_letter:evaluation-failed", 1)
        pipe.execute()
        if pid is None or not self._raise_technical(e, pid, kind):
            ack(self._r, e)

    def _raise_technical(self, e: Entry, pid: str, kind: str) -> bool:
        """Open (or keep) the patient's technical alert and settle the entry; False if Redis refused."""
        for _ in range(MAX_CONFLICT_RETRIES):
            ctx = load_many(self._r, self._store, [pid], self._configs)[pid]
            if not isinstance(ctx, PatientContext):
                break
            reading_id = None if e.fields is None else e.fields.get("r")
            change = failure_change(ctx.alerts, e.entry_id, reading_id, kind, self._clock())
            [result] = self._store.save_many([change])
            if isinstance(result, TRANSIENT):
                raise result
            if isinstance(result, Exception):
                break
            if result != "conflict":
                self._count(change)
                return True
        log.error("no technical alert for entry %s: its patient's alert record is unusable", e.entry_id)
        return False
