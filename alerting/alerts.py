"""Alert records: the alert, its history of events, what a rule asks for, and what should be sent.

Immutable values with `to_dict` / `from_dict` so the API's alert store can keep them as JSON. The
transitions between them live in alerting/lifecycle.py and alerting/escalation.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from alerting import codec
from alerting.model import AlertState, Priority
from alerting.results import RuleResult, Status


class EventKind(StrEnum):
    RAISED = "raised"
    UPGRADED = "upgraded"  # same alert, higher priority (ACM "escalate" phase, §5.2)
    CURRENT = "current"  # an alert raised from late data is confirmed by a current reading
    CONDITION_CLEARED = "condition-cleared"  # all-clear recorded; the alert stays open (latched, §5.1)
    CONDITION_RETURNED = "condition-returned"
    ALL_CLEAR = "all-clear"  # non-latching: the condition cleared and the alert resolved itself (§5.1)
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    SNOOZE_OVERRIDDEN = "snooze-overridden"  # a higher priority ended a snooze
    ESCALATED = "escalated"  # not acknowledged in time: next tier (§5.2 "no black holes")
    RESOLVED = "resolved"  # by a clinician, with an outcome


@dataclass(frozen=True, slots=True)
class AlertEvent:
    at: datetime
    kind: EventKind
    priority: Priority
    by: str | None = None
    detail: str = ""
    tier: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "at": codec.dt_out(self.at),
            "kind": self.kind.value,
            "priority": self.priority.value,
            "by": self.by,
            "detail": self.detail,
            "tier": self.tier,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> AlertEvent:
        codec.reject_unknown(data, frozenset(cls.__dataclass_fields__), "alert event")
        tier = data.get("tier")
        return cls(
            at=codec.dt_in(data.get("at"), "at"),
            kind=codec.enum_in(EventKind, data.get("kind"), "kind"),
            priority=codec.priority_in(data.get("priority"), "priority"),
            by=codec.opt_str_in(data.get("by"), "by"),
            detail=codec.str_in(data.get("detail", ""), "detail"),
            tier=None if tier is None else codec.int_in(tier, "tier"),
        )


@dataclass(frozen=True, slots=True)
class AlertRequest:
    """A rule's proposal: this patient has this rule's condition at this priority (practice 16)."""

    patient_id: str
    rule: str
    priority: Priority
    measured_at: datetime
    technical: bool = False
    questionable: bool = False
    late: bool = False
    reasons: tuple[str, ...] = ()

    @classmethod
    def from_result(cls, patient_id: str, result: RuleResult, now: datetime) -> AlertRequest:
        """The request an ALERT result makes (time-based results are about `now`)."""
        if result.status is not Status.ALERT or result.priority is None:
            raise ValueError(f"only an alert result with a priority makes a request, got {result.status}")
        return cls(
            patient_id=patient_id,
            rule=result.rule,
            priority=result.priority,
            measured_at=result.measured_at or now,
            technical=result.technical,
            questionable=result.questionable,
            late=result.late,
            reasons=result.reasons,
        )


def alert_id_for(patient_id: str, rule: str, raised_at: datetime) -> str:
    """Deterministic id (a replayed evaluation yields the same id); carries no patient identifier."""
    material = "\x1f".join((patient_id, rule, raised_at.isoformat()))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    patient_id: str
    rule: str
    priority: Priority
    state: AlertState
    raised_at: datetime
    #: Measured time of the newest evidence applied; older evidence never changes the condition.
    last_measured_at: datetime
    technical: bool = False
    #: Whether the triggering condition still holds. An open alert with False is latched (§5.1, §5.2).
    condition_active: bool = True
    questionable: bool = False
    late: bool = False
    reasons: tuple[str, ...] = ()
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    snoozed_by: str | None = None
    snoozed_until: datetime | None = None
    #: The priority the snooze covers: it never silences anything higher.
    snooze_priority: Priority | None = None
    #: When the unbroken run of snoozes ending at `snoozed_until` began (lifecycle.snooze caps it).
    snoozed_since: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    outcome: str | None = None
    #: Escalation tier now notified (0 = first tier) and since when (alerting/escalation.py).
    tier: int = 0
    tier_since: datetime | None = None
    events: tuple[AlertEvent, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state is not AlertState.RESOLVED

    @property
    def latched(self) -> bool:
        return self.is_open and not self.condition_active

    def is_snoozed(self, now: datetime) -> bool:
        """Snoozed at `now` for its current priority (a higher one is never covered)."""
        return (
            self.snoozed_until is not None
            and now < self.snoozed_until
            and self.snooze_priority is not None
            and self.priority <= self.snooze_priority
        )

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in _ALERT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = codec.dt_out(value)
            elif isinstance(value, Priority | AlertState):
                value = value.value
            elif name == "reasons":
                value = list(value)
            elif name == "events":
                value = [event.to_dict() for event in value]
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Alert:
        codec.reject_unknown(data, frozenset(_ALERT_FIELDS), "alert")
        events = data.get("events", [])
        if not isinstance(events, list):
            raise codec.DecodeError(f"events: expected a list, got {events!r}")
        f = data.get
        return cls(
            alert_id=codec.str_in(f("alert_id"), "alert_id"),
            patient_id=codec.str_in(f("patient_id"), "patient_id"),
            rule=codec.str_in(f("rule"), "rule"),
            priority=codec.priority_in(f("priority"), "priority"),
            state=codec.enum_in(AlertState, f("state"), "state"),
            raised_at=codec.dt_in(f("raised_at"), "raised_at"),
            last_measured_at=codec.dt_in(f("last_measured_at"), "last_measured_at"),
            technical=codec.bool_in(f("technical", False), "technical"),
            condition_active=codec.bool_in(f("condition_active", True), "condition_active"),
            questionable=codec.bool_in(f("questionable", False), "questionable"),
            late=codec.bool_in(f("late", False), "late"),
            reasons=codec.strs_in(f("reasons", []), "reasons"),
            acknowledged_by=codec.opt_str_in(f("acknowledged_by"), "acknowledged_by"),
            acknowledged_at=codec.opt_dt_in(f("acknowledged_at"), "acknowledged_at"),
            snoozed_by=codec.opt_str_in(f("snoozed_by"), "snoozed_by"),
            snoozed_until=codec.opt_dt_in(f("snoozed_until"), "snoozed_until"),
            snooze_priority=codec.opt_priority_in(f("snooze_priority"), "snooze_priority"),
            snoozed_since=codec.opt_dt_in(f("snoozed_since"), "snoozed_since"),
            resolved_by=codec.opt_str_in(f("resolved_by"), "resolved_by"),
            resolved_at=codec.opt_dt_in(f("resolved_at"), "resolved_at"),
            outcome=codec.opt_str_in(f("outcome"), "outcome"),
            tier=codec.int_in(f("tier", 0), "tier"),
            tier_since=codec.opt_dt_in(f("tier_since"), "tier_since"),
            events=tuple(AlertEvent.from_dict(codec.mapping_in(e, "events[]")) for e in events),
        )


_ALERT_FIELDS = tuple(Alert.__dataclass_fields__)


class NotificationKind(StrEnum):
    RAISED = "raised"
    UPGRADED = "upgraded"
    CURRENT = "current"  # a late alert is now confirmed by a current reading: page now
    ESCALATED = "escalated"
    CONDITION_CLEARED = "condition-cleared"  # latched: condition gone, a clinician must still resolve
    ALL_CLEAR = "all-clear"  # resolved by itself; sent once


@dataclass(frozen=True, slots=True)
class Notification:
    """Something to tell people (the API routes it to the tier's channel)."""

    alert_id: str
    patient_id: str
    rule: str
    priority: Priority
    kind: NotificationKind
    at: datetime
    tier: int = 0
    late: bool = False
    questionable: bool = False
    repeat: bool = False
    #: A clinician escalated by hand: a person asked for the next tier now, late data or not.
    by_hand: bool = False

    @property
    def page(self) -> bool:
        """Interrupt someone now? Never for late data (§6.2.5) or for good news, unless asked by hand."""
        good_news = self.kind in (NotificationKind.CONDITION_CLEARED, NotificationKind.ALL_CLEAR)
        return self.by_hand or (not self.late and not good_news)

    def to_dict(self) -> dict[str, object]:
        return {
            "alert_id": self.alert_id,
            "patient_id": self.patient_id,
            "rule": self.rule,
            "priority": self.priority.value,
            "kind": self.kind.value,
            "at": codec.dt_out(self.at),
            "tier": self.tier,
            "late": self.late,
            "questionable": self.questionable,
            "repeat": self.repeat,
            "by_hand": self.by_hand,
            "page": self.page,
        }
