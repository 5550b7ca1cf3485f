"""One reading (or manual observation) of one patient -> the alert changes to save:
alerting.rules.evaluate_reading with the patient's care plan, manual observations, oxygen status and
continuous-mode state, then the lifecycle (api/alert_engine.py). Pure: the worker reads the context
and saves the change.

- Discharged patients (patient hash `discharged_at`, api/resources/enrolments.py): readings and
  observations are stored but raise no alert; the entry is only settled.
- Oxygen: a fresh manual `oxygen` observation (air / oxygen, §2.1) overrides the plan's default.
- Continuous readings carry the persistence / hysteresis state (alerting/continuous.py) from one
  reading to the next in keys.alerting_state; the save refuses to overwrite a state that another
  worker changed meanwhile, so a stream is never applied twice or out of step.
- A recorded manual observation, or a set of them, queues one entry (`pt`, `ob`, `m`): NEWS2 is
  scored with it and the latest reading at once (alerting/manual_set.py); the alert's `detail` starts
  with `manual-observation:<observation id>` (a set's last), `reading_id` / `spo2` name the reading
  whose SpO2 joined the score (none when it was stale, unscorable or absent). No reading is stored
  or counted as taken.
- The state also keeps the measured time of the last reading and of the last *valid* one (scorable
  or questionable: unscorable readings do not count as a reading taken, §6.2.2) for the scheduler's
  missed-reading and stale-data rules, and the gateway and device of the newest reading.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from alerting.alerts import AlertRequest
from alerting.continuous import ContinuousState
from alerting.lifecycle import propose
from alerting.manual_set import MANUAL_REASON, evaluate_manual_set
from alerting.model import Mode, Observation, Priority, QualityLevel
from alerting.results import RuleResult
from alerting.rules import FAILED_RULE, evaluate_reading
from api.alert_engine import Change, PatientAlerts, Step, latch_for
from api.alert_record import Cause, cause_of, iso, to_alert
from api.patient_context import PatientContext
from api.reading_codec import from_fields

#: The field that marks an eval entry queued by a manual observation: its id (api/lua/observation.lua).
OBSERVATION_FIELD = "ob"


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
        _keep_continuous(ctx, change, evaluation.continuous_state)
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


def is_observation_entry(fields: dict[str, str]) -> bool:
    """An eval entry queued by a manual observation (api/lua/observation.lua), not by a reading."""
    return OBSERVATION_FIELD in fields


def evaluate_observation_entry(
    ctx: PatientContext, entry_id: str, fields: dict[str, str], latest: dict[str, str] | None, now: datetime
) -> Change:
    """The change a recorded manual observation makes: the patient's NEWS2 scored with it and the latest
    reading `latest` (keys.latest, None: none yet), alerting/manual_set.py. No reading is stored or
    counted as taken; a continuous patient's persistence state takes the set's level."""
    if ctx.discharged:
        return Change(ctx.patient_id, entry_id)
    reading = None if latest is None else observation(latest)
    continuous = reading is not None and reading.mode is Mode.CONTINUOUS
    evaluation = evaluate_manual_set(
        ctx.plan,
        now,
        at=datetime.fromtimestamp(int(fields["m"]) / 1000, tz=UTC),
        manual=ctx.manual,
        reading=reading,
        on_oxygen=ctx.on_oxygen_at,
        continuous_state=(ctx.continuous() or ContinuousState()) if continuous else None,
    )
    step = Step(ctx.alerts, now, entry_id)
    if evaluation is None:  # the plan's pack scores no manual observation
        return step.change
    for result in evaluation.results:
        cause = _observation_cause(result, fields[OBSERVATION_FIELD], latest, reading)
        step.apply(result, latch_for(result.rule, ctx.config.latch_from), cause)
    if continuous and evaluation.continuous_state is not None:
        _keep_continuous(ctx, step.change, evaluation.continuous_state)
    return step.change


def _keep_continuous(ctx: PatientContext, change: Change, state: ContinuousState) -> None:
    """Save the continuous-mode state, refused if another worker changed it since it was read."""
    change.expect_state = ctx.state.get("continuous", "")
    raw = json.dumps(state.to_dict(), separators=(",", ":"))
    change.state_set["continuous"] = raw
    ctx.state["continuous"] = raw


def _observation_cause(
    result: RuleResult, observation_id: str, latest: dict[str, str] | None, reading: Observation | None
) -> Cause:
    """The evidence of a manual set's result: the observation's id first in `detail`, and the reading
    whose SpO2 joined the score, if one did."""
    reading_id = spo2 = None
    if latest is not None and reading is not None and "spo2" in result.subscores:
        reading_id, spo2 = latest.get("r"), reading.spo2
    rest = [reason for reason in result.reasons if reason != MANUAL_REASON]
    detail = ",".join([f"{MANUAL_REASON}:{observation_id}", *rest])
    return replace(cause_of(result, reading_id, spo2), detail=detail)


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
