"""The signal quality of a stored reading, for exports (FHIR, HL7 v2, CSV, charts).

The judgement is alerting/quality.py's (clinical-rules.md §6), applied to the REST form of a
reading (api/reading_codec.py `to_api`), so every export says the same thing the alerting did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerting.model import Mode, Observation, Quality, QualityLevel
from alerting.quality import DEVICE_FLAGS, MEASUREMENT_FLAGS, assess


def quality_of(reading: dict[str, Any]) -> Quality:
    status = reading["status"]
    return assess(
        Observation(
            measured_at=datetime.fromisoformat(reading["measured_at"]),
            spo2=reading["spo2"],
            pulse=reading["pulse"],
            mode=Mode(reading["mode"]),
            measurement_status=status["measurement"],
            device_sensor_status=status["device_sensor"],
            perfusion_index=reading["perfusion_index"],
            device_clock_not_set=status["device_clock_not_set"],
        )
    )


#: Reasons that concern the SpO2 value only: the pulse of such a reading may still be good.
_SPO2_ONLY = frozenset({"no-spo2", "spo2-not-plausible"})
_UNSCORABLE_REASONS = frozenset(
    {
        reason
        for reason, level in (*MEASUREMENT_FLAGS.values(), *DEVICE_FLAGS.values())
        if level is QualityLevel.UNSCORABLE
    }
    | {"measurement-ongoing"}
    | _SPO2_ONLY
)


def unusable_reasons(quality: Quality, vital: str) -> tuple[str, ...]:
    """Why the reading's `spo2` or `pulse` value must not be used (empty: it may be)."""
    found = (r for r in quality.reasons if r in _UNSCORABLE_REASONS)
    return tuple(r for r in found if vital == "spo2" or r not in _SPO2_ONLY)
