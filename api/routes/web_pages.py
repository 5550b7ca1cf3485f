"""The ward pages (api/web/): sign-in and ward list, ward queue, patient. Static files only.

Every page is a fixed HTML shell; its scripts fetch the data from /v1 with the session cookie. The
URLs carry ids only, never patient data. Nothing is fetched from another origin (CSP), nothing
runs inline, and no page or asset stays in the browser cache (``no-store``: a shared ward PC must
not show one clinician's pages to the next from its cache).
"""

from __future__ import annotations

import re
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Response

from api.schemas import ID_PATTERN

router = APIRouter(include_in_schema=False)

_WEB = files("api").joinpath("web")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
#: The assets a page may load, by name: nothing else under api/web/ is served.
ASSETS = frozenset(
    {
        "ward.css",
        "common.js",
        "signin.js",
        "queue.js",
        "rows.js",
        "live.js",
        "actions.js",
        "alarm.js",
        "patient.js",
        "accept-link.js",
        "patient-parts.js",
        "chart.js",
    }
)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def _page(name: str) -> Response:
    html = _WEB.joinpath(name).read_text(encoding="utf-8")
    return Response(html, media_type="text/html; charset=utf-8", headers=HEADERS)


def _check(*ids: str) -> None:
    if any(re.fullmatch(ID_PATTERN, i) is None for i in ids):
        raise HTTPException(404, "no such page")


@router.get("/ward")
async def index_page() -> Response:
    """Sign in, then the wards one may open."""
    return _page("index.html")


@router.get("/ward/{ward_id}")
async def queue_page(ward_id: str) -> Response:
    _check(ward_id)
    return _page("queue.html")


@router.get("/ward/{ward_id}/patients/{patient_id}")
async def patient_page(ward_id: str, patient_id: str) -> Response:
    _check(ward_id, patient_id)
    return _page("patient.html")


@router.get("/favicon.ico")
async def favicon() -> Response:
    """No icon: an empty answer instead of the 404 every browser would log."""
    return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})


@router.get("/ward-assets/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, "no such asset")
    body = _WEB.joinpath(name).read_text(encoding="utf-8")
    return Response(body, media_type=_TYPES[name[name.rindex(".") :]], headers=HEADERS)
