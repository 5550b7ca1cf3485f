"""NEWS2 (Royal College of Physicians, Dec 2017): sub-scores, aggregate and Chart 4 response.

Every band is S-NEWS2 Chart 1 as tabled in clinical-rules.md §2.1 (SpO2 scales 1 and 2, air or
oxygen), §2.2 (pulse) and §2.3 (respiration rate, systolic BP, consciousness, temperature); the
response per total is S-NEWS2 Chart 4, clinical-rules.md §2.4.

The chart is written in whole numbers (one decimal for temperature). Devices may send fractions,
so each band is implemented by its edges and **a value between two chart rows scores on the worse
side** (SpO2 91.5 on scale 1 scores 3, pulse 130.5 scores 3, temperature 38.05 scores 1). Rounding
would under-score a value that was measured beyond an edge; the same choice as alerting/bands.py.

An oximeter supplies SpO2, pulse and (with the plan) air/oxygen only. The other four parameters come
from manual observations and count only when fresh; without them the total is a **partial** score,
labelled as such (§2.3 design consequence) and a lower bound of the full score: the response it
maps to is a floor, never a reassurance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from alerting.manual import ManualObservation, ManualParameter
from alerting.model import Priority

#: §2.4: NEWS2 totals range 0-20 (S-RCPJ).
MAX_TOTAL = 20
#: Manual observations older than this do not count towards the aggregate. Default: Chart 4's longest
#: routine monitoring interval, 12-hourly at NEWS2 0 (§2.4) -- an observation older than that cannot be
#: the current one on any NEWS2 schedule (our inference; configurable per plan, see careplan.py).
DEFAULT_MANUAL_MAX_AGE = timedelta(hours=12)


class Parameter(StrEnum):
    """NEWS2 parameters, in Chart 1 order."""

    RESPIRATION_RATE = "respiration_rate"
    SPO2 = "spo2"
    AIR_OR_OXYGEN = "air_or_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    PULSE = "pulse"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"


#: ACVPU (§2.3): Alert scores 0; new Confusion, Voice, Pain or Unresponsive score 3.
CONSCIOUSNESS_LEVELS = frozenset({"A", "C", "V", "P", "U"})


def _check(value: float, name: str) -> None:
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise ValueError(f"{name} must be a finite, non-negative number, got {value!r}")


def spo2_scale1_score(spo2: float) -> int:
    """SpO2 scale 1 (§2.1): <=91 -> 3, 92-93 -> 2, 94-95 -> 1, >=96 -> 0."""
    _check(spo2, "SpO2")
    if spo2 < 92:
        return 3
    if spo2 < 94:
        return 2
    if spo2 < 96:
        return 1
    return 0


def spo2_scale2_score(spo2: float, on_oxygen: bool) -> int:
    """SpO2 scale 2 (§2.1): <=83 -> 3, 84-85 -> 2, 86-87 -> 1, 88-92 -> 0, >=93 on air -> 0;
    on oxygen 93-94 -> 1, 95-96 -> 2, >=97 -> 3."""
    _check(spo2, "SpO2")
    if spo2 < 84:
        return 3
    if spo2 < 86:
        return 2
    if spo2 < 88:
        return 1
    if spo2 <= 92 or not on_oxygen:
        return 0
    if spo2 <= 94:
        return 1
    if spo2 <= 96:
        return 2
    return 3


def spo2_score(spo2: float, scale: int, on_oxygen: bool) -> int:
    """SpO2 sub-score on NEWS2 scale 1 or 2 (§2.1)."""
    if scale == 1:
        return spo2_scale1_score(spo2)
    if scale == 2:
        return spo2_scale2_score(spo2, on_oxygen)
    raise ValueError(f"NEWS2 SpO2 scale must be 1 or 2, got {scale!r}")


def air_or_oxygen_score(on_oxygen: bool) -> int:
    """The "air or oxygen?" parameter (§2.1): oxygen = 2, air = 0, on both scales."""
    return 2 if on_oxygen else 0


def pulse_score(pulse: float) -> int:
    """Pulse (§2.2): <=40 -> 3, 41-50 -> 1, 51-90 -> 0, 91-110 -> 1, 111-130 -> 2, >=131 -> 3."""
    _check(pulse, "pulse")
    if pulse < 41:
        return 3
    if pulse < 51:
        return 1
    if pulse <= 90:
        return 0
    if pulse <= 110:
        return 1
    if pulse <= 130:
        return 2
    return 3


def respiration_rate_score(rate: float) -> int:
    """Respiration rate (§2.3): <=8 -> 3, 9-11 -> 1, 12-20 -> 0, 21-24 -> 2, >=25 -> 3."""
    _check(rate, "respiration rate")
    if rate < 9:
        return 3
    if rate < 12:
        return 1
    if rate <= 20:
        return 0
    if rate <= 24:
        return 2
    return 3


def systolic_bp_score(systolic: float) -> int:
    """Systolic BP (§2.3): <=90 -> 3, 91-100 -> 2, 101-110 -> 1, 111-219 -> 0, >=220 -> 3."""
    _check(systolic, "systolic BP")
    if systolic < 91:
        return 3
    if systolic < 101:
        return 2
    if systolic < 111:
        return 1
    if systolic <= 219:
        return 0
    return 3


def temperature_score(celsius: float) -> int:
    """Temperature (§2.3): <=35.0 -> 3, 35.1-36.0 -> 1, 36.1-38.0 -> 0, 38.1-39.0 -> 1, >=39.1 -> 2."""
    _check(celsius, "temperature")
    if celsius < 35.1:
        return 3
    if celsius < 36.1:
        return 1
    if celsius <= 38.0:
        return 0
    if celsius <= 39.0:
        return 1
    return 2


def consciousness_score(level: str) -> int:
    """Consciousness (§2.3): A -> 0; new Confusion, V, P, U -> 3."""
    if level not in CONSCIOUSNESS_LEVELS:
        raise ValueError(f"consciousness must be one of A, C, V, P, U (ACVPU), got {level!r}")
    return 0 if level == "A" else 3


class Response(StrEnum):
    """Chart 4 trigger levels (§2.4); names are the RCP report's labels [secondary for the labels]."""

    ROUTINE = "routine"  # total 0
    LOW = "low"  # total 1-4
    LOW_MEDIUM = "low-medium"  # 3 in any single parameter
    MEDIUM = "medium"  # total 5-6 (5 or more): key threshold for urgent response
    HIGH = "high"  # total >= 7: emergency response


#: Chart 4 (§2.4): minimum monitoring frequency and clinical response, verbatim in substance.
RESPONSE_TEXT: dict[Response, tuple[str, str]] = {
    Response.ROUTINE: ("12-hourly", "Continue routine NEWS monitoring"),
    Response.LOW: (
        "4-6-hourly",
        "Inform the registered nurse, who must assess the patient and decide whether to increase "
        "monitoring and/or escalate care",
    ),
    Response.LOW_MEDIUM: (
        "1-hourly",
        "Registered nurse informs the medical team caring for the patient, who review and decide "
        "whether escalation is needed",
    ),
    Response.MEDIUM: (
        "1-hourly",
        "Registered nurse immediately informs the medical team and requests urgent assessment by a "
        "clinician or team with core competencies in acute illness; care in an environment with "
        "monitoring facilities",
    ),
    Response.HIGH: (
        "continuous",
        "Registered nurse immediately informs the medical team, at least at specialist registrar level; "
        "emergency assessment by a team with critical-care competencies including advanced airway "
        "skills; consider transfer to level 2/3 (HDU/ICU)",
    ),
}

#: Alert priority per response. IEC 60601-1-8 leaves priorities to us (§5.1); our mapping reads the
#: standard's "immediate / prompt / delayed" against Chart 4: emergency response -> high; urgent
#: response and the single-parameter-3 medical review -> medium; RN assessment -> low; routine -> none.
RESPONSE_PRIORITY: dict[Response, Priority | None] = {
    Response.ROUTINE: None,
    Response.LOW: Priority.LOW,
    Response.LOW_MEDIUM: Priority.MEDIUM,
    Response.MEDIUM: Priority.MEDIUM,
    Response.HIGH: Priority.HIGH,
}

#: §2.4 Chart 4 thresholds.
URGENT_TOTAL = 5  # "5-6, i.e. 5 or more": key threshold for urgent response
EMERGENCY_TOTAL = 7  # ">=7": emergency response
SINGLE_PARAMETER_TRIGGER = 3  # "3 in any single parameter"


def response_for(total: int, single_parameter_3: bool) -> Response:
    """Chart 4 (§2.4): the response a total (and a 3 in any single parameter) triggers."""
    if not 0 <= total <= MAX_TOTAL:
        raise ValueError(f"NEWS2 total must be 0-{MAX_TOTAL}, got {total}")
    if total >= EMERGENCY_TOTAL:
        return Response.HIGH
    if total >= URGENT_TOTAL:
        return Response.MEDIUM
    if single_parameter_3:
        return Response.LOW_MEDIUM
    if total >= 1:
        return Response.LOW
    return Response.ROUTINE


@dataclass(frozen=True, slots=True)
class News2Score:
    """A NEWS2 total with its sub-scores. `partial` totals lack the parameters listed in `missing`."""

    scale: int
    subscores: dict[str, int]
    total: int
    partial: bool
    missing: tuple[str, ...]
    single_parameter_3: bool
    response: Response
    #: Fresh manual observations the total used (the record of what was scored).
    manual_used: tuple[ManualObservation, ...]

    @property
    def priority(self) -> Priority | None:
        return RESPONSE_PRIORITY[self.response]

    @property
    def red(self) -> bool:
        """A red cell of the chart: a single parameter at 3 or an emergency total (§2.4)."""
        return self.single_parameter_3 or self.total >= EMERGENCY_TOTAL


_MANUAL_SCORERS = {
    ManualParameter.RESPIRATION_RATE: (Parameter.RESPIRATION_RATE, respiration_rate_score),
    ManualParameter.SYSTOLIC_BP: (Parameter.SYSTOLIC_BP, systolic_bp_score),
    ManualParameter.TEMPERATURE: (Parameter.TEMPERATURE, temperature_score),
}


def fresh_manual(
    manual: Iterable[ManualObservation], at: datetime, max_age: timedelta
) -> dict[ManualParameter, ManualObservation]:
    """The latest observation of each parameter measured within `max_age` up to `at` (none after it)."""
    latest: dict[ManualParameter, ManualObservation] = {}
    for obs in manual:
        if not at - max_age <= obs.measured_at <= at:
            continue
        held = latest.get(obs.parameter)
        if held is None or obs.measured_at > held.measured_at:
            latest[obs.parameter] = obs
    return latest


def _manual_score(obs: ManualObservation) -> tuple[str, int]:
    if obs.parameter is ManualParameter.CONSCIOUSNESS:
        return Parameter.CONSCIOUSNESS.value, consciousness_score(str(obs.value))
    name, scorer = _MANUAL_SCORERS[obs.parameter]
    assert not isinstance(obs.value, str)  # ManualObservation.__post_init__ guarantees it
    return name.value, scorer(obs.value)


def score(
    *,
    spo2: float | None,
    pulse: float | None,
    on_oxygen: bool,
    scale: int,
    at: datetime,
    manual: Iterable[ManualObservation] = (),
    manual_max_age: timedelta = DEFAULT_MANUAL_MAX_AGE,
) -> News2Score:
    """NEWS2 at time `at`: oximeter values plus the manual observations fresh at `at`.

    A parameter with no value (SpO2 or pulse None, or no fresh manual observation) is left out and
    named in `missing`; the total is then partial.
    """
    found: dict[str, int] = {}
    if spo2 is not None:
        found[Parameter.SPO2.value] = spo2_score(spo2, scale, on_oxygen)
    found[Parameter.AIR_OR_OXYGEN.value] = air_or_oxygen_score(on_oxygen)
    if pulse is not None:
        found[Parameter.PULSE.value] = pulse_score(pulse)
    used = fresh_manual(manual, at, manual_max_age)
    for obs in used.values():
        name, points = _manual_score(obs)
        found[name] = points
    subscores: dict[str, int] = {p.value: found[p.value] for p in Parameter if p.value in found}
    missing = tuple(p.value for p in Parameter if p.value not in found)
    total = sum(subscores.values())
    single = any(points >= SINGLE_PARAMETER_TRIGGER for points in subscores.values())
    return News2Score(
        scale=scale,
        subscores=subscores,
        total=total,
        partial=bool(missing),
        missing=missing,
        single_parameter_3=single,
        response=response_for(total, single),
        manual_used=tuple(sorted(used.values(), key=lambda o: o.parameter.value)),
    )
