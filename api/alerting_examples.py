"""Response examples of the alerting endpoints that return free-form JSON (OpenAPI documentation).

The evaluate example is computed by alerting/explain.py itself, so it cannot drift from the code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerting.careplan import CarePlan, RulePack
from alerting.explain import explain, manual_from_list, reading_from_dict

_AT = datetime(2025, 1, 14, 9, 30, tzinfo=UTC)

EVALUATE: dict[str, Any] = explain(
    reading_from_dict({"spo2": 92, "pulse": 112, "on_oxygen": False}, _AT),
    CarePlan(rule_pack=RulePack.NEWS2_SCALE1),
    _AT,
    manual_from_list([{"parameter": "respiration_rate", "value": 22}], _AT),
)

REPLAY: dict[str, Any] = {
    "patients": ["p-7f3a9c2e41d8"],
    "from": "2025-01-01T00:00:00+00:00",
    "to": "2025-01-14T00:00:00+00:00",
    "current": {
        "patients": 1,
        "readings": 39,
        "alerts_raised": 6,
        "by_priority": {"medium": 5, "advisory": 1},
        "by_rule": {"o2home-band": 5, "signal-quality": 1},
        "technical": 1,
        "physiological": 5,
        "upgrades": 0,
        "notifications": 12,
        "pages": 6,
    },
    "proposed": {
        "patients": 1,
        "readings": 39,
        "alerts_raised": 2,
        "by_priority": {"medium": 1, "advisory": 1},
        "by_rule": {"o2home-band": 1, "signal-quality": 1},
        "technical": 1,
        "physiological": 1,
        "upgrades": 0,
        "notifications": 4,
        "pages": 2,
    },
    "alerts_change": -4,
    "pages_change": -4,
}

BURDEN: dict[str, Any] = {
    "start": "2025-01-07T00:00:00+00:00",
    "end": "2025-01-14T00:00:00+00:00",
    "patients": 12,
    "patient_days": 80.5,
    "alerts": 46,
    "by_priority": {"high": 3, "medium": 19, "low": 10, "advisory": 14},
    "by_rule": {"o2home-band": 22, "signal-quality": 14, "overdue": 10},
    "per_patient_day": 0.571,
    "per_patient_day_by_priority": {"high": 0.037, "medium": 0.236, "low": 0.124, "advisory": 0.174},
    "per_patient_day_by_rule": {"o2home-band": 0.273, "signal-quality": 0.174, "overdue": 0.124},
    "technical_share": 0.522,
    "physiological_share": 0.478,
    "acknowledged": 31,
    "ack_median_s": 540.0,
    "ack_p90_s": 2280.0,
    "top_decile_share": 0.413,
}


def ok(example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """An OpenAPI `responses=` entry showing a 200 JSON example."""
    return {
        200: {"description": "Successful Response", "content": {"application/json": {"example": example}}}
    }
