"""From rule results to stored alert changes: the lifecycle applied to a patient's alert records. Pure.

Rules propose, the lifecycle decides (alerting/lifecycle.py, style.md practice 16): for each result
an ALERT proposes (raise, upgrade in place, never lower), a CLEAR clears the condition (a high alert
latches; a lower one resolves itself with an all-clear). A `Step` gathers what one atomic save
(api/lua/alerts.lua `save`) must write: the changed records, their events, the notifications, and
the expectation -- the raw records it read -- so a save over a view that has changed meanwhile is
refused ('conflict') and the work is done again on fresh state. `PatientAlerts` is the working
view: after a step it holds exactly what the save will have stored, so several steps (readings of
one patient in one batch) chain in order.

Latching is per ward (`latch_from`, default high) with one exception, ours: `evaluation-failed`
always latches -- a reading the rules could not fully evaluate may have hidden a deterioration, so
someone must look and resolve it (practice 18: failure is never silent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from alerting.alerts import Alert, AlertRequest, EventKind, Notification
from alerting.lifecycle import Transition, clear_condition, propose
from alerting.model import Priority
from alerting.results import RuleResult, Status
from alerting.rules import FAILED_RULE
from api.alert_record import (
    Cause,
    encode,
    notification_fields,
    stream_event,
    to_alert,
    to_record,
    with_new_id,
)

#: Rules whose alerts latch whatever their priority (see the module docstring).
ALWAYS_LATCH = frozenset({FAILED_RULE})
_EVIDENCE_KINDS = frozenset({EventKind.RAISED, EventKind.UPGRADED})


def latch_for(rule: str, ward_latch_from: Priority) -> Priority:
    return Priority.ADVISORY if rule in ALWAYS_LATCH else ward_latch_from


@dataclass
class Change:
    """One atomic save for one patient (the `save` op of api/lua/alerts.lua)."""

    patient_id: str
    entry_id: str = ""
    #: rule -> the raw open alert as read ('' = none open): refused if it changed.
    expect: dict[str, str] = field(default_factory=dict)
    #: alert id -> the raw record as read: refused if it changed.
    expect_ids: dict[str, str] = field(default_factory=dict)
    #: The raw continuous-mode state as read ('' = none); None = not checked.
    expect_state: str | None = None
    alerts: list[str] = field(default_factory=list)
    events: list[list[str]] = field(default_factory=list)
    notify: list[list[str]] = field(default_factory=list)
    state_set: dict[str, str] = field(default_factory=dict)
    #: ISO times, each set only when later than the stored one.
    state_max: dict[str, str] = field(default_factory=dict)
    #: What happened, for counters: event kinds written.
    kinds: list[str] = field(default_factory=list)

    def payload(self) -> str:
        body: dict[str, Any] = {
            "expect": self.expect,
            "expect_ids": self.expect_ids,
            "alerts": self.alerts,
            "events": self.events,
            "notify": self.notify,
            "state_set": self.state_set,
            "state_max": self.state_max,
        }
        if self.expect_state is not None:
            body["expect_state"] = self.expect_state
        return json.dumps(body, separators=(",", ":"))


class PatientAlerts:
    """A patient's open alerts, rule -> the raw record exactly as stored."""

    def __init__(self, patient_id: str, raws: dict[str, str]) -> None:
        self.patient_id = patient_id
        self.raws = dict(raws)

    def raw(self, rule: str) -> str:
        return self.raws.get(rule, "")

    def record(self, rule: str) -> dict[str, Any] | None:
        raw = self.raws.get(rule)
        return None if not raw else dict(json.loads(raw))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.raws.values() if raw]

    def put(self, record: dict[str, Any], raw: str) -> None:
        rule = record["rule"]
        if record["state"] != "resolved":
            self.raws[rule] = raw
        elif self.raws.get(rule) and json.loads(self.raws[rule])["alert_id"] == record["alert_id"]:
            del self.raws[rule]


class Step:
    """The changes of one save, built result by result over a `PatientAlerts` view."""

    def __init__(
        self, alerts: PatientAlerts, now: datetime, entry_id: str = "", *, touch: bool = True
    ) -> None:
        self.alerts = alerts
        self.now = now
        #: False: a proposal that only moves `last_measured_at` is not written (time-based rules
        #: re-assert their condition every tick; the evidence time of a reading matters, theirs not).
        self.touch = touch
        self.change = Change(alerts.patient_id, entry_id)
        self.notes: list[Notification] = []

    def apply(self, result: RuleResult, latch_from: Priority, cause: Cause | None) -> None:
        """Apply one rule result (ALERT proposes, CLEAR clears; other statuses change nothing)."""
        if result.status not in (Status.ALERT, Status.CLEAR):
            return
        rule = result.rule
        self.change.expect.setdefault(rule, self.alerts.raw(rule))
        base = self.alerts.record(rule)
        current = None if base is None else to_alert(base)
        if result.status is Status.ALERT:
            request = AlertRequest.from_result(self.alerts.patient_id, result, self.now)
            transition = propose(current, request, self.now)
        else:
            transition = clear_condition(
                current, result.measured_at or self.now, self.now, latch_from=latch_from
            )
        self.take(base, current, transition, cause)

    def take(
        self, base: dict[str, Any] | None, current: Alert | None, transition: Transition, cause: Cause | None
    ) -> dict[str, Any] | None:
        """Record a lifecycle transition of `current` (read as `base`); returns the new record, if any."""
        alert, notes = transition.alert, transition.notifications
        if alert is None or alert == current:
            return None
        fresh = current is None or alert.alert_id != current.alert_id
        if (
            current is not None
            and not fresh
            and not self.touch
            and replace(alert, last_measured_at=current.last_measured_at) == current
        ):
            return None
        if fresh:
            alert, notes = with_new_id(alert, notes)
            base = None
        new_events = alert.events if fresh or current is None else alert.events[len(current.events) :]
        evidence = cause if any(e.kind in _EVIDENCE_KINDS for e in new_events) else None
        record = to_record(alert, self.now, base=base, cause=evidence)
        raw = encode(record)
        self.change.alerts.append(raw)
        self.change.events += [stream_event(e, record) for e in new_events]
        self.change.kinds += [e.kind.value for e in new_events]
        self.change.notify += [notification_fields(n) for n in notes]
        self.notes += notes
        self.alerts.put(record, raw)
        return record
