"""Response models of the ward board (``GET /v1/wards/{ward_id}/board``) and its live stream.

The board is the ward queue (api/queue.py, ``/queue``) with what a clinician needs to decide at a
glance: every open alert and who acknowledged it, the trend, the data's quality and lateness, and
whether the gateway and the oximeter are connected.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import UtcTime

Rank = Literal["high", "medium", "low", "overdue", "none"]
BoardBand = Literal["green", "amber", "red", "unknown", "not-used"]
Direction = Literal["falling", "rising", "steady", "unknown"]


class BoardReading(BaseModel):
    spo2: float | None
    pulse: float | None
    measured_at: UtcTime
    age_seconds: float = Field(description="seconds between measured_at and generated_at")
    mode: Literal["spot-check", "continuous"]
    late: bool = Field(description="stored long after it was measured (backfill, outbox replay)")
    quality: Literal["scorable", "questionable", "unscorable"] = Field(
        description="signal quality as the alerting judges it (clinical-rules.md §6)"
    )
    reasons: list[str] = Field(description="why it is questionable or unscorable, e.g. `low-perfusion`")


class BoardTrend(BaseModel):
    direction: Direction
    delta: float | None = Field(description="SpO2 points, recent median minus reference median")
    since: UtcTime | None = Field(description="when the reference readings were measured")


class BoardLink(BaseModel):
    gateway_id: str | None
    gateway_state: Literal["online", "offline", "unknown"]
    gateway_since: UtcTime | None
    outbox_depth: int | None = Field(description="readings the gateway still has to send")
    device_address: str | None
    device_state: Literal["connected", "away", "searching", "unknown"]


class BoardAlert(BaseModel):
    alert_id: str
    rule: str
    priority: str
    state: str
    raised_at: UtcTime
    band: str | None
    spo2: float | None
    technical: bool
    questionable: bool
    late: bool
    latched: bool = Field(description="the condition has cleared; a clinician must still resolve it")
    detail: str | None
    acknowledged_by: str | None
    acknowledged_at: UtcTime | None
    snoozed_by: str | None
    snoozed_until: UtcTime | None
    tier: int


class BoardRow(BaseModel):
    patient_id: str
    ref: str
    rank: Rank = Field(description="the queue group: worst open alert, overdue-only, or none")
    waiting_since: UtcTime | None = Field(description="raise time of the oldest alert of that group")
    band: BoardBand = Field(description="band of the latest usable SpO2 (§1.2); not-used off the o2home pack")
    rule_pack: str
    latest: BoardReading | None
    trend: BoardTrend
    link: BoardLink
    alerts: list[BoardAlert] = Field(description="open alerts, worst first")


class BoardReach(BaseModel):
    """Who an alert reaches beyond the ward pages: gaps here are black holes the page must show."""

    escalation_tiers: int = Field(
        description="tiers of the ward's escalation ladder; 0: none, so an alert nobody acknowledges "
        "is never escalated"
    )
    escalates_from: Literal["high", "medium", "low", "advisory"] | None = Field(
        description="the lowest priority the ladder escalates; lower ones wait for someone to look"
    )
    rota_tiers: int = Field(
        description="tiers of the ward's rota; 0: no rota, so alerts reach only the ward pages "
        "(nobody is messaged)"
    )


_EXAMPLE: dict[str, Any] = {
    "ward_id": "north-1",
    "generated_at": "2025-01-14T10:00:00.000Z",
    "reach": {"escalation_tiers": 2, "escalates_from": "medium", "rota_tiers": 2},
    "items": [
        {
            "patient_id": "p-7f3a9c2e41d8",
            "ref": "Bed 3",
            "rank": "high",
            "waiting_since": "2025-01-14T09:58:31.000Z",
            "band": "red",
            "rule_pack": "o2home",
            "latest": {
                "spo2": 91,
                "pulse": 104,
                "measured_at": "2025-01-14T09:58:30.000Z",
                "age_seconds": 90.0,
                "mode": "spot-check",
                "late": False,
                "quality": "scorable",
                "reasons": [],
            },
            "trend": {"direction": "falling", "delta": -4.0, "since": "2025-01-14T05:02:10.000Z"},
            "link": {
                "gateway_id": "gw-0042",
                "gateway_state": "online",
                "gateway_since": "2025-01-14T08:00:00.000Z",
                "outbox_depth": 0,
                "device_address": "C0:FF:EE:00:00:03",
                "device_state": "connected",
            },
            "alerts": [
                {
                    "alert_id": "a-01HZX3",
                    "rule": "o2home-band",
                    "priority": "high",
                    "state": "acknowledged",
                    "raised_at": "2025-01-14T09:58:31.000Z",
                    "band": "red",
                    "spo2": 91,
                    "technical": False,
                    "questionable": False,
                    "late": False,
                    "latched": False,
                    "detail": None,
                    "acknowledged_by": "nurse.jb",
                    "acknowledged_at": "2025-01-14T09:59:40.000Z",
                    "snoozed_by": None,
                    "snoozed_until": None,
                    "tier": 0,
                }
            ],
        }
    ],
}


class WardBoard(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    ward_id: str
    generated_at: UtcTime
    reach: BoardReach
    items: list[BoardRow] = Field(description="queue order: rank, longest waiting, then reference")


class RecentReadings(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"patient_id": "p-7f3a9c2e41d8", "items": []}]})

    patient_id: str
    items: list[BoardReading] = Field(description="newest stored first")
