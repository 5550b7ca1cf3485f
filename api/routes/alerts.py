"""A patient's alerts: list, acknowledge, resolve (api/alert_store.py does the state changes)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api import alert_store
from api.actor import recorded_actor
from api.deps import AlertablePatient, AlertId, NowDep, ReadablePatient, RedisDep
from api.schemas import AcknowledgeRequest, AlertList, AlertRead, ResolveRequest, problem_responses

router = APIRouter(tags=["alerts"])


@router.get("/patients/{patient_id}/alerts", response_model=AlertList, responses=problem_responses(404))
async def list_alerts(patient: ReadablePatient, r: RedisDep) -> AlertList:
    """Every alert of the patient, open and closed, newest raised first."""
    return AlertList.model_validate({"items": await alert_store.list_alerts(r, patient.patient_id)})


@router.post(
    "/patients/{patient_id}/alerts/{alert_id}/acknowledge",
    response_model=AlertRead,
    responses=problem_responses(404, 409),
)
async def acknowledge_alert(
    request: Request,
    patient: AlertablePatient,
    alert_id: AlertId,
    body: AcknowledgeRequest,
    r: RedisDep,
    now: NowDep,
) -> AlertRead:
    """Acknowledge an open alert: someone is dealing with it. Idempotent; 409 once resolved.

    An acknowledged alert stays on the queue until resolved; if it is upgraded (e.g. amber to
    red) it re-opens and needs a fresh acknowledgement.
    """
    by = await recorded_actor(request, r, body.by)
    alert = await alert_store.acknowledge(r, patient.patient_id, alert_id, by, now)
    return AlertRead.model_validate(alert)


@router.post(
    "/patients/{patient_id}/alerts/{alert_id}/resolve",
    response_model=AlertRead,
    responses=problem_responses(404, 409),
)
async def resolve_alert(
    request: Request,
    patient: AlertablePatient,
    alert_id: AlertId,
    body: ResolveRequest,
    r: RedisDep,
    now: NowDep,
) -> AlertRead:
    """Resolve an open or acknowledged alert with its outcome; 409 if already resolved."""
    by = await recorded_actor(request, r, body.by)
    alert = await alert_store.resolve(r, patient.patient_id, alert_id, by, body.outcome, now)
    return AlertRead.model_validate(alert)
