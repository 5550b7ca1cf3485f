"""The ward queue's ordering (api/queue.py), a pure function."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from api.queue import QueueKey, natural_key, order_queue

T0 = datetime(2025, 1, 14, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ids(entries: list[QueueKey]) -> list[str]:
    return [e.patient_id for e in entries]


def test_priority_first_then_oldest_raised_then_no_alert_by_ref() -> None:
    entries = [
        QueueKey("quiet-b10", "Bed 10"),
        QueueKey("low-late", "Bed 1", "low", at(50)),
        QueueKey("high-new", "Bed 7", "high", at(40)),
        QueueKey("advisory", "Bed 2", "advisory", at(0)),
        QueueKey("medium-old", "Bed 9", "medium", at(5)),
        QueueKey("quiet-b2", "Bed 2"),
        QueueKey("high-old", "Bed 8", "high", at(10)),
        QueueKey("medium-new", "Bed 3", "medium", at(30)),
    ]
    assert ids(order_queue(entries)) == [
        "high-old",  # high before medium, and the oldest high first
        "high-new",
        "medium-old",
        "medium-new",
        "low-late",
        "advisory",
        "quiet-b2",  # no open alert: last, natural order of the reference
        "quiet-b10",
    ]


def test_ties_in_priority_and_time_fall_back_to_ref_then_patient_id() -> None:
    same = at(15)
    entries = [
        QueueKey("p-c", "Bed 2", "high", same),
        QueueKey("p-b", "Bed 11", "high", same),
        QueueKey("p-a", "Bed 2", "high", same),
    ]
    assert ids(order_queue(entries)) == ["p-a", "p-c", "p-b"]


def test_order_is_total_and_independent_of_input_order() -> None:
    entries = [
        QueueKey(f"p-{i}", f"Bed {i % 5}", [None, "high", "medium", "low", "advisory"][i % 5], at(i % 3))
        for i in range(40)
    ]
    entries = [e if e.priority else QueueKey(e.patient_id, e.ref) for e in entries]
    expected = order_queue(entries)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = entries[:]
        rng.shuffle(shuffled)
        assert order_queue(shuffled) == expected


def test_unknown_priority_stays_above_patients_without_alerts() -> None:
    entries = [
        QueueKey("none", "Bed 1"),
        QueueKey("odd", "Bed 9", "critical", at(0)),
        QueueKey("adv", "Bed 5", "advisory", at(0)),
    ]
    assert ids(order_queue(entries)) == ["adv", "odd", "none"]


def test_open_alert_without_raise_time_sorts_first_within_its_priority() -> None:
    entries = [QueueKey("timed", "Bed 1", "high", at(0)), QueueKey("untimed", "Bed 2", "high", None)]
    assert ids(order_queue(entries)) == ["untimed", "timed"]


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        (["Bed 10", "Bed 2", "Bed 1"], ["Bed 1", "Bed 2", "Bed 10"]),
        (["bay b", "Bay A", "bay a2"], ["Bay A", "bay a2", "bay b"]),
        (["7", "10", "Room 3"], ["7", "10", "Room 3"]),
    ],
)
def test_natural_order_of_references(refs: list[str], expected: list[str]) -> None:
    assert sorted(refs, key=natural_key) == expected
