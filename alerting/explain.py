"""Evaluate anything: one reading + a care plan (+ manual observations) -> every number the rules give.

Backs `oxiward alerting evaluate` and `POST /v1/alerting/evaluate` (issue 4, acceptance 6): the CO@h
band (§1.2), every NEWS2 sub-score with the partial or full total and its Chart 4 response (§2), the
BTS assessment when the plan has a target (§4), signal quality (§6.2), and what the live dispatcher
(alerting/rules.py) would do with the reading -- each rule's result and the alert priority.

The extra views use the same functions as the rule packs, so they agree with them. NEWS2 is shown for
every plan: on the plan's own scale for a NEWS2 pack, otherwise on the scale its target implies
(scale 2 only for an 88-92 target, Chart 1 §2.1), labelled as inferred. An unscorable reading
contributes no oximeter value to any view (§6.2.2): its band is null and NEWS2 lists SpO2 and pulse
as missing. A continuous reading is judged as the first of a stream (no persistence yet, §5.1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerting import bts, codec, news2
from alerting.careplan import CarePlan
from alerting.manual import ManualObservation
from alerting.model import Mode, Observation, Priority, QualityLevel
from alerting.quality import assess
from alerting.results import Status
from alerting.rules import evaluate_reading

READING_FIELDS = frozenset(
    {
        "spo2",
        "pulse",
        "mode",
        "measured_at",
        "measurement_status",
        "device_sensor_status",
        "perfusion_index",
        "device_clock_not_set",
        "on_oxygen",
    }
)


@dataclass(frozen=True, slots=True)
class ReadingInput:
    """A reading as a person types it, with the oxygen status it was taken on (None: the plan's)."""

    observation: Observation
    on_oxygen: bool | None = None


def _opt_num(data: Mapping[str, object], name: str) -> float | None:
    value = data.get(name)
    return None if value is None else codec.num_in(value, name)


def _opt_int(data: Mapping[str, object], name: str) -> int | None:
    value = data.get(name)
    return None if value is None else codec.int_in(value, name)


def reading_from_dict(data: Mapping[str, object], now: datetime) -> ReadingInput:
    """Decode a reading; `measured_at` defaults to `now`. Raises codec.DecodeError naming the field."""
    codec.reject_unknown(data, READING_FIELDS, "reading")
    measured = data.get("measured_at")
    on_oxygen = data.get("on_oxygen")
    obs = Observation(
        measured_at=now if measured is None else codec.dt_in(measured, "measured_at"),
        spo2=_opt_num(data, "spo2"),
        pulse=_opt_num(data, "pulse"),
        mode=codec.enum_in(Mode, data.get("mode", Mode.SPOT_CHECK.value), "mode"),
        measurement_status=_opt_int(data, "measurement_status"),
        device_sensor_status=_opt_int(data, "device_sensor_status"),
        perfusion_index=_opt_num(data, "perfusion_index"),
        device_clock_not_set=codec.bool_in(data.get("device_clock_not_set", False), "device_clock_not_set"),
    )
    return ReadingInput(obs, None if on_oxygen is None else codec.bool_in(on_oxygen, "on_oxygen"))


def manual_from_list(items: object, now: datetime) -> tuple[ManualObservation, ...]:
    """Decode manual observations; each `measured_at` defaults to `now`."""
    if not isinstance(items, list | tuple):
        raise codec.DecodeError(f"manual: expected a list of observations, got {items!r}")
    found: list[ManualObservation] = []
    for index, item in enumerate(items):
        entry = dict(codec.mapping_in(item, f"manual[{index}]"))
        entry.setdefault("measured_at", now.isoformat())
        try:
            found.append(ManualObservation.from_dict(entry))
        except ValueError as err:  # DecodeError, or a value of the wrong kind for its parameter
            raise codec.DecodeError(f"manual[{index}]: {err}") from err
    return tuple(found)


def _plausible(value: float | None) -> float | None:
    """A value NEWS2 can score: finite and not negative (else the rule would refuse it)."""
    if value is None or math.isnan(value) or math.isinf(value) or value < 0:
        return None
    return value


def _news2(
    obs: Observation, usable: bool, plan: CarePlan, on_oxygen: bool, manual: Sequence[ManualObservation]
) -> dict[str, object]:
    scale = plan.news2_scale
    inferred = scale is None
    if scale is None:
        scale = 2 if plan.target == bts.TARGET_HYPERCAPNIC else 1
    spo2 = obs.spo2 if usable else None
    score = news2.score(
        spo2=spo2,
        pulse=_plausible(obs.pulse) if usable else None,
        on_oxygen=on_oxygen,
        scale=scale,
        at=obs.measured_at,
        manual=manual,
        manual_max_age=timedelta(seconds=plan.manual_max_age_s),
    )
    monitoring, clinical = news2.RESPONSE_TEXT[score.response]
    return {
        "scale": scale,
        "scale_inferred": inferred,
        "subscores": dict(score.subscores),
        "total": score.total,
        "partial": score.partial,
        "missing": list(score.missing),
        "single_parameter_3": score.single_parameter_3,
        "response": score.response.value,
        "monitoring": monitoring,
        "clinical_response": clinical,
        "priority": codec.priority_out(score.priority),
        "manual_used": [m.to_dict() for m in score.manual_used],
    }


def _bts(spo2: float | None, plan: CarePlan) -> dict[str, object] | None:
    target = plan.target
    if target is None or spo2 is None:
        return None
    found = bts.assess(spo2, target, plan.baseline_spo2)
    return {
        "target": list(found.target),
        "baseline": found.baseline,
        "below_target": found.below_target,
        "fall": found.fall,
        "fell_from_baseline": found.fell_from_baseline,
        "priority": codec.priority_out(found.priority),
        "reasons": list(found.reasons),
    }


def explain(
    reading: ReadingInput, plan: CarePlan, now: datetime, manual: Sequence[ManualObservation] = ()
) -> dict[str, object]:
    """Everything the rules say about one reading under `plan` at `now` (JSON-ready)."""
    obs = reading.observation
    on_oxygen = plan.on_oxygen if reading.on_oxygen is None else reading.on_oxygen
    quality = assess(obs)
    usable = quality.level is not QualityLevel.UNSCORABLE
    spo2 = obs.spo2 if usable else None
    evaluation = evaluate_reading(obs, plan, now, manual=manual, on_oxygen=reading.on_oxygen)
    raised = [r.priority for r in evaluation.results if r.status is Status.ALERT and r.priority]
    worst: Priority | None = max(raised) if raised else None
    score = _news2(obs, usable, plan, on_oxygen, manual)
    return {
        "reading": {
            "measured_at": codec.dt_out(obs.measured_at),
            "mode": obs.mode.value,
            "spo2": obs.spo2,
            "pulse": obs.pulse,
            "on_oxygen": on_oxygen,
            "measurement_status": obs.measurement_status,
            "device_sensor_status": obs.device_sensor_status,
            "perfusion_index": obs.perfusion_index,
        },
        "plan": plan.to_dict(),
        "quality": {
            "level": quality.level.value,
            "reasons": list(quality.reasons),
            "notes": list(quality.notes),
        },
        "late": evaluation.late,
        "band": None if spo2 is None else plan.band_thresholds.band(spo2).value,
        "news2": score,
        "bts": _bts(spo2, plan),
        "results": [r.to_dict() for r in evaluation.results],
        "priority": codec.priority_out(worst),
        "response": score["response"],
        "repeat_requested": any(r.repeat_requested for r in evaluation.results),
    }
