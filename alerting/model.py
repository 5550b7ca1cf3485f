"""Values the clinical rules work on. Standard library only; no clock, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from functools import total_ordering


@total_ordering
class Priority(Enum):
    """Alarm priority, most urgent first (IEC 60601-1-8 high/medium/low, clinical-rules.md §5.1),
    plus `advisory` below low for technical notices (the lowest grade device manuals use).

    Ordered by urgency: `Priority.HIGH > Priority.MEDIUM`. (A plain Enum, not a str one, so that
    `<` cannot silently compare the names alphabetically.)
    """

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    ADVISORY = "advisory"

    @property
    def rank(self) -> int:
        """Higher is more urgent: high 3, medium 2, low 1, advisory 0."""
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Priority):
            return NotImplemented
        return self.rank < other.rank


_RANK = {Priority.HIGH: 3, Priority.MEDIUM: 2, Priority.LOW: 1, Priority.ADVISORY: 0}


class Band(StrEnum):
    """CO@h RAG band (clinical-rules.md §1.2)."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class Mode(StrEnum):
    SPOT_CHECK = "spot-check"
    CONTINUOUS = "continuous"


class QualityLevel(StrEnum):
    SCORABLE = "scorable"
    QUESTIONABLE = "questionable"
    UNSCORABLE = "unscorable"


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Observation:
    """One pulse-oximeter reading as the rules see it (units: %, beats/min)."""

    measured_at: datetime
    spo2: float | None
    pulse: float | None
    mode: Mode
    #: PLX Measurement Status (16 bits) and Device and Sensor Status (24 bits), None when not sent.
    measurement_status: int | None = None
    device_sensor_status: int | None = None
    perfusion_index: float | None = None
    device_clock_not_set: bool = False


@dataclass(frozen=True, slots=True)
class Quality:
    level: QualityLevel
    #: Why the level is below scorable, e.g. ("probe-off", "low-perfusion"); empty when scorable.
    reasons: tuple[str, ...] = ()
    #: Facts that do not change the level but belong on the record, e.g. "from-storage".
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertSnapshot:
    """What a rule needs to know about the patient's open (not resolved) alert for that rule."""

    alert_id: str
    priority: Priority
    state: AlertState
    band: Band | None = None
