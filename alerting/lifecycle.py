"""Alert lifecycle: raised -> acknowledged -> resolved, with snooze, upgrade in place and latching.

Rules propose, the lifecycle decides (style.md practice 16). The rules of the lifecycle:

1. **One open alert per patient and rule.** A proposal for a rule with an open alert updates that
   alert; only after it is resolved can a new one be raised (issue 4).
2. **Upgrade in place, never lower.** A worse proposal raises the open alert's priority (the ACM
   "escalate" phase, §5.2) and notifies again; an upgraded alert needs a new acknowledgement. A better
   reading never lowers the priority of an open alert.
3. **Latching.** At or above `latch_from` (default high) an alert latches: when its condition clears,
   the all-clear is recorded but the alert stays open until a clinician resolves it (IEC 60601-1-8
   latching alarm signal, §5.1; ACM "latched" state, §5.2). Below it the alert is non-latching: it
   resolves itself with outcome "all-clear" and one all-clear notification (§5.1, practice 16).
4. **Snooze** has a time limit and covers only the priority it was given at: an upgrade ends it and
   notifies (practice 16: a lower-level snooze never silences a higher level). A running snooze is
   never replaced unseen, and snoozes in a row are capped in total (`snooze`). Nor does a snooze,
   hand escalation or acknowledgement meant for the priority someone saw apply to the higher one an
   upgrade set a moment before (`require_seen_priority`).
5. **A resolved alert never notifies again**: every operation on it is refused or ignored.
6. **Late data** (§6.2.5) raises or upgrades the alert on its measured time but is marked late (no
   page); older evidence never clears a condition that newer evidence set.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

from alerting.alerts import (
    Alert,
    AlertEvent,
    AlertRequest,
    EventKind,
    Notification,
    NotificationKind,
    alert_id_for,
)
from alerting.model import AlertState, Priority

#: §5.1: high-priority alerts latch until a clinician resolves them (issue 4). Configurable per ward.
DEFAULT_LATCH_FROM = Priority.HIGH
ALL_CLEAR_OUTCOME = "all-clear"


class LifecycleError(ValueError):
    """An operation that the alert's state does not allow; the message says why."""


class Superseded(LifecycleError):
    """The alert moved on since the person acting saw it (someone else got there first): nothing is
    changed, and the message says what happened meanwhile (REST: 409 with the current record)."""


class Transition(NamedTuple):
    alert: Alert | None
    notifications: tuple[Notification, ...] = ()


def _event(
    alert: Alert,
    at: datetime,
    kind: EventKind,
    *,
    by: str | None = None,
    detail: str = "",
    tier: int | None = None,
) -> tuple[AlertEvent, ...]:
    """The alert's history with one more event (every step is recorded)."""
    return (*alert.events, AlertEvent(at, kind, alert.priority, by, detail, tier))


def notify(
    alert: Alert, kind: NotificationKind, at: datetime, *, repeat: bool = False, by_hand: bool = False
) -> Notification:
    """A notification about `alert` as it now stands."""
    return Notification(
        alert.alert_id,
        alert.patient_id,
        alert.rule,
        alert.priority,
        kind,
        at,
        alert.tier,
        alert.late,
        alert.questionable,
        repeat,
        by_hand,
    )


def _raise(request: AlertRequest, now: datetime) -> Transition:
    alert = Alert(
        alert_id=alert_id_for(request.patient_id, request.rule, now),
        patient_id=request.patient_id,
        rule=request.rule,
        priority=request.priority,
        state=AlertState.OPEN,
        raised_at=now,
        last_measured_at=request.measured_at,
        technical=request.technical,
        questionable=request.questionable,
        late=request.late,
        reasons=request.reasons,
        tier_since=now,
    )
    alert = replace(alert, events=_event(alert, now, EventKind.RAISED, detail=",".join(request.reasons)))
    return Transition(alert, (notify(alert, NotificationKind.RAISED, now),))


def reopen(alert: Alert, now: datetime) -> Alert:
    """The alert open again with no acknowledgement and no snooze, its tier's time starting `now`:
    whoever is told next must accept it, and escalation runs on from here."""
    return replace(
        alert,
        state=AlertState.OPEN,
        acknowledged_by=None,
        acknowledged_at=None,
        snoozed_by=None,
        snoozed_until=None,
        snooze_priority=None,
        snoozed_since=None,
        tier_since=now,
    )


def _upgrade(alert: Alert, request: AlertRequest, now: datetime) -> Transition:
    snooze_ended = alert.snoozed_until is not None and now < alert.snoozed_until
    upgraded = replace(
        reopen(alert, now),  # a worse condition needs a new acknowledgement
        priority=request.priority,
        condition_active=True,
        questionable=request.questionable,
        late=request.late,
        reasons=request.reasons,
        last_measured_at=max(alert.last_measured_at, request.measured_at),
    )
    events = _event(upgraded, now, EventKind.UPGRADED, detail=f"from {alert.priority.value}")
    if snooze_ended:
        events = (*events, AlertEvent(now, EventKind.SNOOZE_OVERRIDDEN, request.priority))
    upgraded = replace(upgraded, events=events)
    return Transition(upgraded, (notify(upgraded, NotificationKind.UPGRADED, now),))


def propose(alert: Alert | None, request: AlertRequest, now: datetime) -> Transition:
    """Apply a rule's proposal to the patient's alert for that rule (None or resolved: none open)."""
    if alert is None or not alert.is_open:
        return _raise(request, now)
    if (alert.patient_id, alert.rule) != (request.patient_id, request.rule):
        raise ValueError("the request is for another patient or rule than the alert")
    if request.priority > alert.priority:
        return _upgrade(alert, request, now)
    newer = request.measured_at >= alert.last_measured_at
    updated = replace(alert, last_measured_at=max(alert.last_measured_at, request.measured_at))
    sent: tuple[Notification, ...] = ()
    if newer and not alert.condition_active:
        updated = replace(
            updated, condition_active=True, events=_event(updated, now, EventKind.CONDITION_RETURNED)
        )
    confirms = alert.late and not request.late and request.priority == alert.priority
    if confirms:
        updated = replace(updated, late=False, events=_event(updated, now, EventKind.CURRENT))
        if not updated.is_snoozed(now):
            sent = (notify(updated, NotificationKind.CURRENT, now),)
    return Transition(updated, sent)


def clear_condition(
    alert: Alert | None, measured_at: datetime, now: datetime, *, latch_from: Priority = DEFAULT_LATCH_FROM
) -> Transition:
    """The rule's condition no longer holds (a normal reading measured at `measured_at`)."""
    if alert is None or not alert.is_open or not alert.condition_active:
        return Transition(alert)
    if measured_at < alert.last_measured_at:
        return Transition(alert)  # older than the evidence that set the condition (late data, §6.2.5)
    updated = replace(alert, condition_active=False, last_measured_at=measured_at)
    if alert.priority >= latch_from:
        updated = replace(updated, events=_event(updated, now, EventKind.CONDITION_CLEARED))
        return Transition(updated, (notify(updated, NotificationKind.CONDITION_CLEARED, now),))
    updated = replace(
        updated,
        state=AlertState.RESOLVED,
        resolved_at=now,
        outcome=ALL_CLEAR_OUTCOME,
        events=_event(updated, now, EventKind.ALL_CLEAR),
    )
    return Transition(updated, (notify(updated, NotificationKind.ALL_CLEAR, now),))


def require_open(alert: Alert, action: str) -> None:
    if not alert.is_open:
        raise LifecycleError(f"cannot {action}: alert {alert.alert_id} is already resolved")


def require_name(by: str, action: str) -> None:
    if not by.strip():
        raise LifecycleError(f"{action} needs the name of the person doing it")


def require_seen_priority(alert: Alert, seen: Priority | None, action: str) -> None:
    """Refuse as `Superseded` (REST 409, nothing changed) to `action` an alert whose priority is not
    `seen`, the one the person acting was shown (None: not said, nothing to check). An upgrade (e.g.
    amber to red) landing a moment before their snooze or escalation must be seen first: the action
    was judged for the lower priority (issue 6.3: a clear result, never a silent change of meaning)."""
    if seen is None or alert.priority is seen:
        return
    now_is = alert.priority.value
    said = f"cannot {action}: alert {alert.alert_id} is {now_is} priority now, not {seen.value} as seen"
    upgrade = next((e for e in reversed(alert.events) if e.kind is EventKind.UPGRADED), None)
    if upgrade is not None:
        said += f" (upgraded at {upgrade.at.isoformat()})"
    raise Superseded(f"{said}; look at it again before acting")


def acknowledge(alert: Alert, by: str, now: datetime) -> Alert:
    """A named person has seen the alert and takes it on; escalation stops."""
    require_open(alert, "acknowledge")
    require_name(by, "acknowledging")
    if alert.state is AlertState.ACKNOWLEDGED:
        raise LifecycleError(f"alert {alert.alert_id} is already acknowledged by {alert.acknowledged_by}")
    return replace(
        alert,
        state=AlertState.ACKNOWLEDGED,
        acknowledged_by=by,
        acknowledged_at=now,
        events=_event(alert, now, EventKind.ACKNOWLEDGED, by=by),
    )


def resolve(alert: Alert, by: str, now: datetime, outcome: str) -> Alert:
    """A clinician closes the alert with an outcome (the only way a latched alert closes)."""
    require_open(alert, "resolve")
    require_name(by, "resolving")
    if not outcome.strip():
        raise LifecycleError("resolving needs an outcome (what was done or found)")
    return replace(
        alert,
        state=AlertState.RESOLVED,
        resolved_by=by,
        resolved_at=now,
        outcome=outcome,
        events=_event(alert, now, EventKind.RESOLVED, by=by, detail=outcome),
    )


def snooze(
    alert: Alert,
    by: str,
    now: datetime,
    duration: timedelta,
    *,
    max_snooze: timedelta,
    max_total: timedelta | None = None,
    seen_until: datetime | None = None,
    seen_priority: Priority | None = None,
) -> Alert:
    """Hold reminders and escalation for `duration` (at most `max_snooze`), at this priority only.

    - Refused as `Superseded` when `seen_priority` is given and is not the alert's priority
      (`require_seen_priority`): the snooze would hold a priority its giver never saw.

    - A running snooze is never replaced unseen (issue 6.3: two clinicians acting at once see a clear
      result, never a silent overwrite): snoozing an alert that is snoozed now is refused as
      `Superseded` (REST 409, nothing changed; the message names who snoozed it until when) unless
      `seen_until` is that snooze's `snoozed_until` -- the clinician saw it and means to change it.
      An ended snooze (expired, or ended by an upgrade) is not running: nothing to overwrite.
    - Snoozes in a row (each given while the one before still runs) hold the alert at most
      `max_total` (default `max_snooze`) from when the first began, so chaining them never holds
      escalation for longer than the ward allows (LifecycleError otherwise, REST 422). The sources give
      no figure for this (clinical-rules.md gives only S-RAD97's 2 min bedside silence), so the
      ward sets it (api/ward_config.py `snooze_chain_max_s`); a snooze given after the last one
      ended starts a new run: the ladder's clock ran in between.
    """
    require_open(alert, "snooze")
    require_seen_priority(alert, seen_priority, "snooze")
    require_name(by, "snoozing")
    if not timedelta(0) < duration <= max_snooze:
        raise LifecycleError(f"a snooze must last more than 0 and at most {max_snooze}, got {duration}")
    until, since, detail = now + duration, now, ""
    running = alert.snoozed_until if alert.is_snoozed(now) else None
    if running is not None:
        if seen_until != running:
            raise Superseded(_snoozed_meanwhile(alert, running, seen_until))
        # Records from before `snoozed_since` existed start their run now.
        since = alert.snoozed_since or now
        limit = max_total or max_snooze
        if until - since > limit:
            raise LifecycleError(
                f"alert {alert.alert_id} has been snoozed since {since.isoformat()}: snoozes in a row may "
                f"hold it at most {limit} in all, so this one may end by {(since + limit).isoformat()}"
            )
        detail = f" (replacing {alert.snoozed_by}'s snooze until {running.isoformat()})"
    return replace(
        alert,
        snoozed_by=by,
        snoozed_until=until,
        snooze_priority=alert.priority,
        snoozed_since=since,
        events=_event(alert, now, EventKind.SNOOZED, by=by, detail=f"until {until.isoformat()}{detail}"),
    )


def _snoozed_meanwhile(alert: Alert, running: datetime, seen: datetime | None) -> str:
    said = f"alert {alert.alert_id} is already snoozed by {alert.snoozed_by} until {running.isoformat()}"
    if seen is None:
        return said
    return f"{said}, not until {seen.isoformat()} as seen"
