"""The ward board, its live event stream, and a patient's newest readings (the ward pages' data)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api import ward_board
from api.auth import authenticate
from api.board_schemas import RecentReadings, WardBoard
from api.deps import NowDep, ReadablePatient, ReadableWard, RedisDep
from api.schemas import problem_responses
from api.security import principals
from api.security.principal import Kind
from api.ward_events import WardStream

router = APIRouter(tags=["ward queue"])


@router.get("/wards/{ward_id}/board", response_model=WardBoard, responses=problem_responses(422))
async def get_board(ward_id: ReadableWard, r: RedisDep, now: NowDep) -> WardBoard:
    """The ward queue with what a clinician decides on: every open alert and who acknowledged it,
    the SpO2 trend, late or questionable data, and the gateway's and oximeter's connection state.

    Order: worst open alert (high, medium, low or advisory), then patients with only a missed
    reading (overdue), then the rest; within a group the longest-waiting alert first. The trend
    arrow needs a change of 3 SpO2 points (BTS 2017: clinical-rules.md §4). `reach` counts the
    ward's escalation ladder and rota tiers: 0 means alerts nobody acknowledges are not escalated,
    or reach nobody beyond the ward pages (the page says so). An unknown ward gives an empty board.
    """
    return await ward_board.board(r, ward_id, now)


@router.get(
    "/patients/{patient_id}/recent-readings",
    response_model=RecentReadings,
    responses=problem_responses(404, 422),
)
async def recent_readings(
    patient: ReadablePatient,
    r: RedisDep,
    now: NowDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RecentReadings:
    """The newest stored readings, newest first, with their signal quality and lateness."""
    return await ward_board.recent_readings(r, patient.patient_id, limit, now)


@router.get("/wards/{ward_id}/events", include_in_schema=False)
async def ward_events(request: Request, ward_id: ReadableWard, r: RedisDep) -> StreamingResponse:
    """Server-Sent Events for the ward (api/ward_events.py); left out of the OpenAPI document because
    it never ends, which generated clients and fuzzers cannot handle."""
    principal = await authenticate(request)
    lifetime = float("inf") if principal.token_expires is None else principal.token_expires - time.time()

    async def allowed() -> bool:
        if principal.kind is Kind.BOOTSTRAP:
            return True
        record = await principals.get(r, principal.subject)
        return (
            record is not None
            and not record.disabled
            and (principal.wards is None or ward_id in record.wards)
        )

    stream = WardStream(r, ward_id, lifetime, allowed)
    return StreamingResponse(
        stream.events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
