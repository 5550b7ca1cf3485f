"""Alerts in Redis: the record format, the worker's sync calls and the REST API's async calls.

Alert JSON (value in keys.alerts(pid), field = alert_id; also what the functions here return):

    {"alert_id": "32 hex", "patient_id": str, "rule": "o2home-band" | "evaluation-failed",
     "priority": "high" | "medium" | "low" | "advisory", "band": "amber" | "red" | null,
     "state": "open" | "acknowledged" | "resolved",
     "raised_at": ISO, "updated_at": ISO,              # ISO = YYYY-MM-DDTHH:MM:SS.mmmZ, UTC
     "reading_id": str | null, "spo2": number | null, "measured_at": ISO | null,
     "late": bool, "questionable": bool,
     "detail": str | null,                             # e.g. "low-perfusion", or the failure's type
     "acknowledged_by": str | null, "acknowledged_at": ISO | null,
     "resolved_by": str | null, "resolved_at": ISO | null, "outcome": str | null}

`reading_id`, `spo2`, `measured_at`, `band`, `late`, `questionable` describe the reading that set
the current priority (the raising one, or the one that upgraded it). An upgrade re-opens an
acknowledged alert (state "open", acknowledged_* cleared): a higher priority needs a fresh
acknowledgement; the earlier one stays in the event stream.

The hash also holds one index field, `~open` -> {"rule": alert_id} of the patient's unresolved
alerts (alert ids never start with `~`). Open summary, keys.open_alerts(shard), patient id ->
{"alert_id", "priority", "rule", "raised_at", "state", "spo2", "questionable", "late"} of the
patient's worst unresolved alert (highest priority, then the oldest). Every change appends to
keys.alert_events(shard): fields event (raised | upgraded | acknowledged | resolved), alert_id,
patient_id, rule, priority, state, at, and by / outcome where they apply.

All changes run in api/lua/alerts.lua, atomically in the patient's slot (see api/keys.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from typing import Any

import redis
import redis.asyncio

from alerting.model import AlertSnapshot, AlertState, Band, Priority
from api import keys
from api.contract import datetime_ms, format_utc_ms

ALERTS_LUA = files("api").joinpath("lua/alerts.lua").read_text(encoding="utf-8")
INDEX_FIELD = "~open"
#: Events are the audit trail of alert handling; the cap only stops a runaway from filling Redis.
EVENTS_MAXLEN = 1_000_000


class NotFound(LookupError):
    """No such alert for this patient (REST: 404)."""


class Conflict(RuntimeError):
    """The alert is already resolved (REST: 409). `alert` is its current record."""

    def __init__(self, alert: dict[str, Any]) -> None:
        super().__init__("alert already resolved")
        self.alert = alert


def iso(dt: datetime) -> str:
    return format_utc_ms(datetime_ms(dt))


def _text(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def snapshot(alert: dict[str, Any]) -> AlertSnapshot:
    band = alert.get("band")
    return AlertSnapshot(
        alert_id=alert["alert_id"],
        priority=Priority(alert["priority"]),
        state=AlertState(alert["state"]),
        band=None if band is None else Band(band),
    )


def encode(alert: dict[str, Any]) -> str:
    return json.dumps(alert, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Apply:
    """One 'apply' step: settle eval entry `entry_id` and, when `new_alert` is set, save it."""

    patient_id: str
    rule: str
    entry_id: str  # '' when not settling an eval entry
    expected_raw: str  # the open alert's JSON as read ('' = none open): the optimistic check
    new_alert: dict[str, Any] | None = None
    event: str = ""


class SyncAlertStore:
    """The evaluation worker's side (sync redis-py)."""

    def __init__(self, client: redis.Redis, *, events_maxlen: int = EVENTS_MAXLEN) -> None:
        self._r = client
        self._script = client.register_script(ALERTS_LUA)
        self._maxlen = events_maxlen

    @staticmethod
    def _keys(patient_id: str) -> list[str]:
        shard = keys.shard_of(patient_id)
        return [
            keys.alerts(patient_id),
            keys.open_alerts(shard),
            keys.alert_events(shard),
            keys.eval_stream(shard),
        ]

    def get_open_many(self, wanted: Sequence[tuple[str, str]]) -> list[str | Exception]:
        """(patient id, rule) pairs -> raw JSON of each open alert ('' when none), one round trip.

        A command Redis refused comes back as its exception, in its place; the others still count.
        """
        pipe = self._r.pipeline(transaction=False)
        for patient_id, rule in wanted:
            self._script(keys=self._keys(patient_id), args=["get", patient_id, rule], client=pipe)
        return [v if isinstance(v, Exception) else _text(v) for v in pipe.execute(raise_on_error=False)]

    def apply_many(self, steps: Sequence[Apply]) -> list[str | Exception]:
        """Run the steps in order, one round trip; each result is 'ok', 'stale' or 'conflict'
        (or the exception of a step Redis refused)."""
        pipe = self._r.pipeline(transaction=False)
        for s in steps:
            new = "" if s.new_alert is None else encode(s.new_alert)
            args = ["apply", s.patient_id, s.rule, s.entry_id, keys.EVAL_GROUP, s.expected_raw, new]
            self._script(keys=self._keys(s.patient_id), args=[*args, s.event, self._maxlen], client=pipe)
        return [v if isinstance(v, Exception) else _text(v) for v in pipe.execute(raise_on_error=False)]

    def list_alerts(self, patient_id: str) -> list[dict[str, Any]]:
        return _sorted(self._r.hgetall(keys.alerts(patient_id)))


def _sorted(raw: dict[Any, Any]) -> list[dict[str, Any]]:
    alerts = [json.loads(v) for k, v in raw.items() if _text(k) != INDEX_FIELD]
    alerts.sort(key=lambda a: (a["raised_at"], a["alert_id"]), reverse=True)
    return alerts


# -- REST side (redis.asyncio) ---------------------------------------------------------------
async def list_alerts(r: redis.asyncio.Redis, patient_id: str) -> list[dict[str, Any]]:
    """Every alert of the patient, open and closed, newest raised first."""
    return _sorted(await r.hgetall(keys.alerts(patient_id)))


async def get_alert(r: redis.asyncio.Redis, patient_id: str, alert_id: str) -> dict[str, Any]:
    raw = None if alert_id == INDEX_FIELD else await r.hget(keys.alerts(patient_id), alert_id)
    if raw is None:
        raise NotFound(alert_id)
    result: dict[str, Any] = json.loads(raw)
    return result


async def open_summaries(r: redis.asyncio.Redis) -> dict[str, dict[str, Any]]:
    """patient id -> open summary, over every shard (the ward queue's input)."""
    out: dict[str, dict[str, Any]] = {}
    for shard in range(keys.SHARDS):
        for pid, raw in (await r.hgetall(keys.open_alerts(shard))).items():
            out[_text(pid)] = json.loads(raw)
    return out


async def _transition(r: redis.asyncio.Redis, op: str, patient_id: str, args: list[str]) -> dict[str, Any]:
    script = r.register_script(ALERTS_LUA)
    shard = keys.shard_of(patient_id)
    k = [keys.alerts(patient_id), keys.open_alerts(shard), keys.alert_events(shard)]
    reply = await script(keys=k, args=[op, patient_id, *args])
    status = _text(reply[0])
    if status == "not-found":
        raise NotFound(args[0])
    alert: dict[str, Any] = json.loads(reply[1])
    if status == "conflict":
        raise Conflict(alert)
    return alert


async def acknowledge(
    r: redis.asyncio.Redis, patient_id: str, alert_id: str, by: str, now: datetime
) -> dict[str, Any]:
    """Mark an open alert acknowledged by `by`; idempotent on an acknowledged one.

    Raises NotFound, or Conflict when the alert is already resolved. Returns the alert.
    """
    return await _transition(r, "ack", patient_id, [alert_id, by, iso(now), str(EVENTS_MAXLEN)])


async def resolve(
    r: redis.asyncio.Redis, patient_id: str, alert_id: str, by: str, outcome: str | None, now: datetime
) -> dict[str, Any]:
    """Resolve an open or acknowledged alert (the only way an alert ends: alerts latch).

    Raises NotFound, or Conflict when it is already resolved. Returns the alert.
    """
    args = [alert_id, by, iso(now), str(EVENTS_MAXLEN), outcome or ""]
    return await _transition(r, "resolve", patient_id, args)


# -- record builders (pure) -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Cause:
    """The reading (or failure) behind a raise or an upgrade."""

    reading_id: str | None
    spo2: float | None
    measured_at: str | None
    band: Band | None
    late: bool = False
    questionable: bool = False
    detail: str | None = None


def _cause_fields(priority: Priority, cause: Cause, now_iso: str) -> dict[str, Any]:
    return {
        "priority": priority.value,
        "band": None if cause.band is None else cause.band.value,
        "updated_at": now_iso,
        "reading_id": cause.reading_id,
        "spo2": cause.spo2,
        "measured_at": cause.measured_at,
        "late": cause.late,
        "questionable": cause.questionable,
        "detail": cause.detail,
    }


def new_alert(
    alert_id: str, patient_id: str, rule: str, priority: Priority, cause: Cause, now: datetime
) -> dict[str, Any]:
    now_iso = iso(now)
    return {
        "alert_id": alert_id,
        "patient_id": patient_id,
        "rule": rule,
        "state": AlertState.OPEN.value,
        "raised_at": now_iso,
        **_cause_fields(priority, cause, now_iso),
        "acknowledged_by": None,
        "acknowledged_at": None,
        "resolved_by": None,
        "resolved_at": None,
        "outcome": None,
    }


def upgraded(alert: dict[str, Any], priority: Priority, cause: Cause, now: datetime) -> dict[str, Any]:
    """The same alert at a higher priority, re-opened for a fresh acknowledgement."""
    return {
        **alert,
        **_cause_fields(priority, cause, iso(now)),
        "state": AlertState.OPEN.value,
        "acknowledged_by": None,
        "acknowledged_at": None,
    }
