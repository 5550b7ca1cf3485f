"""Alert lifecycle: one named test per rule of the lifecycle (alerting/lifecycle.py, style.md practice 16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerting import codec
from alerting.alerts import Alert, AlertEvent, AlertRequest, EventKind, NotificationKind, alert_id_for
from alerting.book import AlertBook
from alerting.lifecycle import LifecycleError, acknowledge, clear_condition, propose, resolve, snooze
from alerting.model import AlertState, Priority
from alerting.results import RuleResult, Status

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MAX_SNOOZE = timedelta(minutes=30)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def request(
    priority: Priority, minutes: float = 0, *, late: bool = False, rule: str = "o2home-band"
) -> AlertRequest:
    return AlertRequest("p1", rule, priority, at(minutes), late=late, reasons=("why",))


def raised(priority: Priority = Priority.MEDIUM, minutes: float = 0) -> Alert:
    alert = propose(None, request(priority, minutes), at(minutes)).alert
    assert alert is not None
    return alert


def test_raise_opens_an_alert_and_notifies() -> None:
    alert, sent = propose(None, request(Priority.MEDIUM), T0)
    assert alert is not None
    assert alert.state is AlertState.OPEN
    assert alert.alert_id == alert_id_for("p1", "o2home-band", T0)
    assert "p1" not in alert.alert_id
    assert [e.kind for e in alert.events] == [EventKind.RAISED]
    assert [(n.kind, n.priority, n.page) for n in sent] == [(NotificationKind.RAISED, Priority.MEDIUM, True)]


def test_same_condition_again_is_never_a_duplicate_and_does_not_renotify() -> None:
    alert = raised()
    again, sent = propose(alert, request(Priority.MEDIUM, 5), at(5))
    assert again is not None
    assert again.alert_id == alert.alert_id
    assert sent == ()
    assert again.last_measured_at == at(5)


def test_worse_condition_upgrades_in_place_and_notifies() -> None:
    alert = raised(Priority.MEDIUM)
    upgraded, sent = propose(alert, request(Priority.HIGH, 5), at(5))
    assert upgraded is not None
    assert upgraded.alert_id == alert.alert_id
    assert upgraded.priority is Priority.HIGH
    assert upgraded.events[-1].kind is EventKind.UPGRADED
    assert [n.kind for n in sent] == [NotificationKind.UPGRADED]


def test_better_reading_never_lowers_the_priority() -> None:
    alert = raised(Priority.HIGH)
    kept, sent = propose(alert, request(Priority.MEDIUM, 5), at(5))
    assert kept is not None
    assert kept.priority is Priority.HIGH
    assert sent == ()


def test_upgrade_needs_a_new_acknowledgement() -> None:
    alert = acknowledge(raised(Priority.MEDIUM), "nurse.a", at(1))
    upgraded, _ = propose(alert, request(Priority.HIGH, 5), at(5))
    assert upgraded is not None
    assert upgraded.state is AlertState.OPEN
    assert upgraded.acknowledged_by is None
    assert upgraded.tier_since == at(5)


def test_high_priority_latches_until_a_clinician_resolves() -> None:
    alert = raised(Priority.HIGH)
    latched, sent = clear_condition(alert, at(5), at(5))
    assert latched is not None
    assert latched.state is AlertState.OPEN
    assert latched.latched
    assert latched.events[-1].kind is EventKind.CONDITION_CLEARED  # the all-clear is recorded
    assert [(n.kind, n.page) for n in sent] == [(NotificationKind.CONDITION_CLEARED, False)]
    again, more = clear_condition(latched, at(6), at(6))
    assert again == latched
    assert more == ()
    closed = resolve(latched, "dr.b", at(10), "reviewed by phone, stable")
    assert closed.state is AlertState.RESOLVED
    assert (closed.resolved_by, closed.outcome) == ("dr.b", "reviewed by phone, stable")


def test_latched_condition_returning_is_recorded_without_a_new_alert() -> None:
    latched, _ = clear_condition(raised(Priority.HIGH), at(5), at(5))
    assert latched is not None
    back, sent = propose(latched, request(Priority.HIGH, 7), at(7))
    assert back is not None
    assert back.condition_active
    assert back.events[-1].kind is EventKind.CONDITION_RETURNED
    assert sent == ()


def test_non_latching_alert_resolves_itself_with_one_all_clear() -> None:
    alert = raised(Priority.MEDIUM)
    cleared, sent = clear_condition(alert, at(5), at(5))
    assert cleared is not None
    assert cleared.state is AlertState.RESOLVED
    assert cleared.outcome == "all-clear"
    assert cleared.resolved_by is None
    assert [n.kind for n in sent] == [NotificationKind.ALL_CLEAR]
    assert clear_condition(cleared, at(6), at(6)).notifications == ()


def test_latching_threshold_is_configurable() -> None:
    cleared, _ = clear_condition(raised(Priority.MEDIUM), at(5), at(5), latch_from=Priority.MEDIUM)
    assert cleared is not None
    assert cleared.latched


def test_clear_with_nothing_open_does_nothing() -> None:
    assert clear_condition(None, T0, T0) == (None, ())


def test_older_evidence_never_clears_a_newer_condition() -> None:
    alert = raised(Priority.MEDIUM, minutes=10)
    kept, sent = clear_condition(alert, at(5), at(11))  # a late normal reading measured before the alert's
    assert kept == alert
    assert sent == ()


def test_after_resolution_a_new_condition_raises_a_new_alert() -> None:
    first = resolve(raised(Priority.HIGH), "dr.b", at(5), "seen")
    second, sent = propose(first, request(Priority.HIGH, 10), at(10))
    assert second is not None
    assert second.alert_id != first.alert_id
    assert [n.kind for n in sent] == [NotificationKind.RAISED]


def test_late_data_raises_without_paging_and_a_current_reading_then_pages() -> None:
    alert, sent = propose(None, request(Priority.HIGH, late=True), at(30))
    assert alert is not None
    assert alert.late
    assert [(n.kind, n.late, n.page) for n in sent] == [(NotificationKind.RAISED, True, False)]
    current, sent = propose(alert, request(Priority.HIGH, 31), at(31))
    assert current is not None
    assert not current.late
    assert [(n.kind, n.page) for n in sent] == [(NotificationKind.CURRENT, True)]


def test_late_alert_confirmed_while_snoozed_does_not_page() -> None:
    alert, _ = propose(None, request(Priority.HIGH, late=True), at(30))
    assert alert is not None
    alert = snooze(alert, "nurse.a", at(30), timedelta(minutes=10), max_snooze=MAX_SNOOZE)
    current, sent = propose(alert, request(Priority.HIGH, 31), at(31))
    assert current is not None
    assert not current.late
    assert sent == ()


def test_snooze_is_limited_in_time() -> None:
    alert = raised()
    with pytest.raises(LifecycleError, match=r"at most 0:30:00"):
        snooze(alert, "nurse.a", T0, timedelta(minutes=31), max_snooze=MAX_SNOOZE)
    with pytest.raises(LifecycleError, match="more than 0"):
        snooze(alert, "nurse.a", T0, timedelta(0), max_snooze=MAX_SNOOZE)
    snoozed = snooze(alert, "nurse.a", T0, MAX_SNOOZE, max_snooze=MAX_SNOOZE)
    assert snoozed.is_snoozed(at(29))
    assert not snoozed.is_snoozed(at(30))


def test_snooze_never_silences_a_higher_priority() -> None:
    snoozed = snooze(raised(Priority.MEDIUM), "nurse.a", T0, timedelta(minutes=20), max_snooze=MAX_SNOOZE)
    upgraded, sent = propose(snoozed, request(Priority.HIGH, 5), at(5))
    assert upgraded is not None
    assert [n.kind for n in sent] == [NotificationKind.UPGRADED]
    assert not upgraded.is_snoozed(at(6))
    assert upgraded.snoozed_until is None
    assert [e.kind for e in upgraded.events][-2:] == [EventKind.UPGRADED, EventKind.SNOOZE_OVERRIDDEN]


def test_expired_snooze_is_not_reported_as_overridden() -> None:
    snoozed = snooze(raised(Priority.MEDIUM), "nurse.a", T0, timedelta(minutes=5), max_snooze=MAX_SNOOZE)
    upgraded, _ = propose(snoozed, request(Priority.HIGH, 10), at(10))
    assert upgraded is not None
    assert upgraded.events[-1].kind is EventKind.UPGRADED


def test_acknowledge_records_who_and_when() -> None:
    acked = acknowledge(raised(), "nurse.a", at(3))
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_at) == (
        AlertState.ACKNOWLEDGED,
        "nurse.a",
        at(3),
    )
    assert acked.events[-1] == AlertEvent(at(3), EventKind.ACKNOWLEDGED, Priority.MEDIUM, by="nurse.a")
    with pytest.raises(LifecycleError, match=r"already acknowledged by nurse\.a"):
        acknowledge(acked, "nurse.b", at(4))


def test_operations_on_a_resolved_alert_are_refused() -> None:
    closed = resolve(raised(), "dr.b", at(5), "seen")
    with pytest.raises(LifecycleError, match="already resolved"):
        acknowledge(closed, "nurse.a", at(6))
    with pytest.raises(LifecycleError, match="already resolved"):
        resolve(closed, "dr.b", at(6), "again")
    with pytest.raises(LifecycleError, match="already resolved"):
        snooze(closed, "nurse.a", at(6), timedelta(minutes=1), max_snooze=MAX_SNOOZE)


def test_people_and_outcomes_must_be_named() -> None:
    alert = raised()
    with pytest.raises(LifecycleError, match="name of the person"):
        acknowledge(alert, " ", T0)
    with pytest.raises(LifecycleError, match="outcome"):
        resolve(alert, "dr.b", T0, "")


def test_request_for_another_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="another patient or rule"):
        propose(raised(), request(Priority.HIGH, rule="bts"), at(1))


def test_alert_round_trips_through_json() -> None:
    alert = snooze(
        acknowledge(raised(), "nurse.a", at(1)), "nurse.a", at(2), timedelta(minutes=5), max_snooze=MAX_SNOOZE
    )
    closed = resolve(alert, "dr.b", at(3), "seen")
    for value in (raised(), alert, closed):
        assert Alert.from_dict(value.to_dict()) == value
        assert all(AlertEvent.from_dict(e.to_dict()) == e for e in value.events)


def test_alert_decoding_refuses_bad_values() -> None:
    data = raised().to_dict()
    with pytest.raises(codec.DecodeError, match="events: expected a list"):
        Alert.from_dict({**data, "events": "none"})
    with pytest.raises(codec.DecodeError, match="state: expected one of"):
        Alert.from_dict({**data, "state": "closed"})
    with pytest.raises(codec.DecodeError, match="unknown field"):
        Alert.from_dict({**data, "colour": "red"})


def test_request_from_result() -> None:
    result = RuleResult(
        "bts", Status.ALERT, Priority.MEDIUM, questionable=True, reasons=("below-target-94-98",)
    )
    made = AlertRequest.from_result("p1", result, T0)
    assert (made.measured_at, made.questionable, made.reasons) == (T0, True, ("below-target-94-98",))
    with pytest.raises(ValueError, match="only an alert result"):
        AlertRequest.from_result("p1", RuleResult("bts", Status.CLEAR), T0)


def test_book_refuses_a_second_open_alert_for_the_same_rule() -> None:
    book = AlertBook([raised(minutes=0)])
    other = raised(minutes=1)
    with pytest.raises(ValueError, match="never a duplicate"):
        book.put(other)
    closed = resolve(book.open_alerts()[0], "dr.b", at(2), "seen")
    book.put(closed)
    assert book.open_alert("p1", "o2home-band") is None
    book.put(other)
    assert book.open_alerts() == [other]
    assert book.get(closed.alert_id) == closed
    assert len(book.alerts()) == 2


def test_book_ignores_results_that_change_nothing() -> None:
    book = AlertBook()
    for status in (Status.UNSCORED, Status.NOT_APPLICABLE, Status.FAILED):
        assert book.apply("p1", RuleResult("bts", status), T0) == ()
    assert book.alerts() == []


def test_notification_prints_as_json() -> None:
    _, sent = propose(None, request(Priority.HIGH, late=True), T0)
    data = sent[0].to_dict()
    assert (data["kind"], data["priority"], data["late"], data["page"]) == ("raised", "high", True, False)
    assert data["at"] == T0.isoformat()


def test_book_keeps_a_resolved_alert_without_an_open_one() -> None:
    closed = resolve(raised(), "dr.b", at(5), "seen")
    book = AlertBook([closed])
    assert book.open_alerts() == []
    assert book.alerts() == [closed]
