"""Alert burden per ward over a period (alerting/analytics.py; measures from clinical-rules.md §5.3)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from alerting.alerts import Alert, AlertRequest
from alerting.analytics import Enrolment, alert_burden, nearest_rank, time_to_acknowledge, top_share
from alerting.lifecycle import acknowledge, propose, resolve
from alerting.model import Priority

START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(days=10)


def alert(
    patient: str,
    minutes: float,
    priority: Priority = Priority.MEDIUM,
    *,
    rule: str = "o2home-band",
    technical: bool = False,
    ack_after_s: float | None = None,
) -> Alert:
    raised_at = START + timedelta(minutes=minutes)
    made = propose(
        None, AlertRequest(patient, rule, priority, raised_at, technical=technical), raised_at
    ).alert
    assert made is not None
    if ack_after_s is not None:
        made = acknowledge(made, "nurse.a", raised_at + timedelta(seconds=ack_after_s))
    return made


def test_nearest_rank_percentile() -> None:
    assert nearest_rank([], 0.9) is None
    assert nearest_rank([5.0], 0.9) == 5.0
    assert nearest_rank([float(v) for v in range(1, 11)], 0.9) == 9.0
    assert nearest_rank([float(v) for v in range(1, 12)], 0.9) == 10.0
    assert nearest_rank([3.0, 1.0, 2.0], 0.0) == 1.0


def test_time_to_acknowledge_uses_the_first_acknowledgement() -> None:
    acked = alert("p1", 0, ack_after_s=120)
    upgraded = propose(
        acked, AlertRequest("p1", "o2home-band", Priority.HIGH, START), START + timedelta(minutes=5)
    ).alert
    assert upgraded is not None
    assert upgraded.acknowledged_at is None  # the upgrade asked for a new acknowledgement...
    assert time_to_acknowledge(upgraded) == 120  # ...but the first one is still when someone first responded
    assert time_to_acknowledge(alert("p1", 0)) is None


def test_top_share() -> None:
    counts = Counter({"a": 6, "b": 2, "c": 1, "d": 1})
    assert top_share(counts, population=10) == 0.6  # top 10 % of 10 patients = 1 patient
    assert top_share(counts, population=20) == 0.8  # 2 patients
    assert top_share(Counter(), population=5) is None


def test_alert_burden_for_a_ward() -> None:
    enrolments = [Enrolment(f"p{i}", START) for i in range(1, 10)] + [
        Enrolment("p10", START - timedelta(days=5), START + timedelta(days=5)),  # half the period
        Enrolment("old", START - timedelta(days=20), START - timedelta(days=10)),  # before the period
    ]
    alerts = [
        alert("p1", 10, Priority.HIGH, ack_after_s=60),
        alert("p1", 100, Priority.HIGH, ack_after_s=300),
        alert("p1", 200, Priority.MEDIUM, ack_after_s=120),
        alert("p1", 300, Priority.MEDIUM),
        alert("p1", 400, Priority.LOW, rule="news2"),
        alert("p2", 10, Priority.ADVISORY, rule="signal-quality", technical=True, ack_after_s=600),
        alert("p3", 10, Priority.LOW, rule="gateway-offline", technical=True),
        alert("p10", 10, Priority.MEDIUM, ack_after_s=30),
        alert("p2", -10, Priority.HIGH),  # before the period
        alert("p2", 10 * 24 * 60, Priority.HIGH),  # at the end: outside [start, end)
    ]
    burden = alert_burden(alerts, enrolments, START, END)
    assert burden.patients == 10
    assert burden.patient_days == pytest.approx(9 * 10 + 5)
    assert burden.alerts == 8
    assert burden.by_priority == {"high": 2, "medium": 3, "low": 2, "advisory": 1}
    assert burden.by_rule == {"o2home-band": 5, "news2": 1, "signal-quality": 1, "gateway-offline": 1}
    assert burden.per_patient_day == pytest.approx(8 / 95)
    assert burden.per_patient_day_by_priority["high"] == pytest.approx(2 / 95)
    assert burden.per_patient_day_by_rule["news2"] == pytest.approx(1 / 95)
    assert burden.technical_share == pytest.approx(2 / 8)
    assert burden.physiological_share == pytest.approx(6 / 8)
    assert burden.acknowledged == 5
    assert burden.ack_median_s == 120
    assert burden.ack_p90_s == 600
    assert burden.top_decile_share == pytest.approx(5 / 8)  # p1 is the top 10 % of 10 patients
    data = burden.to_dict()
    assert data["start"] == START.isoformat()
    assert data["alerts"] == 8


def test_empty_period() -> None:
    burden = alert_burden([], [], START, END)
    assert (burden.alerts, burden.per_patient_day, burden.technical_share) == (0, None, None)
    assert (burden.ack_median_s, burden.ack_p90_s, burden.top_decile_share) == (None, None, None)
    assert burden.per_patient_day_by_priority == {}


def test_alerts_from_patients_without_enrolment_still_count() -> None:
    resolved = resolve(alert("x", 5), "dr.b", START + timedelta(minutes=6), "seen")
    burden = alert_burden([resolved], [], START, END)
    assert (burden.alerts, burden.patients, burden.per_patient_day) == (1, 1, None)


def test_period_must_be_forward() -> None:
    with pytest.raises(ValueError, match="end after it starts"):
        alert_burden([], [], END, START)
