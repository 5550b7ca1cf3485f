"""Alerting endpoints beyond acknowledge / resolve: snooze, escalate by hand (issue 6), the ward's
alerting configuration, alert burden, evaluate-anything and replay (issue 4, points 3-6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from alerting import codec
from alerting.careplan import CarePlan, PlanError
from alerting.explain import explain, manual_from_list, reading_from_dict
from api import alert_store, alerting_queries, careplans, keys, ward_config
from api.actor import recorded_actor
from api.alerting_examples import BURDEN, EVALUATE, REPLAY, ok
from api.alerting_schemas import (
    EscalateRequest,
    EvaluateRequest,
    ReplayRequest,
    SnoozeRequest,
    WardAlertingPut,
    WardAlertingRead,
)
from api.auth import authenticate, principal_can_see_ward, require_patient_access
from api.deps import AlertablePatient, AlertId, NowDep, ReadableWard, Reader, RedisDep, WritableWard
from api.routes.alerts import seen
from api.routes.care_plans import problem, refused_plan
from api.schemas import AlertRead, QueryTime, problem_responses
from api.security.principal import ward_denied

router = APIRouter(tags=["alerting"])

#: The default alert-burden period when `from` is not given (a week of a ward's work).
DEFAULT_BURDEN_PERIOD = timedelta(days=7)


@router.post(
    "/patients/{patient_id}/alerts/{alert_id}/snooze",
    response_model=AlertRead,
    responses=problem_responses(404, 409, 422),
)
async def snooze_alert(
    request: Request,
    patient: AlertablePatient,
    alert_id: AlertId,
    body: SnoozeRequest,
    r: RedisDep,
    now: NowDep,
) -> AlertRead | JSONResponse:
    """Hold reminders and escalation of an open alert for `minutes`, at its current priority only.

    An upgrade ends the snooze and notifies at once. At most the ward's `snooze_max_s` (422 beyond it);
    409 once resolved. A running snooze is changed only when `seen_snoozed_until` names it: otherwise
    409 with the current record (who snoozed it until when), so two clinicians snoozing at once never
    overwrite each other silently. 409 too when `seen_priority` is given and the alert has been
    upgraded since (the detail names the new priority). Snoozes in a row hold the alert at most the
    ward's `snooze_chain_max_s` from the first (422 beyond it).
    """
    config = ward_config.config_from_raw(await r.get(keys.ward_alerting(patient.ward_id)))
    duration = timedelta(minutes=body.minutes)
    try:
        by = await recorded_actor(request, r, body.by)
        alert = await alert_store.snooze(
            r,
            patient.patient_id,
            alert_id,
            by,
            duration,
            config.snooze_max,
            now,
            max_total=config.snooze_chain_max,
            seen_until=body.seen_snoozed_until,
            seen_priority=seen(body.seen_priority),
        )
    except alert_store.Refused as err:
        return problem(request, 422, str(err))
    return AlertRead.model_validate(alert)


@router.post(
    "/patients/{patient_id}/alerts/{alert_id}/escalate",
    response_model=AlertRead,
    responses=problem_responses(404, 409, 422),
)
async def escalate_alert(
    request: Request,
    patient: AlertablePatient,
    alert_id: AlertId,
    body: EscalateRequest,
    r: RedisDep,
    now: NowDep,
) -> AlertRead | JSONResponse:
    """Escalate an open or acknowledged alert by hand: the next tier of the ward's escalation ladder
    is notified now (the last tier again at the top), with who and why recorded.

    An acknowledged alert re-opens at the new tier, which must accept it (the ladder runs on from
    there); a snooze ends. 409 once resolved, when `from_tier` is given and the alert has been
    escalated meanwhile (the body's `alert` shows by whom), or when `seen_priority` is given and the
    alert has been upgraded since (the detail names the new priority); 422 when the ward has no ladder.
    """
    config = ward_config.config_from_raw(await r.get(keys.ward_alerting(patient.ward_id)))
    try:
        by = await recorded_actor(request, r, body.by)
        alert = await alert_store.escalate(
            r,
            patient.patient_id,
            alert_id,
            config.escalation,
            by,
            body.reason,
            now,
            from_tier=body.from_tier,
            seen_priority=seen(body.seen_priority),
        )
    except alert_store.Refused as err:
        return problem(request, 422, str(err))
    return AlertRead.model_validate(alert)


@router.get("/wards/{ward_id}/alerting-config", response_model=WardAlertingRead)
async def get_alerting_config(ward_id: ReadableWard, r: RedisDep) -> WardAlertingRead:
    """The ward's escalation ladder, missed-reading ladder, reading schedule, snooze maximum and
    technical-alert thresholds. Version 0: nothing configured (no escalation, no overdue, no
    technical alerts; snooze at most 30 min; high latches)."""
    return WardAlertingRead.model_validate(await ward_config.get_record(r, ward_id))


@router.put(
    "/wards/{ward_id}/alerting-config", response_model=WardAlertingRead, responses=problem_responses(422)
)
async def put_alerting_config(
    request: Request, ward_id: WritableWard, body: WardAlertingPut, r: RedisDep, now: NowDep
) -> WardAlertingRead | JSONResponse:
    """Set the ward's alerting configuration (the next version; the worker and scheduler use it within
    a few seconds). Every figure is local practice: the sources give none (§1.8, §5.2, §5.3)."""
    try:
        config = ward_config.WardConfig.from_dict(body.config)
    except ward_config.ConfigError as err:
        return problem(request, 422, str(err))
    principal = await authenticate(request)
    record = await ward_config.set_config(
        r, ward_id, config, set_by=body.by, reason=body.reason, principal=principal.subject, now=now
    )
    return WardAlertingRead.model_validate(record)


@router.get("/wards/{ward_id}/alert-burden", responses={**ok(BURDEN), **problem_responses(422)})
async def alert_burden(
    request: Request,
    ward_id: ReadableWard,
    r: RedisDep,
    now: NowDep,
    start: Annotated[QueryTime | None, Query(alias="from", description="default: `to` minus 7 days")] = None,
    end: Annotated[QueryTime | None, Query(alias="to", description="default: now")] = None,
) -> Any:
    """Alerts per patient-day by priority and rule, technical vs physiological share, time to
    acknowledge (median, p90) and the share of alerts from the top 10 % of patients (§5.3)."""
    end = end or now
    start = start or end - DEFAULT_BURDEN_PERIOD
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        return problem(request, 422, "`from` and `to` need UTC offsets, `to` after `from`")
    return await alerting_queries.ward_burden(r, ward_id, start, end)


@router.post("/alerting/evaluate", responses={**ok(EVALUATE), **problem_responses(404, 422)})
async def evaluate(
    request: Request, body: EvaluateRequest, principal: Reader, r: RedisDep, now: NowDep
) -> Any:
    """Evaluate one reading under a plan: the CO@h band, every NEWS2 sub-score with the partial or
    full total and its response, the BTS assessment, signal quality, each rule's result and the alert
    priority. Nothing is stored. With `patient_id`, that patient's current care plan is used."""
    at = body.now or now
    if body.patient_id is not None:
        await require_patient_access(r, principal, body.patient_id)
        try:
            plan = careplans.plan_from_raw(await r.get(keys.care_plan(body.patient_id)))
        except PlanError as err:
            return refused_plan(request, err)
    else:
        try:
            plan = CarePlan.from_dict(body.plan or {})
        except PlanError as err:
            return refused_plan(request, err)
    try:
        reading = reading_from_dict(body.reading, at)
        manual = manual_from_list(body.manual, at)
    except codec.DecodeError as err:
        return problem(request, 422, str(err))
    return explain(reading, plan, at, manual)


@router.post("/alerting/replay", responses={**ok(REPLAY), **problem_responses(404, 422)})
async def replay(request: Request, body: ReplayRequest, principal: Reader, r: RedisDep) -> Any:
    """Run a proposed plan over a patient's or a ward's stored readings: how many alerts (and pages)
    it would have raised, against each patient's current plan. Nothing is stored."""
    try:
        proposed = CarePlan.from_dict(body.plan)
    except PlanError as err:
        return refused_plan(request, err)
    if body.patient_id is not None:
        await require_patient_access(r, principal, body.patient_id)
        patients = [body.patient_id]
    else:
        assert body.ward_id is not None  # the model requires one of them
        if not principal_can_see_ward(principal, body.ward_id):
            raise ward_denied()
        patients = sorted({e.patient_id for e in await alerting_queries.ward_enrolments(r, body.ward_id)})
    try:
        return await alerting_queries.replay(r, patients, proposed, body.start, body.end)
    except alerting_queries.TooMuchHistory as err:
        return problem(request, 422, str(err))
    except PlanError as err:  # a patient's stored plan no longer passes today's checks
        return refused_plan(request, err, "current plan")
