"""Escalation: not acknowledged in time -> next tier, repeatedly, every step recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerting import codec
from alerting.alerts import Alert, AlertRequest, EventKind, Notification, NotificationKind
from alerting.book import AlertBook
from alerting.escalation import (
    EscalationLadder,
    Tier,
    apply_escalation,
    due_escalations,
    escalate,
    ward_ladder,
)
from alerting.lifecycle import acknowledge, propose, resolve, snooze
from alerting.model import Priority

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# A ward's own times (local configuration, no national figure): nurse 10, clinician 15, on-call 20 min.
LADDER = ward_ladder(600, 900, 1200)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def raised(priority: Priority = Priority.HIGH, patient: str = "p1") -> Alert:
    alert = propose(None, AlertRequest(patient, "o2home-band", priority, T0), T0).alert
    assert alert is not None
    return alert


def tick_every_minute(book: AlertBook, until: float, ladder: EscalationLadder = LADDER) -> list[Notification]:
    """The scheduler: a tick each minute, with no reading arriving."""
    sent: list[Notification] = []
    for minute in range(1, int(until) + 1):
        sent += book.escalate(ladder, at(minute))
    return sent


def test_ward_ladder_names_the_issue_tiers() -> None:
    assert [t.name for t in LADDER.tiers] == ["ward-nurse", "ward-clinician", "on-call"]
    LADDER.validate()


def test_unacknowledged_alert_climbs_the_ladder_and_repeats_at_the_top() -> None:
    book = AlertBook([raised()])
    sent = tick_every_minute(book, 90)
    steps = [(n.at, n.tier, n.repeat) for n in sent]
    assert steps == [
        (at(10), 1, False),  # nurse had 10 min -> ward clinician
        (at(25), 2, False),  # clinician had 15 min -> on-call
        (at(45), 2, True),  # on-call re-sent every 20 min until someone acknowledges
        (at(65), 2, True),
        (at(85), 2, True),
    ]
    alert = book.open_alerts()[0]
    recorded = [(e.at, e.tier, e.detail) for e in alert.events if e.kind is EventKind.ESCALATED]
    assert recorded[:3] == [
        (at(10), 1, "to ward-clinician"),
        (at(25), 2, "to on-call"),
        (at(45), 2, "repeat to on-call"),
    ]
    assert all(n.kind is NotificationKind.ESCALATED for n in sent)


def test_acknowledgement_stops_escalation() -> None:
    book = AlertBook([raised()])
    tick_every_minute(book, 12)
    book.put(acknowledge(book.open_alerts()[0], "dr.c", at(12)))
    assert book.escalate(LADDER, at(120)) == []


def test_resolved_alert_never_escalates() -> None:
    alert = resolve(raised(), "dr.c", at(1), "seen")
    assert due_escalations([alert], LADDER, at(500)) == []


def test_low_priority_does_not_page_up_the_ladder_by_default() -> None:
    assert due_escalations([raised(Priority.LOW)], LADDER, at(500)) == []
    everyone = EscalationLadder(LADDER.tiers, min_priority=Priority.ADVISORY)
    assert len(due_escalations([raised(Priority.LOW)], everyone, at(500))) == 1


def test_snooze_holds_escalation_until_it_ends() -> None:
    alert = snooze(
        raised(Priority.MEDIUM), "nurse.a", at(5), timedelta(minutes=30), max_snooze=timedelta(hours=1)
    )
    assert due_escalations([alert], LADDER, at(34)) == []
    step = due_escalations([alert], LADDER, at(35))
    assert [(s.to_tier, s.at) for s in step] == [(1, at(35))]


def test_no_repeat_at_the_top_when_the_ward_says_so() -> None:
    ladder = EscalationLadder((Tier("ward-nurse", 600),), repeat_last=False)
    assert due_escalations([raised()], ladder, at(500)) == []


def test_a_late_scheduler_gives_each_tier_its_full_time() -> None:
    book = AlertBook([raised()])
    first = book.escalate(LADDER, at(60))  # scheduler was down for an hour
    assert [(n.tier, n.at) for n in first] == [(1, at(60))]
    assert book.escalate(LADDER, at(74)) == []  # the clinician still gets 15 minutes
    assert [n.tier for n in book.escalate(LADDER, at(75))] == [2]


def test_upgrade_restarts_the_tier_clock() -> None:
    book = AlertBook([raised(Priority.MEDIUM)])
    tick_every_minute(book, 9)
    upgraded = propose(
        book.open_alerts()[0], AlertRequest("p1", "o2home-band", Priority.HIGH, at(9)), at(9)
    ).alert
    assert upgraded is not None
    book.put(upgraded)
    assert book.escalate(LADDER, at(18)) == []
    assert [n.tier for n in book.escalate(LADDER, at(19))] == [1]


def test_each_alert_escalates_on_its_own_clock() -> None:
    first, second = raised(patient="p1"), raised(patient="p2")
    second = acknowledge(second, "nurse.a", at(1))
    transitions = escalate([first, second], LADDER, at(10))
    assert [t.alert.patient_id for t in transitions if t.alert is not None] == ["p1"]


def test_step_for_another_alert_is_refused() -> None:
    step = due_escalations([raised(patient="p1")], LADDER, at(10))[0]
    with pytest.raises(ValueError, match="another alert"):
        apply_escalation(raised(patient="p2"), step)


@pytest.mark.parametrize(
    ("ladder", "why"),
    [
        (EscalationLadder(()), "at least one tier"),
        (EscalationLadder((Tier("a", 60), Tier("a", 60))), "distinct"),
        (EscalationLadder((Tier(" ", 60),)), "distinct, non-empty"),
        (EscalationLadder((Tier("a", 0),)), "must be positive"),
    ],
)
def test_bad_ladders_are_refused(ladder: EscalationLadder, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        ladder.validate()


def test_ladder_round_trips_through_json() -> None:
    assert EscalationLadder.from_dict(LADDER.to_dict()) == LADDER
    with pytest.raises(codec.DecodeError, match="expected a list"):
        EscalationLadder.from_dict({"tiers": "nurse"})
    with pytest.raises(codec.DecodeError, match="at least one tier"):
        EscalationLadder.from_dict({"tiers": []})
    with pytest.raises(codec.DecodeError, match="unknown field"):
        EscalationLadder.from_dict({"tiers": [{"name": "a", "ack_within_s": 5, "phone": "x"}]})
