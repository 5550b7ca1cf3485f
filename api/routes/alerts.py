"""A patient's alerts: list, acknowledge, resolve (api/alert_store.py does the state changes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from alerting.model import Priority
from api import alert_store
from api.actor import recorded_actor
from api.deps import AlertablePatient, AlertId, NowDep, ReadablePatient, RedisDep
from api.resources import alerts_query
from api.resources.alerts_query import AlertFilter, PriorityQuery, StateQuery
from api.schemas import AcknowledgeRequest, AlertList, AlertRead, ResolveRequest, problem_responses

router = APIRouter(tags=["alerts"])


def seen(priority: str | None) -> Priority | None:
    """The `seen_priority` of an action's body, for the lifecycle's check."""
    return None if priority is None else Priority(priority)


@router.get("/patients/{patient_id}/alerts", response_model=AlertList, responses=problem_responses(400, 404))
async def list_alerts(
    patient: ReadablePatient,
    r: RedisDep,
    state: StateQuery = None,
    priority: PriorityQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AlertList:
    """The patient's alerts, open and closed, newest raised first, a page at a time (follow
    `next_cursor` until null; a cursor is this patient's only: 400 on another's).
    `state=open&state=acknowledged` lists everything still unresolved."""
    flt = AlertFilter.of(state, priority)
    items, next_cursor = await alerts_query.patient_page(r, patient.patient_id, flt, limit, cursor)
    return AlertList.model_validate({"items": items, "next_cursor": next_cursor})


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
    """Acknowledge an open alert: someone is dealing with it. Idempotent; 409 once resolved, or when
    `seen_priority` is given and the alert has been upgraded since (the detail names the new
    priority; nothing changes).

    An acknowledged alert stays on the queue until resolved; if it is upgraded (e.g. amber to
    red) it re-opens and needs a fresh acknowledgement.
    """
    by = await recorded_actor(request, r, body.by)
    alert = await alert_store.acknowledge(
        r, patient.patient_id, alert_id, by, now, seen_priority=seen(body.seen_priority)
    )
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
