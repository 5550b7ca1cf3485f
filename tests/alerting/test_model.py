"""Priority order (IEC 60601-1-8 high/medium/low + advisory, clinical-rules.md §5.1)."""

from __future__ import annotations

import pytest

from alerting.model import Priority


def test_priorities_order_by_urgency() -> None:
    assert Priority.HIGH > Priority.MEDIUM > Priority.LOW > Priority.ADVISORY
    assert sorted([Priority.LOW, Priority.HIGH, Priority.ADVISORY, Priority.MEDIUM]) == [
        Priority.ADVISORY,
        Priority.LOW,
        Priority.MEDIUM,
        Priority.HIGH,
    ]
    assert max(Priority) is Priority.HIGH
    assert Priority.MEDIUM >= Priority.MEDIUM
    assert [p.rank for p in Priority] == [3, 2, 1, 0]


def test_priority_does_not_compare_with_other_types() -> None:
    with pytest.raises(TypeError):
        _ = Priority.HIGH < "medium"
