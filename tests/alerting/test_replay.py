"""Replay a proposed plan over stored history: how many alerts would it have raised (alerting/replay.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerting.careplan import BandThresholds, CarePlan, RulePack
from alerting.continuous import ContinuousSettings
from alerting.manual import ManualObservation, ManualParameter
from alerting.model import Mode, Observation, Priority
from alerting.replay import compare, replay

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PROBE_OFF = 1 << 11


def spot(hours: float, spo2: float, ds: int | None = None) -> Observation:
    return Observation(T0 + timedelta(hours=hours), spo2, 80.0, Mode.SPOT_CHECK, None, ds)


# Three days of thrice-daily readings for a patient who dips to amber twice and to red once.
HISTORY = {
    "p1": [
        spot(0, 96),
        spot(4, 94),
        spot(8, 96),  # amber episode, self-resolving (medium is non-latching)
        spot(24, 95),
        spot(28, 92),
        spot(32, 96),  # red episode: latches, replay assumes resolved at all-clear
        spot(48, 93),
        spot(52, 96),
        spot(56, 97),  # amber again
    ],
    "p2": [spot(0, 97), spot(4, 80, ds=PROBE_OFF), spot(8, 97)],  # one technical advisory
}


def test_replay_counts_alerts_by_priority_rule_and_kind() -> None:
    report = replay(HISTORY, CarePlan())
    assert (report.patients, report.readings) == (2, 12)
    assert report.alerts_raised == 4
    assert report.by_rule == {"o2home-band": 3, "signal-quality": 1}
    assert report.by_priority == {"medium": 2, "high": 1, "advisory": 1}
    assert (report.technical, report.physiological) == (1, 3)
    assert report.upgrades == 0
    assert report.pages == 4
    assert report.notifications == 8  # 4 raised + 3 all-clears + 1 latched condition-cleared
    assert all(not a.is_open for a in report.alerts)
    assert report.to_dict()["alerts_raised"] == 4


def test_without_assumed_resolution_a_latched_alert_hides_later_episodes() -> None:
    history = {"p1": [spot(0, 92), spot(4, 96), spot(8, 91), spot(12, 96)]}
    assert replay(history, CarePlan()).alerts_raised == 2
    kept = replay(history, CarePlan(), resolve_latched_on_clear=False)
    assert kept.alerts_raised == 1
    assert kept.alerts[0].is_open


def test_compare_a_proposed_personalised_threshold() -> None:
    proposed = CarePlan(thresholds=BandThresholds(green_from=93, amber_from=90))
    result = compare(HISTORY, CarePlan(), proposed)
    assert result["alerts_change"] == -2  # both amber episodes disappear; the red (92) becomes amber
    assert result["pages_change"] == -2
    current, after = result["current"], result["proposed"]
    assert isinstance(current, dict)
    assert isinstance(after, dict)
    assert after["by_priority"] == {"medium": 1, "advisory": 1}


def test_replay_in_continuous_mode_shows_the_effect_of_persistence() -> None:
    readings = [
        Observation(T0 + timedelta(seconds=s), 91.0 if (s // 10) % 2 == 0 else 97.0, 80.0, Mode.CONTINUOUS)
        for s in range(120)
    ]  # ten-second dips to red, six times
    no_delay = CarePlan(continuous=ContinuousSettings(persistence_s=0, hysteresis=0))
    assert replay({"p1": readings}, no_delay).alerts_raised == 6
    assert replay({"p1": readings}, CarePlan()).alerts_raised == 0  # the 15 s default rides them out


def test_per_patient_plans_and_manual_observations() -> None:
    manual = {"p1": [ManualObservation(ManualParameter.RESPIRATION_RATE, 26, T0 - timedelta(hours=1))]}
    plans = {
        "p1": CarePlan(rule_pack=RulePack.NEWS2_SCALE1),
        "p2": CarePlan(rule_pack=RulePack.BTS_94_98),
    }
    report = replay({"p1": [spot(0, 97)], "p2": [spot(0, 93)]}, plans, manual=manual)
    assert report.by_rule == {"news2": 1, "bts": 1}
    assert report.by_priority == {"medium": 2}  # respiration 26 scores 3 (single parameter); BTS below target


def test_upgrades_are_counted() -> None:
    report = replay({"p1": [spot(0, 94), spot(1, 90)]}, CarePlan())
    assert (report.alerts_raised, report.upgrades) == (1, 1)
    assert report.alerts[0].priority is Priority.HIGH
