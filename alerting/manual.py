"""Manual observations a clinician or patient records by hand (NEWS2 parameters an oximeter lacks, §2.3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from alerting import codec


class ManualParameter(StrEnum):
    RESPIRATION_RATE = "respiration_rate"
    SYSTOLIC_BP = "systolic_bp"
    TEMPERATURE = "temperature"
    CONSCIOUSNESS = "consciousness"


@dataclass(frozen=True, slots=True)
class ManualObservation:
    """One hand-recorded value: breaths/min, mmHg, degrees Celsius, or an ACVPU letter."""

    parameter: ManualParameter
    value: float | str
    measured_at: datetime

    def __post_init__(self) -> None:
        if self.measured_at.tzinfo is None:
            raise ValueError("ManualObservation.measured_at must be timezone-aware")
        is_text = isinstance(self.value, str)
        if (self.parameter is ManualParameter.CONSCIOUSNESS) != is_text:
            kind = "an ACVPU letter" if self.parameter is ManualParameter.CONSCIOUSNESS else "a number"
            raise ValueError(f"{self.parameter.value} must be {kind}, got {self.value!r}")

    def to_dict(self) -> dict[str, object]:
        return {
            "parameter": self.parameter.value,
            "value": self.value,
            "measured_at": codec.dt_out(self.measured_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ManualObservation:
        codec.reject_unknown(data, frozenset({"parameter", "value", "measured_at"}), "manual observation")
        parameter = codec.enum_in(ManualParameter, data.get("parameter"), "parameter")
        raw = data.get("value")
        if parameter is ManualParameter.CONSCIOUSNESS:
            value: float | str = codec.str_in(raw, "value")
        else:
            value = codec.num_in(raw, "value")
        return cls(parameter, value, codec.dt_in(data.get("measured_at"), "measured_at"))
