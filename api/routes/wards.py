"""Wards: list (paged, filtered), create, read, rename. A ward's patients, queue, board and
settings are under /v1/wards/{ward_id}/… in the modules that own them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from api.auth import principal_can_see_ward
from api.deps import NowDep, ReadableWard, Reader, RedisDep, WritableWard, Writer
from api.resources import wards
from api.resources.access import refusals, require_ward
from api.resources.schemas import WardCreate, WardPage, WardRead, WardUpdate
from api.schemas import problem_responses

router = APIRouter(tags=["wards"])


@router.get("/wards", response_model=WardPage, responses=problem_responses(400, 422))
async def list_wards(
    principal: Reader,
    r: RedisDep,
    name: Annotated[
        str | None, Query(min_length=1, max_length=64, description="display name contains this (any case)")
    ] = None,
    has_patients: Annotated[
        bool | None, Query(description="true: wards with a patient admitted now; false: without")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the previous page")
    ] = None,
) -> WardPage:
    """The wards the caller is granted, by ward id: created ones and those that exist through an
    enrolment. Follow `next_cursor` until it is null, with the same filters."""
    wanted = None if name is None else name.casefold()

    def keep(w: WardRead) -> bool:
        if wanted is not None and wanted not in (w.name or "").casefold():
            return False
        return has_patients is None or (w.patients > 0) == has_patients

    page = await wards.page(r, lambda w: principal_can_see_ward(principal, w), cursor, limit, keep)
    return WardPage(items=page.items, next_cursor=page.next_cursor, wards=[w.ward_id for w in page.items])


@router.post(
    "/wards",
    status_code=status.HTTP_201_CREATED,
    response_model=WardRead,
    responses=problem_responses(409, 422),
)
async def create_ward(
    request: Request, body: WardCreate, principal: Writer, r: RedisDep, now: NowDep
) -> WardRead:
    """Create a ward with a display name (you must be granted the ward id). 409 if it exists."""
    require_ward(request, principal, body.ward_id)
    with refusals():
        return await wards.create(r, body, now)


@router.get("/wards/{ward_id}", response_model=WardRead, responses=problem_responses(404))
async def get_ward(ward_id: ReadableWard, r: RedisDep) -> WardRead:
    """A ward with its name and the number of patients currently admitted."""
    with refusals():
        return await wards.get(r, ward_id)


@router.patch("/wards/{ward_id}", response_model=WardRead, responses=problem_responses(404, 422))
async def update_ward(ward_id: WritableWard, body: WardUpdate, r: RedisDep, now: NowDep) -> WardRead:
    """Rename a ward or change its description."""
    with refusals():
        return await wards.update(r, ward_id, body, now)
