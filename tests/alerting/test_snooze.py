"""Snoozing at once and in a row (alerting/lifecycle.py `snooze`, issue 6.3): a running snooze is
never replaced unseen, and snoozes in a row are capped in total."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerting.alerts import Alert, AlertRequest, EventKind
from alerting.lifecycle import LifecycleError, Superseded, propose, snooze
from alerting.model import Priority

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MAX = timedelta(minutes=30)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def raised(priority: Priority = Priority.MEDIUM) -> Alert:
    alert = propose(None, AlertRequest("p1", "o2home-band", priority, T0), T0).alert
    assert alert is not None
    return alert


def snoozed_by_a(minutes: float = 10) -> Alert:
    return snooze(raised(), "nurse.a", T0, timedelta(minutes=minutes), max_snooze=MAX)


def test_two_clinicians_snoozing_at_once_the_second_is_told_who_got_there_first() -> None:
    first = snoozed_by_a()
    with pytest.raises(Superseded, match=r"already snoozed by nurse\.a until 2026-11-30T09:10:00\+00:00$"):
        snooze(first, "nurse.b", at(1), timedelta(minutes=15), max_snooze=MAX)


def test_a_snooze_seen_differently_is_not_replaced() -> None:
    first = snoozed_by_a()
    with pytest.raises(Superseded, match=r"by nurse\.a until .*09:10:00.*, not until .*09:05:00.* as seen"):
        snooze(first, "nurse.b", at(1), timedelta(minutes=15), max_snooze=MAX, seen_until=at(5))


def test_the_snooze_seen_can_be_changed_and_the_history_says_whose_it_replaced() -> None:
    first = snoozed_by_a()
    second = snooze(first, "nurse.b", at(1), timedelta(minutes=20), max_snooze=MAX, seen_until=at(10))
    assert (second.snoozed_by, second.snoozed_until, second.snoozed_since) == ("nurse.b", at(21), T0)
    assert second.events[-1].kind is EventKind.SNOOZED
    assert second.events[-1].detail == (
        "until 2026-11-30T09:21:00+00:00 (replacing nurse.a's snooze until 2026-11-30T09:10:00+00:00)"
    )


def test_snoozes_in_a_row_hold_the_alert_at_most_the_ward_maximum_in_all() -> None:
    first = snoozed_by_a()  # 09:00 -> 09:10
    second = snooze(first, "nurse.b", at(5), timedelta(minutes=25), max_snooze=MAX, seen_until=at(10))
    assert second.snoozed_until == at(30)  # exactly the maximum from when the run began
    with pytest.raises(LifecycleError, match=r"snoozed since .*09:00:00.* at most 0:30:00 in all") as err:
        snooze(second, "nurse.a", at(20), timedelta(minutes=15), max_snooze=MAX, seen_until=at(30))
    assert not isinstance(err.value, Superseded)  # a limit (422), not a race (409)
    longer = snooze(
        second, "nurse.a", at(20), timedelta(minutes=15), max_snooze=MAX, max_total=MAX * 2, seen_until=at(30)
    )
    assert (longer.snoozed_until, longer.snoozed_since) == (at(35), T0)


def test_a_snooze_after_the_last_one_ended_starts_a_new_run() -> None:
    first = snoozed_by_a(5)
    again = snooze(first, "nurse.b", at(6), MAX, max_snooze=MAX)
    assert (again.snoozed_by, again.snoozed_until, again.snoozed_since) == ("nurse.b", at(36), at(6))
    assert again.events[-1].detail == "until 2026-11-30T09:36:00+00:00"


def test_a_snooze_ended_by_an_upgrade_is_not_running() -> None:
    upgraded = propose(snoozed_by_a(), AlertRequest("p1", "o2home-band", Priority.HIGH, at(2)), at(2)).alert
    assert upgraded is not None
    assert (upgraded.snoozed_until, upgraded.snoozed_since) == (None, None)
    anew = snooze(upgraded, "nurse.b", at(3), timedelta(minutes=5), max_snooze=MAX, seen_until=at(10))
    assert (anew.snoozed_by, anew.snooze_priority, anew.snoozed_since) == ("nurse.b", Priority.HIGH, at(3))


def test_a_record_from_before_the_run_was_kept_starts_its_run_when_changed() -> None:
    old = replace(snoozed_by_a(), snoozed_since=None)
    changed = snooze(old, "nurse.b", at(4), MAX, max_snooze=MAX, seen_until=at(10))
    assert (changed.snoozed_until, changed.snoozed_since) == (at(34), at(4))


def test_the_run_survives_the_json_round_trip() -> None:
    second = snooze(snoozed_by_a(), "nurse.b", at(1), MAX / 2, max_snooze=MAX, seen_until=at(10))
    assert Alert.from_dict(second.to_dict()).snoozed_since == T0


def test_a_snooze_for_the_priority_seen_is_refused_after_an_upgrade_meanwhile() -> None:
    upgraded = propose(raised(), AlertRequest("p1", "o2home-band", Priority.HIGH, at(1)), at(1)).alert
    assert upgraded is not None
    with pytest.raises(
        Superseded,
        match=r"^cannot snooze: alert \w+ is high priority now, not medium as seen "
        r"\(upgraded at 2026-11-30T09:01:00\+00:00\); look at it again before acting$",
    ):
        snooze(upgraded, "nurse.b", at(2), MAX, max_snooze=MAX, seen_priority=Priority.MEDIUM)
    seen = snooze(upgraded, "nurse.b", at(2), MAX, max_snooze=MAX, seen_priority=Priority.HIGH)
    assert (seen.snoozed_by, seen.snooze_priority) == ("nurse.b", Priority.HIGH)
    # A priority the alert never had (no upgrade to name) is refused all the same.
    with pytest.raises(Superseded, match=r"is medium priority now, not low as seen; look at it again"):
        snooze(raised(), "nurse.b", at(2), MAX, max_snooze=MAX, seen_priority=Priority.LOW)
