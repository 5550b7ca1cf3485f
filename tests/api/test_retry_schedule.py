"""The retry schedule both delivery workers use (api/retry_schedule.py): 10 s × 2^(attempt−1), at most
600 s for notifications (docs/notifications.md), ±10 % jitter."""

from __future__ import annotations

import random

import pytest

from api.retry_schedule import JITTER, Backoff

NOTIFY = Backoff(10.0, 600.0)


def exact(low: float, high: float) -> float:
    """The middle of the jitter range: the delay without jitter."""
    return (low + high) / 2


def test_delays_double_from_the_base_until_the_cap() -> None:
    delays = [NOTIFY.delay_s(n, exact) for n in range(1, 10)]
    assert delays == pytest.approx([10, 20, 40, 80, 160, 320, 600, 600, 600])


def test_jitter_is_ten_percent_either_way() -> None:
    assert NOTIFY.delay_s(3, lambda low, _high: low) == pytest.approx(36.0)
    assert NOTIFY.delay_s(3, lambda _low, high: high) == pytest.approx(44.0)
    drawn = {NOTIFY.delay_s(3) for _ in range(200)}
    assert all(36.0 <= d <= 44.0 for d in drawn)
    assert len(drawn) > 100  # spread, not one fixed delay


def test_delays_grow_even_with_the_worst_jitter_until_the_cap() -> None:
    for n in range(1, 6):  # 10 .. 160 s: the next, jittered down, is still later than this, jittered up
        assert NOTIFY.delay_s(n + 1, lambda low, _high: low) > NOTIFY.delay_s(n, lambda _low, high: high)
    capped = [NOTIFY.delay_s(n, lambda _low, high: high) for n in (7, 12, 40)]
    assert capped == pytest.approx([600 * (1 + JITTER)] * 3)


def test_the_due_time_counts_from_the_clock_given() -> None:
    now = 1_767_000_000.25
    assert NOTIFY.due_ms(1, now, exact) == 1_767_000_010_250
    assert NOTIFY.due_ms(4, now, exact) == 1_767_000_080_250
    later = [NOTIFY.due_ms(n, now, random.uniform) for n in range(1, 7)]
    assert later == sorted(later)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        NOTIFY.delay_s(0)
