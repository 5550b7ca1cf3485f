"""One reading of one patient -> the alert changes to save: alerting.rules.evaluate_reading with the
patient's care plan, manual observations, oxygen status and continuous-mode state, then the lifecycle
(api/alert_engine.py). Pure: the worker reads the context and saves the change.

- Discharged patients (patient hash `discharged_at`, api/resources/enrolments.py): readings are
  stored but raise no alert; the entry is only settled.
- Oxygen: a fresh manual `oxygen` observation (air / oxygen, §2.1) overrides the plan's default.
- Continuous readings carry the persistence / hysteresis state (alerting/continuous.py) from one
  reading to the next in keys.alerting_state; the save refuses to overwrite a state that another
  worker changed meanwhile, so a stream is never applied twice or out of step.
- The state also keeps the measured time of the last reading and of the last *valid* one (scorable
  or questionable: unscorable readings do not count as a reading taken, §6.2.2) for the scheduler's
  missed-reading and stale-data rules, and the gateway and device of the newest reading.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alerting.alerts import AlertRequest
from alerting.lifecycle import propose
from alerting.model import Mode, Observation, Priority, QualityLevel
from alerting.rules import FAILED_RULE, evaluate_reading
from api.alert_engine import Change, PatientAlerts, Step, latch_for
from api.alert_record import Cause, cause_of, iso, to_alert
from api.patient_context import PatientContext
from api.reading_codec import from_fields


def observation(fields: dict[str, str]) -> Observation:
    r = from_fields(fields)
    return Observation(
        measured_at=datetime.fromtimestamp(r.measured_ms / 1000, tz=UTC),
        spo2=r.spo2,
        pulse=r.pulse,
        mode=Mode(r.mode),
        measurement_status=r.measurement_status,
        device_sensor_status=r.device_sensor_status,
        perfusion_index=r.perfusion_index,
        device_clock_not_set=r.device_clock_not_set,
    )


def evaluate_entry(ctx: PatientContext, entry_id: str, fields: dict[str, str], now: datetime) -> Change:
    """The change one eval entry makes; `ctx` is advanced to the state after it."""
    if ctx.discharged:
        return Change(ctx.patient_id, entry_id)
    obs = observation(fields)
    plan = ctx.plan
    continuous = obs.mode is Mode.CONTINUOUS
    evaluation = evaluate_reading(
        obs,
        plan,
        now,
        manual=ctx.manual,
        on_oxygen=ctx.on_oxygen_at(obs.measured_at),
        continuous_state=ctx.continuous() if continuous else None,
    )
    step = Step(ctx.alerts, now, entry_id)
    for result in evaluation.results:
        cause = cause_of(result, fields.get("r"), obs.spo2)
        step.apply(result, latch_for(result.rule, ctx.config.latch_from), cause)
    change = step.change
    if continuous and evaluation.continuous_state is not None:
        change.expect_state = ctx.state.get("continuous", "")
        state = json.dumps(evaluation.continuous_state.to_dict(), separators=(",", ":"))
        change.state_set["continuous"] = state
        ctx.state["continuous"] = state
    measured = iso(obs.measured_at)
    change.state_max["last_reading_at"] = measured
    quality = evaluation.quality
    if quality is not None and quality.level is not QualityLevel.UNSCORABLE:
        change.state_max["last_valid_at"] = measured
    if measured >= ctx.state.get("last_reading_at", ""):
        change.state_set.update(gateway=fields.get("gw", ""), device=fields.get("d", ""), mode=obs.mode.value)
    for name, value in change.state_max.items():
        ctx.state[name] = max(ctx.state.get(name, ""), value)
    ctx.state.update(change.state_set)
    return change


def failure_change(
    alerts: PatientAlerts, entry_id: str, reading_id: str | None, kind: str, now: datetime
) -> Change:
    """A reading the worker could not evaluate: raise (or keep) the patient's `evaluation-failed`
    technical alert (low, latching: api/alert_engine.py) and settle the entry."""
    step = Step(alerts, now, entry_id)
    rule = FAILED_RULE
    step.change.expect[rule] = alerts.raw(rule)
    base = alerts.record(rule)
    current = None if base is None else to_alert(base)
    request = AlertRequest(alerts.patient_id, rule, Priority.LOW, now, technical=True, reasons=(kind,))
    step.take(base, current, propose(current, request, now), Cause(reading_id, None, None, None, detail=kind))
    return step.change
