"""A patient's reading history, by measured time, paginated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import queries
from api.deps import ReadablePatient, RedisDep
from api.schemas import QueryTime, ReadingPage, problem_responses

router = APIRouter(tags=["readings"])

#: Page size: 100 by default; 1000 at most keeps one response well under a megabyte.
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_FROM = "measured at or after, ISO 8601 with offset, e.g. 2025-01-14T00:00:00Z"
_TO = "measured before, ISO 8601 with offset"
_CURSOR = "`next_cursor` of the previous page"


@router.get(
    "/patients/{patient_id}/readings", response_model=ReadingPage, responses=problem_responses(400, 404)
)
async def list_readings(
    patient: ReadablePatient,
    r: RedisDep,
    start: Annotated[QueryTime | None, Query(alias="from", description=_FROM)] = None,
    end: Annotated[QueryTime | None, Query(alias="to", description=_TO)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=200, description=_CURSOR)] = None,
) -> ReadingPage:
    """Readings measured in `[from, to)`, **oldest first in the order they were stored**.

    Follow `next_cursor` until it is `null`, passing the same `from`/`to`. A page may hold fewer
    than `limit` readings (even none) and still have a `next_cursor`: readings that arrive late
    (after an outage) are found by scanning everything stored after `from`, a bounded amount
    per request. Late arrivals carry `late: true`.
    """
    page = await queries.readings_page(r, patient.patient_id, start, end, limit, cursor)
    return ReadingPage.model_validate({"items": page.items, "next_cursor": page.next_cursor})
