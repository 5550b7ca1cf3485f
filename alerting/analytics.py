"""Alert burden per ward over a period: is the ward being flooded, and by what?

Measures from the alarm-fatigue literature (clinical-rules.md §5.3):
- alerts per patient-day (the unit S-TAENZER reports outcomes in), by priority and by rule;
- technical vs physiological share (§5.3 item 3: technical noise is the main fatigue risk at home);
- time to acknowledge, median and 90th percentile (nearest-rank);
- the share of alerts coming from the top 10 % of patients: in MIMIC-II it was 57.4 % at 90 %/15 s
  and 81.6 % at 84 %/45 s (S-LANS16), so a high share says a few patients' plans need tuning.

Pure: the caller passes the alerts and the enrolments; alerts count in the period they were raised.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerting import codec
from alerting.alerts import Alert, EventKind

#: §5.3 (S-LANS16): the concentration measure uses the top 10 % of patients.
TOP_FRACTION = 0.10
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A patient monitored from `start` until `end` (None: still monitored)."""

    patient_id: str
    start: datetime
    end: datetime | None = None

    def days_within(self, start: datetime, end: datetime) -> float:
        lo = max(self.start, start)
        hi = end if self.end is None else min(self.end, end)
        return max((hi - lo) / DAY, 0.0)


@dataclass(frozen=True, slots=True)
class AlertBurden:
    start: datetime
    end: datetime
    patients: int
    patient_days: float
    alerts: int
    by_priority: dict[str, int]
    by_rule: dict[str, int]
    per_patient_day: float | None
    per_patient_day_by_priority: dict[str, float]
    per_patient_day_by_rule: dict[str, float]
    technical_share: float | None
    physiological_share: float | None
    acknowledged: int
    ack_median_s: float | None
    ack_p90_s: float | None
    top_decile_share: float | None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["start"], out["end"] = codec.dt_out(self.start), codec.dt_out(self.end)
        return out


def nearest_rank(values: Iterable[float], fraction: float) -> float | None:
    """The nearest-rank percentile (the smallest value with at least `fraction` of values at or below it)."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def time_to_acknowledge(alert: Alert) -> float | None:
    """Seconds from raising to the first acknowledgement, None if never acknowledged."""
    first = next((e.at for e in alert.events if e.kind is EventKind.ACKNOWLEDGED), alert.acknowledged_at)
    return None if first is None else (first - alert.raised_at).total_seconds()


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def top_share(counts: Counter[str], population: int, fraction: float = TOP_FRACTION) -> float | None:
    """Share of all alerts raised by the `fraction` of patients with the most alerts (at least one)."""
    total = sum(counts.values())
    if total == 0:
        return None
    top = max(math.ceil(fraction * population), 1)
    return sum(count for _, count in counts.most_common(top)) / total


def alert_burden(
    alerts: Iterable[Alert], enrolments: Iterable[Enrolment], start: datetime, end: datetime
) -> AlertBurden:
    """Burden of the alerts raised in [start, end) for one ward's enrolments."""
    if end <= start:
        raise ValueError("the period must end after it starts")
    enrolled = list(enrolments)
    counted = [a for a in alerts if start <= a.raised_at < end]
    patient_days = sum(e.days_within(start, end) for e in enrolled)
    population = {e.patient_id for e in enrolled if e.days_within(start, end) > 0} | {
        a.patient_id for a in counted
    }
    by_priority = Counter(a.priority.value for a in counted)
    by_rule = Counter(a.rule for a in counted)
    technical = sum(1 for a in counted if a.technical)
    acks = [t for a in counted if (t := time_to_acknowledge(a)) is not None]

    def rate(count: int) -> float:
        return count / patient_days

    return AlertBurden(
        start=start,
        end=end,
        patients=len(population),
        patient_days=patient_days,
        alerts=len(counted),
        by_priority=dict(by_priority),
        by_rule=dict(by_rule),
        per_patient_day=rate(len(counted)) if patient_days else None,
        per_patient_day_by_priority={k: rate(v) for k, v in by_priority.items()} if patient_days else {},
        per_patient_day_by_rule={k: rate(v) for k, v in by_rule.items()} if patient_days else {},
        technical_share=_share(technical, len(counted)),
        physiological_share=_share(len(counted) - technical, len(counted)),
        acknowledged=len(acks),
        ack_median_s=statistics.median(acks) if acks else None,
        ack_p90_s=nearest_rank(acks, 0.9),
        top_decile_share=top_share(Counter(a.patient_id for a in counted), len(population)),
    )
