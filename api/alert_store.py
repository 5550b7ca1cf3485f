"""Alerts in Redis: the worker's and scheduler's sync calls and the REST API's async calls.

Records: api/alert_record.py. Every change is one `save` of api/lua/alerts.lua, atomically in the
patient's slot: the changed records, the `~open` index ({rule: open alert id}, alert ids never start
with `~`), the shard's open summary, the events, the notifications, the alerting state, the shard's
alerts raised / upgraded counters (keys.shard_metrics) and (for the worker) XACK + XDEL of the eval
entry. A save carries the records it read; if any changed meanwhile
it does nothing and answers `conflict`, and the caller reads again.

Open summary, keys.open_alerts(shard), patient id -> {"alert_id", "priority", "rule", "raised_at",
"state", "spo2", "questionable", "late", "acknowledged_by", "open_count"} of the patient's worst open
alert (highest priority, then the oldest). Events, keys.alert_events(shard): fields event (raised |
upgraded | current | condition-cleared | condition-returned | all-clear | acknowledged | snoozed |
snooze-overridden | escalated | resolved), alert_id, patient_id, rule, priority, state, at, and by /
outcome / detail / tier where they apply. Notifications, keys.notifications(shard): see
alerting.alerts.Notification (`page` false for late data and good news, §6.2.5).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib.resources import files
from typing import Any

import redis
import redis.asyncio

from alerting import lifecycle
from alerting.alerts import Alert
from alerting.escalation import EscalationLadder, escalate_by_hand
from alerting.lifecycle import LifecycleError, Superseded, Transition
from alerting.model import AlertState, Priority
from api import keys
from api.alert_engine import Change, PatientAlerts, Step
from api.alert_record import Cause, encode, iso, new_alert, to_alert, upgraded

__all__ = ["Apply", "Cause", "Change", "encode", "iso", "new_alert", "upgraded"]

ALERTS_LUA = files("api").joinpath("lua/alerts.lua").read_text(encoding="utf-8")
INDEX_FIELD = "~open"
#: Events are the audit trail of alert handling; the cap only stops a runaway from filling Redis.
EVENTS_MAXLEN = 1_000_000
#: Notifications are for delivery (pagers, webhooks): recent ones suffice.
NOTIFY_MAXLEN = 100_000
MAX_RETRIES = 10


class NotFound(LookupError):
    """No such alert for this patient (REST: 404)."""


class Conflict(RuntimeError):
    """The alert is already resolved, or moved on since the caller saw it (REST: 409). `alert` is its
    current record; the message says what happened."""

    def __init__(self, alert: dict[str, Any], detail: str = "the alert is already resolved") -> None:
        super().__init__(detail)
        self.alert = alert


class Refused(ValueError):
    """The lifecycle does not allow this (e.g. a snooze longer than the ward allows): REST 422."""


def text(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def script_keys(patient_id: str) -> list[str]:
    shard = keys.shard_of(patient_id)
    return [
        keys.alerts(patient_id),
        keys.open_alerts(shard),
        keys.alert_events(shard),
        keys.eval_stream(shard),
        keys.alerting_state(patient_id),
        keys.notifications(shard),
        keys.shard_metrics(shard),
    ]


def _save_args(change: Change) -> list[Any]:
    return [
        "save",
        change.patient_id,
        change.entry_id,
        keys.EVAL_GROUP,
        change.payload(),
        EVENTS_MAXLEN,
        NOTIFY_MAXLEN,
    ]


@dataclass(frozen=True, slots=True)
class Apply:
    """A single-rule change in the form the service used before issue 4 (kept for tools and tests)."""

    patient_id: str
    rule: str
    entry_id: str  # '' when not settling an eval entry
    expected_raw: str  # the open alert's JSON as read ('' = none open)
    new_alert: dict[str, Any] | None = None
    event: str = ""

    def change(self) -> Change:
        change = Change(self.patient_id, self.entry_id, expect={self.rule: self.expected_raw})
        if self.new_alert is not None:
            a = self.new_alert
            change.alerts.append(encode(a))
            fields = ["event", self.event, "alert_id", a["alert_id"], "patient_id", self.patient_id]
            fields += [
                "rule",
                a["rule"],
                "priority",
                a["priority"],
                "state",
                a["state"],
                "at",
                a["updated_at"],
            ]
            change.events.append(fields)
        return change


class SyncAlertStore:
    """The evaluation worker's and the scheduler's side (sync redis-py)."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._script = client.register_script(ALERTS_LUA)

    def queue_open(self, pipe: Any, patient_id: str) -> None:
        """Queue the `open` op on `pipe`: its reply is [rule, raw, rule, raw, ...]."""
        self._script(keys=script_keys(patient_id), args=["open", patient_id], client=pipe)

    def get_open_many(self, wanted: Sequence[tuple[str, str]]) -> list[str | Exception]:
        """(patient id, rule) pairs -> raw JSON of each open alert ('' when none), one round trip."""
        pipe = self._r.pipeline(transaction=False)
        for patient_id, rule in wanted:
            self._script(keys=script_keys(patient_id), args=["get", patient_id, rule], client=pipe)
        return [v if isinstance(v, Exception) else text(v) for v in pipe.execute(raise_on_error=False)]

    def save_many(self, changes: Sequence[Change]) -> list[str | Exception]:
        """Run the saves in order, one round trip; each result is 'ok', 'stale' or 'conflict'
        (or the exception of a save Redis refused)."""
        pipe = self._r.pipeline(transaction=False)
        for change in changes:
            self._script(keys=script_keys(change.patient_id), args=_save_args(change), client=pipe)
        return [v if isinstance(v, Exception) else text(v) for v in pipe.execute(raise_on_error=False)]

    def apply_many(self, steps: Sequence[Apply]) -> list[str | Exception]:
        return self.save_many([s.change() for s in steps])

    def list_alerts(self, patient_id: str) -> list[dict[str, Any]]:
        return _sorted(self._r.hgetall(keys.alerts(patient_id)))


def _sorted(raw: dict[Any, Any]) -> list[dict[str, Any]]:
    alerts = [json.loads(v) for k, v in raw.items() if text(k) != INDEX_FIELD]
    alerts.sort(key=lambda a: (a["raised_at"], a["alert_id"]), reverse=True)
    return alerts


# -- REST side (redis.asyncio) ---------------------------------------------------------------
async def list_alerts(r: redis.asyncio.Redis, patient_id: str) -> list[dict[str, Any]]:
    """Every alert of the patient, open and closed, newest raised first."""
    return _sorted(await r.hgetall(keys.alerts(patient_id)))


async def _get_raw(r: redis.asyncio.Redis, patient_id: str, alert_id: str) -> str:
    raw = None if alert_id == INDEX_FIELD else await r.hget(keys.alerts(patient_id), alert_id)
    if raw is None:
        raise NotFound(alert_id)
    return text(raw)


async def get_alert(r: redis.asyncio.Redis, patient_id: str, alert_id: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(await _get_raw(r, patient_id, alert_id))
    return result


async def open_summaries(r: redis.asyncio.Redis) -> dict[str, dict[str, Any]]:
    """patient id -> open summary, over every shard (the ward queue's input)."""
    out: dict[str, dict[str, Any]] = {}
    for shard in range(keys.SHARDS):
        for pid, raw in (await r.hgetall(keys.open_alerts(shard))).items():
            out[text(pid)] = json.loads(raw)
    return out


async def save(r: redis.asyncio.Redis, change: Change) -> str:
    script = r.register_script(ALERTS_LUA)
    return text(await script(keys=script_keys(change.patient_id), args=_save_args(change)))


async def _transition(
    r: redis.asyncio.Redis,
    patient_id: str,
    alert_id: str,
    now: datetime,
    act: Callable[[Alert], Alert | Transition | None],
) -> dict[str, Any]:
    """Apply `act` to the alert (None: nothing to change) and save it with any notifications of the
    transition, retrying on a conflict."""
    for _ in range(MAX_RETRIES):
        raw = await _get_raw(r, patient_id, alert_id)
        record: dict[str, Any] = json.loads(raw)
        if record["state"] == AlertState.RESOLVED.value:
            raise Conflict(record)
        current = to_alert(record)
        try:
            after = act(current)
        except Superseded as err:
            raise Conflict(record, str(err)) from err
        except LifecycleError as err:
            raise Refused(str(err)) from err
        if after is None:
            return record
        step = Step(PatientAlerts(patient_id, {}), now)
        step.change.expect_ids[alert_id] = raw
        transition = after if isinstance(after, Transition) else Transition(after)
        saved = step.take(record, current, transition, None)
        if await save(r, step.change) == "ok":
            return saved or record
    raise RuntimeError("the alert kept changing; try again")


async def acknowledge(
    r: redis.asyncio.Redis,
    patient_id: str,
    alert_id: str,
    by: str,
    now: datetime,
    *,
    seen_priority: Priority | None = None,
) -> dict[str, Any]:
    """Mark an open alert acknowledged by `by`; idempotent on an acknowledged one (the first stands).

    Raises NotFound, or Conflict when the alert is already resolved or, `seen_priority` given, is
    at another priority now (upgraded since the caller saw it). Returns the alert.
    """

    def act(alert: Alert) -> Alert | None:
        lifecycle.require_seen_priority(alert, seen_priority, "acknowledge")
        if alert.state is AlertState.ACKNOWLEDGED:
            return None
        return lifecycle.acknowledge(alert, by, now)

    return await _transition(r, patient_id, alert_id, now, act)


async def resolve(
    r: redis.asyncio.Redis, patient_id: str, alert_id: str, by: str, outcome: str | None, now: datetime
) -> dict[str, Any]:
    """Resolve an open or acknowledged alert (the only way a latched alert ends).

    Raises NotFound, or Conflict when it is already resolved. Returns the alert.
    """

    def act(alert: Alert) -> Alert:
        done = lifecycle.resolve(alert, by, now, outcome or "unspecified")
        if outcome is None:  # the store's callers may resolve without one (REST always gives one)
            last = replace(done.events[-1], detail="")
            done = replace(done, outcome=None, events=(*done.events[:-1], last))
        return done

    return await _transition(r, patient_id, alert_id, now, act)


async def snooze(
    r: redis.asyncio.Redis,
    patient_id: str,
    alert_id: str,
    by: str,
    duration: timedelta,
    max_snooze: timedelta,
    now: datetime,
    *,
    max_total: timedelta | None = None,
    seen_until: datetime | None = None,
    seen_priority: Priority | None = None,
) -> dict[str, Any]:
    """Hold reminders and escalation for `duration` (at most `max_snooze`), at this priority only
    (alerting.lifecycle.snooze: a running snooze is replaced only when `seen_until` names it, and
    snoozes in a row hold the alert at most `max_total`).

    Raises NotFound; Conflict when resolved, snoozed meanwhile by someone (the message says who
    until when) or upgraded since `seen_priority`; Refused when the duration or the run of snoozes
    goes beyond the ward's maximum."""

    def act(alert: Alert) -> Alert:
        return lifecycle.snooze(
            alert,
            by,
            now,
            duration,
            max_snooze=max_snooze,
            max_total=max_total,
            seen_until=seen_until,
            seen_priority=seen_priority,
        )

    return await _transition(r, patient_id, alert_id, now, act)


async def escalate(
    r: redis.asyncio.Redis,
    patient_id: str,
    alert_id: str,
    ladder: EscalationLadder | None,
    by: str,
    reason: str,
    now: datetime,
    *,
    from_tier: int | None = None,
    seen_priority: Priority | None = None,
) -> dict[str, Any]:
    """Escalate by hand to the next tier of the ward's `ladder` (alerting.escalation.escalate_by_hand);
    the tier's notification is saved with the change, so the rota hears as from the ladder's clock.

    Raises NotFound; Conflict when resolved, when `from_tier` is given and the alert is no longer
    there (escalated meanwhile), or when it was upgraded since `seen_priority`; Refused when the
    ward has no ladder or `by` / `reason` is blank."""

    def act(alert: Alert) -> Transition:
        return escalate_by_hand(
            alert, ladder, by, reason, now, from_tier=from_tier, seen_priority=seen_priority
        )

    return await _transition(r, patient_id, alert_id, now, act)
