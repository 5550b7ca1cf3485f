"""Alerts across wards: filter by ward, state and priority (per-patient alerts: api/routes/alerts.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import StringConstraints

from api.auth import note_access, principal_can_see_ward
from api.deps import Reader, RedisDep
from api.resources import alerts_query, wards
from api.resources.access import require_ward
from api.resources.alerts_query import AlertFilter, PriorityQuery, StateQuery
from api.resources.schemas_kit import AlertPage
from api.schemas import ID_PATTERN, problem_responses

router = APIRouter(tags=["alerts"])
WardIdItem = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


@router.get("/alerts", response_model=AlertPage, responses=problem_responses(400, 422))
async def list_alerts(
    request: Request,
    principal: Reader,
    r: RedisDep,
    ward_id: Annotated[
        list[WardIdItem] | None, Query(max_length=50, description="repeat for several wards")
    ] = None,
    state: StateQuery = None,
    priority: PriorityQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AlertPage:
    """Alerts of the current patients of the given wards (default: every ward you are granted),
    newest raised first. `state=open&state=acknowledged` lists everything still unresolved."""
    if ward_id is not None:
        for w in ward_id:
            require_ward(request, principal, w)
        chosen = ward_id
    else:
        chosen = [w for w in await wards.all_ids(r) if principal_can_see_ward(principal, w)]
    items, next_cursor = await alerts_query.page(r, chosen, AlertFilter.of(state, priority), limit, cursor)
    for a in items:
        note_access(request, patient_id=a.patient_id, ward_id=a.ward_id)
    return AlertPage(items=items, next_cursor=next_cursor)
