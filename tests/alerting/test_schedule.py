"""Missed readings (local ladder, §1.8) and technical alerts, injected clock (alerting/schedule.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from alerting import codec
from alerting.model import Priority
from alerting.results import Status
from alerting.schedule import (
    OverdueLadder,
    OverdueStep,
    TechnicalPolicy,
    battery_low,
    gateway_offline,
    next_slot_after,
    overdue,
    parse_schedule,
    stale_data,
)

BST = timezone(timedelta(hours=1))  # a ward one hour ahead of UTC, so local and UTC differ
TIMES = parse_schedule(("09:00", "13:00", "17:00"))  # Dorset example, §1.4
ENROLLED = datetime(2026, 6, 1, 7, 0, tzinfo=BST)
# A ward's own ladder (local practice; no national rule, §1.8): prompt the patient 30 min after a missed slot,
# task a clinician at 2 h. A reading up to 15 min before a slot counts for it.
LADDER = OverdueLadder(
    (
        OverdueStep(1800, Priority.ADVISORY, "prompt-patient"),
        OverdueStep(7200, Priority.LOW, "task-clinician"),
    ),
    early_tolerance_s=900,
)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=BST)


def check(now: datetime, last_valid: datetime | None) -> tuple[Status, Priority | None, object]:
    result = overdue(
        times=TIMES, tz=BST, ladder=LADDER, monitoring_since=ENROLLED, last_valid_at=last_valid, now=now
    )
    return result.status, result.priority, result.detail.get("action")


def test_parse_schedule() -> None:
    assert (time(9), time(13), time(17)) == TIMES
    assert parse_schedule(()) == ()


def test_next_slot_in_the_ward_time_zone() -> None:
    assert next_slot_after(local(1, 8), TIMES, BST) == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
    assert next_slot_after(local(1, 9), TIMES, BST) == local(1, 13)  # strictly after
    assert next_slot_after(local(1, 18), TIMES, BST) == local(2, 9)  # next day
    with pytest.raises(ValueError, match="no times"):
        next_slot_after(local(1, 8), (), BST)


OVERDUE_TIMELINE = [
    # (now, last valid reading, expected status, priority, action)
    (local(1, 9, 29), None, Status.CLEAR, None, None),  # 29 min after the 09:00 slot
    (local(1, 9, 30), None, Status.ALERT, Priority.ADVISORY, "prompt-patient"),  # 30 min: first step
    (local(1, 10, 59), None, Status.ALERT, Priority.ADVISORY, "prompt-patient"),
    (local(1, 11, 0), None, Status.ALERT, Priority.LOW, "task-clinician"),  # 2 h: second step
    (local(1, 13, 29), local(1, 8, 45), Status.CLEAR, None, None),  # 08:45 covers 09:00; 13:00 not due
    (local(1, 13, 30), local(1, 8, 44), Status.ALERT, Priority.LOW, "task-clinician"),  # 08:44 is too early
    (local(1, 13, 30), local(1, 9, 10), Status.ALERT, Priority.ADVISORY, "prompt-patient"),  # 13:00 missed
    (local(1, 13, 29), local(1, 9, 10), Status.CLEAR, None, None),
    (local(2, 8, 0), local(1, 17, 5), Status.CLEAR, None, None),  # overnight: next slot is tomorrow 09:00
]


@pytest.mark.parametrize(("now", "last_valid", "status", "priority", "action"), OVERDUE_TIMELINE)
def test_overdue_timing(
    now: datetime, last_valid: datetime | None, status: Status, priority: Priority | None, action: str | None
) -> None:
    assert check(now, last_valid) == (status, priority, action)


def test_overdue_detail_names_the_slot() -> None:
    result = overdue(
        times=TIMES, tz=BST, ladder=LADDER, monitoring_since=ENROLLED, last_valid_at=None, now=local(1, 10)
    )
    assert result.technical
    assert result.detail["slot"] == codec.dt_out(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    assert result.detail["overdue_s"] == 3600
    assert result.detail["step"] == 0


def test_slots_before_enrolment_are_not_missed() -> None:
    since = local(1, 9, 5)  # enrolled just after the 09:00 slot
    result = overdue(
        times=TIMES, tz=BST, ladder=LADDER, monitoring_since=since, last_valid_at=None, now=local(1, 12)
    )
    assert result.status is Status.CLEAR


def test_no_schedule_means_not_applicable() -> None:
    result = overdue(
        times=(), tz=BST, ladder=LADDER, monitoring_since=ENROLLED, last_valid_at=None, now=local(1, 12)
    )
    assert result.status is Status.NOT_APPLICABLE


@pytest.mark.parametrize(
    ("ladder", "why"),
    [
        (OverdueLadder(()), "at least one step"),
        (OverdueLadder((OverdueStep(60, Priority.LOW, "x"),), early_tolerance_s=-1), "must not be negative"),
        (OverdueLadder((OverdueStep(0, Priority.LOW, "x"),)), "must be positive"),
        (OverdueLadder((OverdueStep(60, Priority.LOW, ""),)), "name its action"),
        (
            OverdueLadder((OverdueStep(60, Priority.LOW, "a"), OverdueStep(60, Priority.LOW, "b"))),
            "increasing order",
        ),
        (
            OverdueLadder((OverdueStep(60, Priority.LOW, "a"), OverdueStep(120, Priority.ADVISORY, "b"))),
            "lower priority",
        ),
    ],
)
def test_bad_overdue_ladders_are_refused(ladder: OverdueLadder, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        ladder.validate()


def test_overdue_ladder_round_trips() -> None:
    LADDER.validate()
    assert OverdueLadder.from_dict(LADDER.to_dict()) == LADDER
    assert (
        OverdueLadder.from_dict(
            {"steps": [{"after_s": 60, "priority": "low", "action": "a"}]}
        ).early_tolerance_s
        == 0
    )


POLICY = TechnicalPolicy(gateway_offline_after_s=300, stale_after_s=900, battery_low_percent=20)


@pytest.mark.parametrize(
    ("online", "down_s", "status"),
    [(False, 299, Status.CLEAR), (False, 300, Status.ALERT), (True, 3600, Status.CLEAR)],
)
def test_gateway_offline_after_grace(online: bool, down_s: float, status: Status) -> None:
    since = local(1, 9)
    result = gateway_offline(online=online, since=since, now=since + timedelta(seconds=down_s), policy=POLICY)
    assert result.status is status
    assert result.technical
    if status is Status.ALERT:
        assert result.priority is Priority.LOW


@pytest.mark.parametrize(
    ("last", "now", "status"),
    [
        (local(1, 9), local(1, 9, 14), Status.CLEAR),
        (local(1, 9), local(1, 9, 15), Status.ALERT),
        (None, local(1, 7, 14), Status.CLEAR),  # never read yet: counted from enrolment
        (None, local(1, 7, 15), Status.ALERT),
        (local(1, 6), local(1, 7, 14), Status.CLEAR),  # a reading before enrolment does not count back
    ],
)
def test_stale_data(last: datetime | None, now: datetime, status: Status) -> None:
    result = stale_data(last_reading_at=last, monitoring_since=ENROLLED, now=now, policy=POLICY)
    assert result.status is status
    assert result.priority is (Priority.LOW if status is Status.ALERT else None)


@pytest.mark.parametrize(
    ("level", "status"),
    [(19.9, Status.ALERT), (20, Status.CLEAR), (None, Status.NOT_APPLICABLE)],
)
def test_battery_low(level: float | None, status: Status) -> None:
    result = battery_low(level_percent=level, measured_at=local(1, 9), policy=POLICY)
    assert result.status is status
    assert result.priority is (Priority.ADVISORY if status is Status.ALERT else None)


@pytest.mark.parametrize(
    ("policy", "why"),
    [
        (TechnicalPolicy(-1, 900, 20), "gateway_offline_after_s"),
        (TechnicalPolicy(300, 0, 20), "stale_after_s"),
        (TechnicalPolicy(300, 900, 0), "battery_low_percent"),
        (TechnicalPolicy(300, 900, 100), "battery_low_percent"),
    ],
)
def test_bad_technical_policies_are_refused(policy: TechnicalPolicy, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        policy.validate()
    POLICY.validate()
