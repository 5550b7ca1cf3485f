"""One ward-board row from what Redis holds about a patient. Pure: no I/O, the clock passed in.

Queue groups (issue 6): the worst open alert, high, then medium, then low or advisory (IEC 60601-1-8
priorities, technical advisories at the lowest grade, clinical-rules.md §5.1), then patients whose
only open alerts are missed readings ("overdue", alerting/schedule.py: a missing reading says less
than an abnormal one, and the ward's overdue ladder notifies people of it by itself), then
everyone else. Within a group the alert that has waited longest comes first (api/queue.py).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from alerting.careplan import CarePlan, RulePack
from alerting.schedule import OVERDUE_RULE
from api.board_schemas import (
    BoardAlert,
    BoardBand,
    BoardLink,
    BoardReading,
    BoardRow,
    BoardTrend,
    Direction,
    Rank,
)
from api.queue import natural_key
from api.reading_quality import quality_of, unusable_reasons

RANK_ORDER: dict[Rank, int] = {"high": 0, "medium": 1, "low": 2, "overdue": 3, "none": 4}
_PRIORITY_RANK: dict[str, Rank] = {"high": "high", "medium": "medium", "low": "low", "advisory": "low"}
#: A change of this many SpO2 points is a trend worth an arrow: BTS 2017 asks for clinical assessment
#: when saturation "falls by ≥3%" (clinical-rules.md §4).
TREND_POINTS = 3.0
#: Readings stored at least this long ago are the trend's reference. For spot checks (three a day,
#: §1.4) that is the previous check; for continuous wear, a quarter of an hour ago.
TREND_REFERENCE_AGE = timedelta(minutes=15)
#: Up to this many usable readings on each side: a median, so one odd value does not draw an arrow.
TREND_SAMPLES = 3
#: The newest side takes only readings this close to the newest one. Continuous wear gives three
#: within seconds; separate spot checks minutes apart (a patient re-checking a low value) are each
#: their own measurement (§1.4), so the newest check is compared alone instead of being outvoted
#: by the earlier, better ones.
TREND_NEW_SPAN = timedelta(minutes=2)


def rank_of(alert: dict[str, Any]) -> Rank:
    if alert.get("rule") == OVERDUE_RULE:
        return "overdue"
    # An unknown priority still ranks above "none": it must never hide a patient at the bottom.
    return _PRIORITY_RANK.get(str(alert.get("priority")), "low")


def group_of(alerts: Sequence[dict[str, Any]]) -> tuple[Rank, str | None]:
    """(the patient's queue group, raise time of the oldest alert in it)."""
    if not alerts:
        return "none", None
    best = min(RANK_ORDER[rank_of(a)] for a in alerts)
    in_group = [a["raised_at"] for a in alerts if RANK_ORDER[rank_of(a)] == best]
    rank = next(r for r, n in RANK_ORDER.items() if n == best)
    return rank, min(in_group, key=datetime.fromisoformat)


def sort_key(row: BoardRow) -> tuple[int, float, tuple[tuple[int, int, str], ...], str]:
    waited = row.waiting_since.timestamp() if row.waiting_since is not None else 0.0
    return (RANK_ORDER[row.rank], waited, natural_key(row.ref), row.patient_id)


def usable_spo2(reading: dict[str, Any]) -> float | None:
    """The reading's SpO2 if the alerting would score it (questionable still counts, §6.2.4)."""
    if reading.get("spo2") is None or unusable_reasons(quality_of(reading), "spo2"):
        return None
    return float(reading["spo2"])


def reading_view(reading: dict[str, Any], now: datetime) -> BoardReading:
    """A stored reading (REST form, api/reading_codec.py `to_api`) as the board shows it."""
    quality = quality_of(reading)
    measured = datetime.fromisoformat(reading["measured_at"])
    return BoardReading(
        spo2=reading["spo2"],
        pulse=reading["pulse"],
        measured_at=measured,
        age_seconds=round((now - measured).total_seconds(), 1),
        mode=reading["mode"],
        late=reading["late"],
        quality=quality.level.value,
        reasons=list(quality.reasons),
    )


def _usable(readings: Iterable[dict[str, Any]]) -> list[tuple[datetime, float]]:
    """(measured at, SpO2) of the usable readings, newest measured first."""
    found = [(datetime.fromisoformat(r["measured_at"]), usable_spo2(r)) for r in readings]
    return sorted(((at, v) for at, v in found if v is not None), key=lambda p: p[0], reverse=True)


def trend(
    recent: Sequence[dict[str, Any]],
    reference: Sequence[dict[str, Any]],
    first: Sequence[dict[str, Any]] = (),
) -> BoardTrend:
    """Median SpO2 of the newest usable readings against that of readings from before the window,
    or, for a patient monitored for less than the window, of the first readings ever stored."""
    recent_ids = {r["reading_id"] for r in recent}
    newest = _usable(recent)
    new = [(at, v) for at, v in newest[:TREND_SAMPLES] if newest[0][0] - at <= TREND_NEW_SPAN]
    old = _usable(r for r in reference if r["reading_id"] not in recent_ids)[:TREND_SAMPLES]
    if not old:
        old = _usable(r for r in first if r["reading_id"] not in recent_ids)[-TREND_SAMPLES:]
    if not new or not old:
        return BoardTrend(direction="unknown", delta=None, since=None)
    delta = round(statistics.median(v for _, v in new) - statistics.median(v for _, v in old), 1)
    direction: Direction = "steady"
    if delta <= -TREND_POINTS:
        direction = "falling"
    elif delta >= TREND_POINTS:
        direction = "rising"
    return BoardTrend(direction=direction, delta=delta, since=old[0][0])


def band(plan: CarePlan, latest: dict[str, Any] | None) -> BoardBand:
    if plan.rule_pack is not RulePack.O2HOME:
        return "not-used"  # NEWS2 and BTS plans are judged by their own rules, not the RAG bands
    spo2 = None if latest is None else usable_spo2(latest)
    if spo2 is None:
        return "unknown"
    try:
        return plan.band_thresholds.band(spo2).value
    except ValueError:
        return "unknown"


_DEVICE_STATES = ("connected", "away", "searching")


def _device_state(status: dict[str, str], device: str | None) -> str:
    """The oximeter's state in the gateway's last status message (status.v1 `devices`)."""
    try:
        listed = json.loads(status["devices"]) if status.get("devices") else []
    except ValueError:
        return "unknown"
    for d in listed if isinstance(listed, list) else []:
        if isinstance(d, dict) and device is not None and str(d.get("address", "")).upper() == device.upper():
            state = d.get("state")
            return str(state) if state in _DEVICE_STATES else "unknown"
    return "unknown"


def link(latest: dict[str, Any] | None, status: dict[str, str] | None, devices: Sequence[str]) -> BoardLink:
    """The gateway that sent the newest reading (its retained status) and the patient's oximeter."""
    gateway = None if latest is None else latest["source"]["gateway_id"]
    device = latest["source"]["device_address"] if latest is not None else (devices[0] if devices else None)
    status = status or {}
    state = status.get("state")
    since = status.get("at") or status.get("received_at") or None
    depth = status.get("outbox_depth") or ""
    return BoardLink.model_validate(
        {
            "gateway_id": gateway,
            "gateway_state": state if state in ("online", "offline") else "unknown",
            "gateway_since": since,
            "outbox_depth": int(depth) if depth.isdigit() else None,
            "device_address": device,
            "device_state": _device_state(status, device),
        }
    )


def alert_view(a: dict[str, Any]) -> BoardAlert:
    return BoardAlert(
        alert_id=a["alert_id"],
        rule=a["rule"],
        priority=a["priority"],
        state=a["state"],
        raised_at=a["raised_at"],
        band=a.get("band"),
        spo2=a.get("spo2"),
        technical=bool(a.get("technical", False)),
        questionable=bool(a.get("questionable", False)),
        late=bool(a.get("late", False)),
        latched=a.get("condition_active") is False,
        detail=a.get("detail"),
        acknowledged_by=a.get("acknowledged_by"),
        acknowledged_at=a.get("acknowledged_at"),
        snoozed_by=a.get("snoozed_by"),
        snoozed_until=a.get("snoozed_until"),
        tier=int(a.get("tier") or 0),
    )


def worst_first(alerts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(alerts, key=lambda a: (RANK_ORDER[rank_of(a)], a["raised_at"]))
