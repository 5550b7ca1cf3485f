"""Browser sign-in for the ward pages: ``/v1/web/session`` (POST sign in, GET who, DELETE sign out).

Not part of the published API (integrators use ``POST /v1/auth/token``): these set and clear the
session cookie api/web_session.py describes. The password check, the per-address-and-account rate
limit and the audit entry are the token endpoint's (api/routes/auth.py, api/security/).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from api import web_session
from api.auth import Principal, scoped
from api.deps import RedisDep, SettingsDep
from api.schemas import Problem, problem_body
from api.security import audit, principals, ratelimit
from api.security.principal import Kind, RateLimited, effective_wards
from api.security.roles import ROLE_SCOPES
from api.security.secrets import PASSWORD_MAX, dummy_password_hash, verify_password
from api.web_middleware import SESSION_SCOPE_KEY, same_origin

#: POST lives outside the authenticated /v1 router (signing in is how one gets a session).
sign_in_router = APIRouter(include_in_schema=False)
router = APIRouter(include_in_schema=False)
Authenticated = Annotated[Principal, scoped(None)]
PATH = "/web/session"


class SignIn(BaseModel):
    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX)]


class WebSession(BaseModel):
    username: str = Field(description="recorded as `by` on every alert action and observation")
    role: str
    scopes: list[str]
    wards: list[str] | None = Field(description="granted wards; null: every ward (administrator)")
    csrf_token: str = Field(description="send as X-CSRF-Token on every state-changing request")
    signed_in_at: datetime
    ends_at: datetime = Field(description="the session ends then at the latest (sign in again)")
    retention_hours: float = Field(description="how far back reading history goes")
    can_escalate: bool = Field(description="the service offers escalating an alert by hand")


def _problem(request: Request, code: int, detail: str) -> JSONResponse:
    return JSONResponse(
        problem_body(code, detail, request.url.path),
        code,
        media_type="application/problem+json",
        headers={"Cache-Control": "no-store"},
    )


#: The manual-escalation operation the alert actions use, when the service has it (api/routes/).
ESCALATE_PATH = "/v1/patients/{patient_id}/alerts/{alert_id}/escalate"


def _can_escalate(request: Request) -> bool:
    # The published document lists every operation (and is built once, then cached).
    return "post" in request.app.openapi()["paths"].get(ESCALATE_PATH, {})


def _view(
    request: Request,
    session: web_session.Session,
    role: str,
    scopes: list[str],
    wards: list[str] | None,
    hours: float,
) -> WebSession:
    return WebSession(
        username=session.username,
        role=role,
        scopes=scopes,
        wards=wards,
        csrf_token=session.csrf,
        signed_in_at=datetime.fromtimestamp(session.created, UTC),
        ends_at=datetime.fromtimestamp(session.created + web_session.MAX_AGE_S, UTC),
        retention_hours=hours,
        can_escalate=_can_escalate(request),
    )


@sign_in_router.post("/v1" + PATH, response_model=WebSession)
async def sign_in(request: Request, body: SignIn, r: RedisDep, settings: SettingsDep) -> Any:
    """Check the password and start a session; the cookie is HttpOnly, SameSite=Strict, Secure on https."""
    if not same_origin(request.scope):
        return _problem(request, 403, "sign in from this service's own page")
    username = body.username.lower()
    client = request.client.host if request.client else "unknown"
    limit = ratelimit.Limit(settings.auth_rate_limit_per_s, settings.auth_rate_limit_burst)
    wait = await ratelimit.take(r, f"auth:{client}:{username}", limit)  # the token endpoint's bucket
    if wait:
        raise RateLimited(wait)
    record = await principals.by_username(r, username)
    ctx = audit.context_of(request)
    if record is not None and ctx is not None:
        ctx.actor, ctx.role = record.principal_id, record.role.value
    stored = record.secret_hash if record is not None else dummy_password_hash()
    ok = await asyncio.to_thread(verify_password, body.password, stored)  # scrypt: off the loop
    if record is None or not ok or record.disabled or record.kind is not Kind.USER:
        detail = "the username or password is wrong, or the user is disabled"
        return _problem(request, 401, detail)
    cookie, session = await web_session.create(r, record, time.time())
    wards = effective_wards(record.role, record.wards)
    view = _view(
        request,
        session,
        record.role.value,
        sorted(ROLE_SCOPES[record.role]),
        None if wards is None else sorted(wards),
        settings.retention_hours,
    )
    response = JSONResponse(view.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
    response.set_cookie(
        web_session.COOKIE,
        cookie,
        max_age=web_session.MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get(PATH, response_model=WebSession, responses={404: {"model": Problem}})
async def current_session(request: Request, principal: Authenticated, settings: SettingsDep) -> Any:
    """The signed-in user and the CSRF token (only for a request that came with the session cookie)."""
    session = request.scope.get(SESSION_SCOPE_KEY)
    if not isinstance(session, web_session.Session):
        return _problem(request, 404, "no browser session: this request used a bearer token")
    wards = None if principal.wards is None else sorted(principal.wards)
    return _view(
        request, session, principal.role.value, sorted(principal.scopes), wards, settings.retention_hours
    )


@router.delete(PATH, status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(request: Request, _: Authenticated, r: RedisDep) -> Response:
    """End the session (its access token is refused from now on) and clear the cookie."""
    session = request.scope.get(SESSION_SCOPE_KEY)
    if isinstance(session, web_session.Session):
        await web_session.destroy(r, session)
    response = Response(status_code=status.HTTP_204_NO_CONTENT, headers={"Cache-Control": "no-store"})
    response.delete_cookie(web_session.COOKIE, path="/", httponly=True, samesite="strict")
    return response
