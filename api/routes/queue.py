"""The ward queue: JSON for clients, and a small self-contained live page that renders it."""

from __future__ import annotations

import re
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Response

from api import queries
from api.deps import NowDep, ReadableWard, RedisDep
from api.schemas import ID_PATTERN, WardQueue, problem_responses

router = APIRouter(tags=["ward queue"])
pages = APIRouter(include_in_schema=False)

_WEB = files("api").joinpath("web")
_ASSETS = {"ward.js": "text/javascript; charset=utf-8", "ward.css": "text/css; charset=utf-8"}
#: The page loads only its own script and style, talks only to this origin, and cannot be framed.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/wards/{ward_id}/queue", response_model=WardQueue, responses=problem_responses(422))
async def ward_queue(ward_id: ReadableWard, r: RedisDep, now: NowDep) -> WardQueue:
    """The ward's patients, most urgent first.

    Worst open alert priority (high, medium, low, advisory), then the longest-waiting alert,
    then patients without open alerts by reference ("Bed 2" before "Bed 10"). An unknown ward
    gives an empty queue.
    """
    return await queries.ward_queue(r, ward_id, now)


def _page() -> Response:
    html = _WEB.joinpath("ward.html").read_text(encoding="utf-8")
    return Response(html, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


@pages.get("/ward")
async def ward_index() -> Response:
    """The page listing wards (the same page, without a ward id)."""
    return _page()


@pages.get("/ward/{ward_id}")
async def ward_page(ward_id: str) -> Response:
    if re.fullmatch(ID_PATTERN, ward_id) is None:
        raise HTTPException(404, "no such ward page")
    return _page()


@pages.get("/ward-assets/{name}")
async def ward_asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, "no such asset")
    body = _WEB.joinpath(name).read_text(encoding="utf-8")
    return Response(body, media_type=media_type, headers=_PAGE_HEADERS)
