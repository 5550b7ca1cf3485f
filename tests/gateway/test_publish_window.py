"""The publisher's window bookkeeping, including answers that arrive before paho returns the mid."""

from __future__ import annotations

from gateway.publish_window import STATUS, PublishWindow


def test_an_acknowledged_row_is_handed_back_for_deletion() -> None:
    window = PublishWindow(4)
    window.track(1, 10)
    assert window.rows() == 1
    assert window.acknowledge(1) == 10
    assert (window.rows(), window.take_acked(), window.take_acked()) == (0, [10], [])


def test_a_refused_row_leaves_the_window_but_is_not_deleted() -> None:
    window = PublishWindow(4)
    window.track(1, 10)
    window.track(2, STATUS)
    assert window.refuse(1) == 10
    assert window.refuse(2) == STATUS
    assert (window.rows(), window.take_acked()) == (0, [])


def test_answers_that_beat_the_mid_are_applied_when_it_is_tracked() -> None:
    window = PublishWindow(4)
    assert window.acknowledge(5) is None
    assert window.refuse(6) is None
    window.track(5, 50)
    window.track(6, 60)
    assert (window.rows(), window.take_acked()) == (0, [50])
    window.track(6, 61)  # mids are reused: the early refusal was used up once
    assert window.rows() == 1
