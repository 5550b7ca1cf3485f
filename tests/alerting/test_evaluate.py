"""Rule o2home-band: raise, upgrade in place, latch, quality and lateness (alerting/evaluate.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerting.evaluate import RULE, Action, evaluate
from alerting.model import AlertSnapshot, AlertState, Band, Mode, Observation, Priority, QualityLevel

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LOW_PERFUSION = 1 << 5
PROBE_OFF = 1 << 11


def obs(
    spo2: float | None,
    *,
    ago: timedelta = timedelta(seconds=5),
    ds: int | None = None,
    ms: int | None = None,
    mode: Mode = Mode.SPOT_CHECK,
) -> Observation:
    return Observation(NOW - ago, spo2, 80.0, mode, ms, ds)


def alert(priority: Priority, state: AlertState = AlertState.OPEN) -> AlertSnapshot:
    return AlertSnapshot("a1", priority, state, Band.AMBER if priority is Priority.MEDIUM else Band.RED)


@pytest.mark.parametrize(
    ("spo2", "action", "band", "priority"),
    [
        (100, Action.NONE, Band.GREEN, None),
        (95, Action.NONE, Band.GREEN, None),
        (94.9, Action.RAISE, Band.AMBER, Priority.MEDIUM),
        (94, Action.RAISE, Band.AMBER, Priority.MEDIUM),
        (93, Action.RAISE, Band.AMBER, Priority.MEDIUM),
        (92.9, Action.RAISE, Band.RED, Priority.HIGH),
        (92, Action.RAISE, Band.RED, Priority.HIGH),
        (70, Action.RAISE, Band.RED, Priority.HIGH),
    ],
)
def test_no_open_alert(spo2: float, action: Action, band: Band, priority: Priority | None) -> None:
    d = evaluate(obs(spo2), None, NOW)
    assert (d.action, d.band, d.priority) == (action, band, priority)
    assert d.rule == RULE == "o2home-band"
    assert not d.late
    assert not d.questionable
    assert d.reasons == ()


def test_red_upgrades_an_open_amber_alert_in_place() -> None:
    d = evaluate(obs(92), alert(Priority.MEDIUM), NOW)
    assert (d.action, d.priority, d.band) == (Action.UPGRADE, Priority.HIGH, Band.RED)


def test_red_upgrades_an_acknowledged_amber_alert() -> None:
    d = evaluate(obs(90), alert(Priority.MEDIUM, AlertState.ACKNOWLEDGED), NOW)
    assert (d.action, d.priority) == (Action.UPGRADE, Priority.HIGH)


@pytest.mark.parametrize("spo2", [99, 95, 94, 93])
def test_better_readings_never_downgrade_an_open_red_alert(spo2: float) -> None:
    d = evaluate(obs(spo2), alert(Priority.HIGH), NOW)
    assert (d.action, d.priority) == (Action.KEEP, Priority.HIGH)


@pytest.mark.parametrize("spo2", [94, 88])
def test_same_or_lower_band_is_not_duplicated(spo2: float) -> None:
    open_alert = alert(Priority.MEDIUM if spo2 == 94 else Priority.HIGH)
    d = evaluate(obs(spo2), open_alert, NOW)
    assert (d.action, d.priority) == (Action.KEEP, open_alert.priority)


def test_green_keeps_an_open_amber_alert_latched() -> None:
    d = evaluate(obs(98), alert(Priority.MEDIUM), NOW)
    assert (d.action, d.priority, d.band) == (Action.KEEP, Priority.MEDIUM, Band.GREEN)


def test_a_red_reading_upgrades_a_low_technical_alert_snapshot() -> None:
    d = evaluate(obs(91), AlertSnapshot("t", Priority.LOW, AlertState.OPEN), NOW)
    assert d.action is Action.UPGRADE


@pytest.mark.parametrize("open_alert", [None, AlertSnapshot("a1", Priority.MEDIUM, AlertState.OPEN)])
def test_unscorable_never_drives_the_band(open_alert: AlertSnapshot | None) -> None:
    d = evaluate(obs(80, ds=PROBE_OFF), open_alert, NOW)
    assert d.action is Action.UNSCORED
    assert (d.band, d.priority, d.questionable) == (None, None, False)
    assert d.reasons == ("probe-off",)
    assert d.quality.level is QualityLevel.UNSCORABLE


def test_no_value_is_unscored() -> None:
    d = evaluate(obs(None), None, NOW)
    assert (d.action, d.reasons) == (Action.UNSCORED, ("no-spo2",))


def test_questionable_red_still_raises_marked_questionable() -> None:
    d = evaluate(obs(90, ds=LOW_PERFUSION), None, NOW)
    assert (d.action, d.priority, d.questionable) == (Action.RAISE, Priority.HIGH, True)
    assert d.quality.reasons == ("low-perfusion",)


def test_questionable_red_upgrades_marked_questionable() -> None:
    d = evaluate(obs(92, ms=1 << 14), alert(Priority.MEDIUM), NOW)
    assert (d.action, d.questionable) == (Action.UPGRADE, True)


@pytest.mark.parametrize(("spo2", "band"), [(94, Band.AMBER), (93, Band.AMBER), (97, Band.GREEN)])
def test_questionable_amber_or_green_does_not_escalate(spo2: float, band: Band) -> None:
    d = evaluate(obs(spo2, ds=LOW_PERFUSION), None, NOW)
    assert (d.action, d.band, d.priority, d.questionable) == (Action.UNSCORED, band, None, True)
    assert d.reasons == ("low-perfusion", "questionable-not-red")


def test_late_reading_is_judged_on_its_value_and_marked_late() -> None:
    d = evaluate(obs(92, ago=timedelta(hours=3)), None, NOW)
    assert (d.action, d.priority, d.late) == (Action.RAISE, Priority.HIGH, True)


@pytest.mark.parametrize(
    ("ago", "late"),
    [
        (timedelta(minutes=10), False),
        (timedelta(minutes=10, milliseconds=1), True),
        (-timedelta(seconds=2), False),
    ],
)
def test_lateness_boundary(ago: timedelta, late: bool) -> None:
    assert evaluate(obs(97, ago=ago), None, NOW).late is late


def test_late_threshold_is_a_parameter() -> None:
    d = evaluate(obs(97, ago=timedelta(minutes=2)), None, NOW, late_after=timedelta(minutes=1))
    assert d.late


def test_late_unscorable_is_still_marked_late() -> None:
    d = evaluate(obs(None, ago=timedelta(days=1)), None, NOW)
    assert (d.action, d.late) == (Action.UNSCORED, True)


def test_continuous_measurement_ongoing_is_scored() -> None:
    d = evaluate(obs(93, ms=(1 << 5) | (1 << 8), mode=Mode.CONTINUOUS), None, NOW)
    assert (d.action, d.priority) == (Action.RAISE, Priority.MEDIUM)
