"""All HTTP routes, mounted in one place: open probes, the authenticated /v1 API, the ward page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from api.auth import authenticate
from api.routes.alerts import router as alerts
from api.routes.health import router as health
from api.routes.patients import router as patients
from api.routes.queue import pages
from api.routes.queue import router as queue
from api.routes.readings import router as readings
from api.schemas import problem_responses


def mount(app: FastAPI) -> None:
    # The router-level dependency is a safety net: a /v1 route that forgets its scope
    # dependency is still authenticated (FastAPI resolves `authenticate` once per request).
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authenticate)], responses=problem_responses(401, 403))
    for router in (patients, readings, queue, alerts):
        v1.include_router(router)
    app.include_router(v1)
    app.include_router(health)
    app.include_router(pages)
