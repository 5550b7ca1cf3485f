"""Ward queue ordering: which patient a clinician should look at first. Pure, no I/O.

Order (docs: clinical-rules.md §5.1, IEC 60601-1-8 priorities high / medium / low, with
technical "advisory" alerts at the lowest grade):

1. by the priority of the patient's worst open alert: high, medium, low, advisory, then
   patients with no open alert;
2. within one priority, the alert that has waited longest first (oldest ``raised_at``);
3. then by the ward-local reference in natural order ("Bed 2" before "Bed 10");
4. then by patient id, so the order is total and stable across refreshes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

#: Rank of each open-alert priority; lower is more urgent.
PRIORITY_RANK: dict[str, int] = {"high": 0, "medium": 1, "low": 2, "advisory": 3}
#: An open alert of a priority this module does not know still ranks above "no alert":
#: an unknown priority must never hide a patient at the bottom of the list.
UNKNOWN_PRIORITY_RANK = len(PRIORITY_RANK)
NO_ALERT_RANK = UNKNOWN_PRIORITY_RANK + 1

_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class QueueKey:
    """What the ordering looks at for one patient."""

    patient_id: str
    ref: str
    #: Priority of the worst open alert, or None when the patient has no open alert.
    priority: str | None = None
    #: When that alert was raised (timezone-aware), or None.
    raised_at: datetime | None = None


def priority_rank(priority: str | None) -> int:
    if priority is None:
        return NO_ALERT_RANK
    return PRIORITY_RANK.get(priority, UNKNOWN_PRIORITY_RANK)


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key comparing digit runs as numbers and the rest case-insensitively."""
    parts: list[tuple[int, int, str]] = []
    for i, part in enumerate(_DIGITS.split(text)):
        if not part:
            continue
        # Odd indices of re.split with one group are the captured digit runs.
        parts.append((0, int(part), "") if i % 2 else (1, 0, part.casefold()))
    return tuple(parts)


def sort_key(entry: QueueKey) -> tuple[int, float, tuple[tuple[int, int, str], ...], str]:
    rank = priority_rank(entry.priority)
    # A patient with an open alert but no raise time waits "forever": sorts first of its rank.
    waited_since = entry.raised_at.timestamp() if entry.raised_at is not None else float("-inf")
    if rank == NO_ALERT_RANK:
        waited_since = 0.0
    return (rank, waited_since, natural_key(entry.ref), entry.patient_id)


_K = TypeVar("_K", bound=QueueKey)


def order_queue(entries: Iterable[_K]) -> list[_K]:
    """The entries in ward-queue order (see the module docstring)."""
    return sorted(entries, key=sort_key)
