"""The ward queue as JSON for clients (the ward pages use the richer board: api/routes/ward_board.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import queries
from api.deps import NowDep, ReadableWard, RedisDep
from api.schemas import WardQueue, problem_responses

router = APIRouter(tags=["ward queue"])


@router.get("/wards/{ward_id}/queue", response_model=WardQueue, responses=problem_responses(422))
async def ward_queue(ward_id: ReadableWard, r: RedisDep, now: NowDep) -> Response:
    """The ward's patients, most urgent first.

    Worst open alert priority (high, medium, low, advisory), then the longest-waiting alert,
    then patients without open alerts by reference ("Bed 2" before "Bed 10"). An unknown ward
    gives an empty queue.
    """
    # Written straight to JSON in the WardQueue shape (response_model documents it): validating
    # and dumping 500 pydantic rows was most of a large queue's time (docs/performance.md).
    return Response(await queries.ward_queue_json(r, ward_id, now), media_type="application/json")
