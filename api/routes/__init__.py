"""All HTTP routes, mounted in one place: open probes, the authenticated /v1 API, the ward page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from api.auth import authenticate
from api.notify.routes import router as notify
from api.openapi import install as finish_openapi
from api.routes.admin import router as admin
from api.routes.alerting import router as alerting
from api.routes.alerts import router as alerts
from api.routes.audit import router as audit
from api.routes.auth import router as auth
from api.routes.auth import token_router
from api.routes.care_plans import router as care_plans
from api.routes.health import router as health
from api.routes.integration import V1_ROUTERS, fhir_router
from api.routes.metrics import router as metrics
from api.routes.patients import router as patients
from api.routes.query_params import refuse_undeclared
from api.routes.queue import router as queue
from api.routes.readings import router as readings
from api.routes.tracked_links import router as tracked_links
from api.routes.ward_board import router as ward_board
from api.routes.web_pages import router as web_pages
from api.routes.web_session import router as web_session
from api.routes.web_session import sign_in_router
from api.schemas import problem_responses


def mount(app: FastAPI) -> None:
    # The router-level dependency is a safety net: a /v1 route that forgets its scope
    # dependency is still authenticated (FastAPI resolves `authenticate` once per request).
    # Then a query parameter the operation does not take is refused (400), not ignored: a misspelt
    # filter would otherwise answer the whole list (api/routes/query_params.py).
    v1 = APIRouter(
        prefix="/v1",
        dependencies=[Depends(authenticate), Depends(refuse_undeclared)],
        responses=problem_responses(400, 401, 403, 413, 429),
    )
    for router in (patients, readings, queue, alerts, alerting, care_plans, auth, admin, audit, *V1_ROUTERS):
        v1.include_router(router)
    for router in (ward_board, web_session, notify):  # the ward pages' data, rotas (issue 6)
        v1.include_router(router)
    app.include_router(v1)
    app.include_router(fhir_router)
    # /v1/auth/token: the one /v1 route without a bearer, and one that ignores parameters it does
    # not know, as OAuth 2.0 requires of a token endpoint (RFC 6749 §3.2).
    app.include_router(token_router)
    app.include_router(health)
    app.include_router(metrics)
    # /v1/web/session POST: signing in needs no session.
    app.include_router(sign_in_router, dependencies=[Depends(refuse_undeclared)])
    app.include_router(web_pages)  # the ward pages, api/web/
    app.include_router(tracked_links)  # /n/...: notification links, no bearer (their token instead)
    finish_openapi(app)  # errors as problem details, an example on every operation (api/openapi.py)
