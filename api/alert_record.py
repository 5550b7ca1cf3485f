"""The alert record kept in Redis, and its conversion to and from `alerting.alerts.Alert`. Pure.

The lifecycle (raise, upgrade in place, latch, all-clear, acknowledge, snooze, escalate, resolve) is
alerting/lifecycle.py and alerting/escalation.py working on `Alert` values; this module is the
record around them. Record JSON (value in keys.alerts(pid), field = alert id):

    {"alert_id": "32 hex", "patient_id": str, "rule": str,          # e.g. o2home-band, signal-quality
     "priority": "high" | "medium" | "low" | "advisory", "band": "amber" | "red" | null,
     "state": "open" | "acknowledged" | "resolved",
     "raised_at": ISO, "updated_at": ISO,                            # ISO = YYYY-MM-DDTHH:MM:SS.mmmZ, UTC
     "reading_id": str | null, "spo2": number | null, "measured_at": ISO | null,
     "late": bool, "questionable": bool, "detail": str | null,
     "acknowledged_by": str | null, "acknowledged_at": ISO | null,
     "resolved_by": str | null, "resolved_at": ISO | null, "outcome": str | null,
     # since issue 4:
     "technical": bool, "reasons": [str], "condition_active": bool, "last_measured_at": ISO,
     "snoozed_by": str | null, "snoozed_until": ISO | null, "snooze_priority": str | null,
     "snoozed_since": ISO | null,                                    # since issue 6: the run's start
     "tier": int, "tier_since": ISO | null,
     "news2_total": int | null, "news2_partial": bool | null, "response": str | null,
     "events": [{"at": ISO, "kind": str, "priority": str, "by": str | null, "detail": str,
                 "tier": int | null}]}

`reading_id`, `spo2`, `measured_at`, `band`, `detail` and the NEWS2 fields describe the evidence
that set the current priority (the raising result, or the one that upgraded it). A record written
before issue 4 lacks the newer fields; it reads with their defaults. `condition_active: false` on an
open alert means latched: the condition cleared, a clinician must still resolve it (§5.1).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from alerting.alerts import Alert, AlertEvent, EventKind, Notification
from alerting.model import AlertState, Band, Priority
from alerting.results import RuleResult
from api.contract import datetime_ms, format_utc_ms

#: The history kept inside a record: the first events (raise, first acknowledgement) and the latest.
#: The shard's event stream keeps every one; the cap only bounds an alert escalated for days.
EVENTS_HEAD = 20
EVENTS_TAIL = 180


def iso(dt: datetime) -> str:
    return format_utc_ms(datetime_ms(dt))


def opt_iso(dt: datetime | None) -> str | None:
    return None if dt is None else iso(dt)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _opt_dt(value: Any) -> datetime | None:
    return None if value is None else parse(value)


def encode(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


def new_id() -> str:
    """Random, so that no two alerts ever share an id (a lifecycle id is derived from the raise time)."""
    return uuid.uuid4().hex


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
    news2_total: int | None = None
    news2_partial: bool | None = None
    response: str | None = None


def cause_of(result: RuleResult, reading_id: str | None, spo2: float | None) -> Cause:
    return Cause(
        reading_id=reading_id,
        spo2=spo2,
        measured_at=opt_iso(result.measured_at),
        band=result.band,
        late=result.late,
        questionable=result.questionable,
        detail=",".join(result.reasons) or None,
        news2_total=result.news2_total,
        news2_partial=result.news2_partial,
        response=result.response,
    )


def event_to_json(event: AlertEvent) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "kind": event.kind.value,
        "priority": event.priority.value,
        "by": event.by,
        "detail": event.detail,
        "tier": event.tier,
    }


def event_from_json(data: dict[str, Any]) -> AlertEvent:
    return AlertEvent(
        parse(data["at"]),
        EventKind(data["kind"]),
        Priority(data["priority"]),
        data.get("by"),
        data.get("detail", ""),
        data.get("tier"),
    )


def to_alert(record: dict[str, Any]) -> Alert:
    """The lifecycle's view of a record (older records read with the newer fields' defaults)."""
    raised_at = parse(record["raised_at"])
    measured = record.get("last_measured_at") or record.get("measured_at")
    snooze_priority = record.get("snooze_priority")
    return Alert(
        alert_id=record["alert_id"],
        patient_id=record["patient_id"],
        rule=record["rule"],
        priority=Priority(record["priority"]),
        state=AlertState(record["state"]),
        raised_at=raised_at,
        last_measured_at=raised_at if measured is None else parse(measured),
        technical=bool(record.get("technical", False)),
        condition_active=bool(record.get("condition_active", True)),
        questionable=bool(record.get("questionable", False)),
        late=bool(record.get("late", False)),
        reasons=tuple(record.get("reasons") or ()),
        acknowledged_by=record.get("acknowledged_by"),
        acknowledged_at=_opt_dt(record.get("acknowledged_at")),
        snoozed_by=record.get("snoozed_by"),
        snoozed_until=_opt_dt(record.get("snoozed_until")),
        snooze_priority=None if snooze_priority is None else Priority(snooze_priority),
        snoozed_since=_opt_dt(record.get("snoozed_since")),
        resolved_by=record.get("resolved_by"),
        resolved_at=_opt_dt(record.get("resolved_at")),
        outcome=record.get("outcome"),
        tier=int(record.get("tier", 0)),
        tier_since=_opt_dt(record.get("tier_since")),
        events=tuple(event_from_json(e) for e in record.get("events") or ()),
    )


def _cause_fields(cause: Cause) -> dict[str, Any]:
    return {
        "band": None if cause.band is None else cause.band.value,
        "reading_id": cause.reading_id,
        "spo2": cause.spo2,
        "measured_at": cause.measured_at,
        "detail": cause.detail,
        "news2_total": cause.news2_total,
        "news2_partial": cause.news2_partial,
        "response": cause.response,
    }


_NO_CAUSE = _cause_fields(Cause(None, None, None, None))


def _capped(events: tuple[AlertEvent, ...]) -> list[dict[str, Any]]:
    if len(events) > EVENTS_HEAD + EVENTS_TAIL:
        events = events[:EVENTS_HEAD] + events[-EVENTS_TAIL:]
    return [event_to_json(e) for e in events]


def to_record(
    alert: Alert, now: datetime, *, base: dict[str, Any] | None = None, cause: Cause | None = None
) -> dict[str, Any]:
    """`alert` as a record. `base` is the record it was read from (its evidence fields are kept unless
    a `cause` replaces them); `now` stamps `updated_at`."""
    evidence = _NO_CAUSE if base is None else {k: base.get(k) for k in _NO_CAUSE}
    if cause is not None:
        evidence = _cause_fields(cause)
    return {
        "alert_id": alert.alert_id,
        "patient_id": alert.patient_id,
        "rule": alert.rule,
        "priority": alert.priority.value,
        "state": alert.state.value,
        "raised_at": iso(alert.raised_at),
        "updated_at": iso(now),
        **evidence,
        "late": alert.late,
        "questionable": alert.questionable,
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": opt_iso(alert.acknowledged_at),
        "resolved_by": alert.resolved_by,
        "resolved_at": opt_iso(alert.resolved_at),
        "outcome": alert.outcome,
        "technical": alert.technical,
        "reasons": list(alert.reasons),
        "condition_active": alert.condition_active,
        "last_measured_at": iso(alert.last_measured_at),
        "snoozed_by": alert.snoozed_by,
        "snoozed_until": opt_iso(alert.snoozed_until),
        "snooze_priority": None if alert.snooze_priority is None else alert.snooze_priority.value,
        "snoozed_since": opt_iso(alert.snoozed_since),
        "tier": alert.tier,
        "tier_since": opt_iso(alert.tier_since),
        "events": _capped(alert.events),
    }


def with_new_id(alert: Alert, notes: tuple[Notification, ...]) -> tuple[Alert, tuple[Notification, ...]]:
    """A freshly raised alert under a random id (and its notifications with it)."""
    alert_id = new_id()
    return replace(alert, alert_id=alert_id), tuple(replace(n, alert_id=alert_id) for n in notes)


def stream_event(event: AlertEvent, record: dict[str, Any]) -> list[str]:
    """One entry of keys.alert_events(shard), as field/value pairs (absent fields are left out)."""
    fields = [
        "event", event.kind.value,
        "alert_id", record["alert_id"],
        "patient_id", record["patient_id"],
        "rule", record["rule"],
        "priority", event.priority.value,
        "state", record["state"],
        "at", iso(event.at),
    ]  # fmt: skip
    if event.by is not None:
        fields += ["by", event.by]
    if event.kind is EventKind.RESOLVED:
        if record.get("outcome") is not None:
            fields += ["outcome", record["outcome"]]
    elif event.detail:
        fields += ["detail", event.detail]
    if event.tier is not None:
        fields += ["tier", str(event.tier)]
    return fields


def notification_fields(note: Notification) -> list[str]:
    """One entry of keys.notifications(shard): Notification.to_dict, flattened to strings."""
    out: list[str] = []
    for name, value in note.to_dict().items():
        text = value if isinstance(value, str) else json.dumps(value)
        out += [name, text]
    return out


# -- builders kept for callers written before issue 4 (tests, tools) ---------------------------------
def new_alert(
    alert_id: str, patient_id: str, rule: str, priority: Priority, cause: Cause, now: datetime
) -> dict[str, Any]:
    """A freshly raised record (no lifecycle history)."""
    alert = Alert(alert_id, patient_id, rule, priority, AlertState.OPEN, now, now, tier_since=now)
    record = to_record(alert, now, cause=cause)
    record.update(late=cause.late, questionable=cause.questionable, events=[])
    if cause.measured_at is not None:
        record["last_measured_at"] = cause.measured_at
    return record


def upgraded(record: dict[str, Any], priority: Priority, cause: Cause, now: datetime) -> dict[str, Any]:
    """The same alert at a higher priority, re-opened for a fresh acknowledgement."""
    return {
        **record,
        **_cause_fields(cause),
        "priority": priority.value,
        "updated_at": iso(now),
        "late": cause.late,
        "questionable": cause.questionable,
        "state": AlertState.OPEN.value,
        "acknowledged_by": None,
        "acknowledged_at": None,
    }
