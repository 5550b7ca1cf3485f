"""Liveness and readiness probes (unauthenticated: orchestrators and load balancers call them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from api.deps import RedisDep, SettingsDep
from api.readiness import readiness
from api.schemas import CheckResult, Liveness, Readiness

router = APIRouter(tags=["health"])


#: Stated in the OpenAPI document: these need no credentials (no patient data, no secrets).
_OPEN: dict[str, Any] = {"security": []}


@router.get("/healthz", response_model=Liveness, openapi_extra=_OPEN)
async def healthz() -> Liveness:
    """The process is up and serving requests (restart it if this fails)."""
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a dependency is unavailable; see `checks`"}},
    openapi_extra=_OPEN,
)
async def readyz(request: Request, response: Response, r: RedisDep, settings: SettingsDep) -> Readiness:
    """Redis answers, the broker is reachable and (when enabled here) the worker's heartbeat is fresh.

    503 names the failing check; stop routing traffic here until it passes.
    """
    results = await readiness(r, settings, request.app.state.ingest)
    ok = all(c.ok for c in results.values())
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(
        status="ready" if ok else "unready",
        checks={name: CheckResult(ok=c.ok, detail=c.detail) for name, c in results.items()},
    )
