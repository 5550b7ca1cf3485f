"""Escalating by hand: a named clinician sends the alert to the next tier now, with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerting.alerts import Alert, AlertRequest, EventKind, NotificationKind
from alerting.book import AlertBook
from alerting.escalation import EscalationLadder, Tier, escalate_by_hand, ward_ladder
from alerting.lifecycle import LifecycleError, Superseded, acknowledge, propose, resolve, snooze
from alerting.model import AlertState, Priority

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LADDER = ward_ladder(600, 900, 1200)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def raised(priority: Priority = Priority.HIGH) -> Alert:
    alert = propose(None, AlertRequest("p1", "o2home-band", priority, T0), T0).alert
    assert alert is not None
    return alert


def by_hand(
    alert: Alert, when: float, by: str = "nurse.a", reason: str = "looks worse on the phone"
) -> Alert:
    done = escalate_by_hand(alert, LADDER, by, reason, at(when)).alert
    assert done is not None
    return done


def test_moves_to_the_next_tier_now_and_tells_it() -> None:
    alert = raised()
    transition = escalate_by_hand(alert, LADDER, "nurse.a", "  breathless on the phone ", at(2))
    escalated = transition.alert
    assert escalated is not None
    assert (escalated.tier, escalated.tier_since, escalated.state) == (1, at(2), AlertState.OPEN)
    event = escalated.events[-1]
    assert (event.kind, event.by, event.tier, event.at) == (EventKind.ESCALATED, "nurse.a", 1, at(2))
    assert event.detail == "by hand to ward-clinician: breathless on the phone"
    [note] = transition.notifications
    assert (note.kind, note.tier, note.at, note.repeat, note.page) == (
        NotificationKind.ESCALATED,
        1,
        at(2),
        False,
        True,
    )


def test_at_the_last_tier_the_last_tier_is_told_again() -> None:
    alert = by_hand(by_hand(raised(), 1), 2)
    assert alert.tier == 2
    transition = escalate_by_hand(alert, LADDER, "dr.b", "no answer from on-call", at(3))
    assert transition.alert is not None
    assert (transition.alert.tier, transition.alert.events[-1].detail) == (
        2,
        "by hand to on-call: no answer from on-call",
    )
    assert [(n.tier, n.repeat) for n in transition.notifications] == [(2, True)]
    # even where the clock would not repeat the top tier: a person asked
    single = EscalationLadder((Tier("ward-nurse", 600),), repeat_last=False)
    again = escalate_by_hand(raised(), single, "dr.b", "again", at(4))
    assert [(n.tier, n.repeat) for n in again.notifications] == [(0, True)]


def test_a_ladder_shortened_after_the_alert_climbed_sends_it_to_the_new_top() -> None:
    alert = by_hand(by_hand(raised(), 1), 2)
    short = EscalationLadder((Tier("ward-nurse", 600), Tier("on-call", 600)))
    transition = escalate_by_hand(alert, short, "dr.b", "still no answer", at(3))
    assert [(n.tier, n.repeat) for n in transition.notifications] == [(1, True)]


def test_an_acknowledged_alert_reopens_so_the_new_tier_must_accept_it() -> None:
    acked = acknowledge(raised(), "nurse.a", at(1))
    alert = by_hand(acked, 5, by="nurse.a", reason="needs a doctor")
    assert (alert.state, alert.acknowledged_by, alert.acknowledged_at) == (AlertState.OPEN, None, None)
    # The ladder keeps running from the new tier: unaccepted, on-call hears after the clinician's 15 min.
    book = AlertBook([alert])
    assert book.escalate(LADDER, at(19)) == []
    assert [(n.tier, n.at) for n in book.escalate(LADDER, at(20))] == [(2, at(20))]


def test_ends_a_snooze() -> None:
    snoozed = snooze(
        raised(Priority.MEDIUM), "nurse.a", at(1), timedelta(minutes=30), max_snooze=timedelta(hours=1)
    )
    alert = by_hand(snoozed, 3)
    assert (alert.snoozed_by, alert.snoozed_until, alert.snooze_priority) == (None, None, None)
    assert not alert.is_snoozed(at(4))


def test_any_priority_may_be_escalated_by_hand() -> None:
    assert by_hand(raised(Priority.LOW), 1).tier == 1


@pytest.mark.parametrize(
    ("by", "reason", "why"),
    [(" ", "reason", "name of the person"), ("nurse.a", "  ", "needs a reason")],
)
def test_a_name_and_a_reason_are_required(by: str, reason: str, why: str) -> None:
    with pytest.raises(LifecycleError, match=why):
        escalate_by_hand(raised(), LADDER, by, reason, at(1))


def test_refused_when_resolved_or_the_ward_has_no_ladder() -> None:
    with pytest.raises(LifecycleError, match="already resolved"):
        escalate_by_hand(resolve(raised(), "dr.b", at(1), "seen"), LADDER, "nurse.a", "why", at(2))
    with pytest.raises(LifecycleError, match="no escalation ladder"):
        escalate_by_hand(raised(), None, "nurse.a", "why", at(2))


def test_a_tier_moved_meanwhile_is_superseded_and_says_by_whom() -> None:
    first = by_hand(raised(), 1, by="dr.b")
    with pytest.raises(
        Superseded, match=r"at tier 1 now, not tier 0: already escalated by dr\.b at 2026-11-30T09:01"
    ):
        escalate_by_hand(first, LADDER, "nurse.a", "same worry", at(1), from_tier=0)
    seen = escalate_by_hand(first, LADDER, "nurse.a", "worse still", at(2), from_tier=1).alert
    assert seen is not None
    assert seen.tier == 2
    # by the clock (no name) or with no escalation recorded at all
    by_clock = AlertBook([raised()])
    by_clock.escalate(LADDER, at(10))
    with pytest.raises(Superseded, match="already escalated by the ladder"):
        escalate_by_hand(by_clock.open_alerts()[0], LADDER, "nurse.a", "why", at(11), from_tier=0)
    with pytest.raises(Superseded, match=r"at tier 0 now, not tier 3$"):
        escalate_by_hand(raised(), LADDER, "nurse.a", "why", at(1), from_tier=3)


def test_an_upgrade_meanwhile_is_superseded_and_names_the_new_priority() -> None:
    amber = raised(Priority.MEDIUM)
    red = propose(amber, AlertRequest("p1", "o2home-band", Priority.HIGH, at(1)), at(1)).alert
    assert red is not None
    with pytest.raises(Superseded, match=r"cannot escalate: .* is high priority now, not medium as seen"):
        escalate_by_hand(red, LADDER, "nurse.a", "why", at(2), from_tier=0, seen_priority=Priority.MEDIUM)
    done = escalate_by_hand(red, LADDER, "nurse.a", "why", at(2), seen_priority=Priority.HIGH).alert
    assert done is not None
    assert (done.tier, done.priority) == (1, Priority.HIGH)


def test_a_late_alert_escalated_by_hand_pages_although_the_clock_would_not() -> None:
    late = propose(None, AlertRequest("p1", "o2home-band", Priority.HIGH, T0, late=True), at(30)).alert
    assert late is not None
    assert late.late
    [note] = escalate_by_hand(late, LADDER, "nurse.a", "stored readings look bad", at(31)).notifications
    assert (note.late, note.by_hand, note.page, note.to_dict()["page"]) == (True, True, True, True)
