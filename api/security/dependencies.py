"""FastAPI dependencies: authenticate the caller, check the route's scope and the resource's ward.

Each /v1 route uses exactly one scope-carrying dependency (``scoped``, ``patient_access`` or
``ward_access``); FastAPI turns it into the operation's OpenAPI ``security`` requirement, so
every endpoint states its scope. The /v1 router also depends on ``authenticate`` directly, a
safety net for a route that forgets its scope. Authentication runs once per request (the result
is kept in the request scope) and spends one token of the principal's rate-limit bucket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.security import OAuth2, SecurityScopes
from redis.asyncio import Redis

from api import registry
from api.registry import PatientRecord
from api.schemas import ID_PATTERN
from api.security import audit, ratelimit
from api.security.authn import Authenticator
from api.security.principal import AuthError, Principal, RateLimited, missing_scope, ward_denied
from api.security.roles import SCOPE_DESCRIPTIONS, Scope
from api.settings import ApiSettings

TOKEN_URL = "/v1/auth/token"  # noqa: S105 - a path, not a password
_PRINCIPAL_KEY = "oxiward.principal"

oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes=SCOPE_DESCRIPTIONS),
        password=OAuthFlowPassword(tokenUrl=TOKEN_URL, scopes=SCOPE_DESCRIPTIONS),
    ),
    scheme_name="OAuth2",
    description=(
        "`Authorization: Bearer <token>` where the token is an access token from `POST /v1/auth/token`, "
        "an API key (`oxw_…`), or a bootstrap token from OXIWARD_API_API_TOKENS (administrator)."
    ),
    auto_error=False,
)


def principal_can_see_ward(principal: Principal, ward_id: str) -> bool:
    return principal.sees_ward(ward_id)


def principal_can_see_patient(principal: Principal, record: PatientRecord) -> bool:
    return principal.sees_ward(record.ward_id)


async def require_patient_access(r: Redis, principal: Principal, patient_id: str) -> PatientRecord:
    """The patient's record: 404 if not enrolled, 403 if on a ward the principal is not granted."""
    record = await registry.require_patient(r, patient_id)
    if not principal_can_see_patient(principal, record):
        raise ward_denied()
    return record


def request_principal(request: Request) -> Principal | None:
    """The principal this request authenticated as, once it has (None before, or if it did not)."""
    cached = request.scope.get(_PRINCIPAL_KEY)
    return cached if isinstance(cached, Principal) else None


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        # RFC 6750 §3.1: a request without credentials gets no error code.
        raise AuthError(401, "send `Authorization: Bearer <token>`", "")
    return credential.strip()


async def authenticate(request: Request) -> Principal:
    """The caller's principal, or 401; 429 when its rate limit is spent."""
    cached = request_principal(request)
    if cached is not None:
        return cached
    state = request.app.state
    authenticator: Authenticator = state.authenticator
    settings: ApiSettings = state.settings
    r: Redis = state.redis
    principal = await authenticator.authenticate(r, _bearer(request))
    ctx = audit.context_of(request)
    if ctx is not None:
        ctx.actor, ctx.role = principal.subject, principal.role.value
    request.scope[_PRINCIPAL_KEY] = principal
    wait = await ratelimit.take(
        r, principal.subject, ratelimit.Limit(settings.rate_limit_per_s, settings.rate_limit_burst)
    )
    if wait:
        raise RateLimited(wait)
    return principal


def authorize(
    security_scopes: SecurityScopes,
    principal: Annotated[Principal, Depends(authenticate)],
    _documented: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    for scope in security_scopes.scopes:
        if scope not in principal.scopes:
            raise missing_scope(Scope(scope))
    return principal


def scoped(scope: Scope | None) -> Any:
    """``Annotated[Principal, scoped(Scope.X)]``: authenticated and holding ``scope``.

    ``scoped(None)``: any authenticated principal (only for endpoints about the caller itself).
    """
    return Security(authorize, scopes=[] if scope is None else [scope.value])


def patient_access(scope: Scope) -> Callable[..., Awaitable[PatientRecord]]:
    """Dependency on the path parameter ``patient_id``: the record, if the caller may act on it."""
    guard = scoped(scope)

    async def dependency(
        request: Request,
        patient_id: Annotated[str, Path(pattern=ID_PATTERN, examples=["p-7f3a9c2e41d8"])],
        # A default, not Annotated: annotations are strings here and cannot see `guard`.
        principal: Principal = guard,
    ) -> PatientRecord:
        record = await registry.require_patient(request.app.state.redis, patient_id)
        # Noted before the ward check: a refused attempt on a patient belongs in the audit too.
        audit.note_access(request, patient_id=record.patient_id, ward_id=record.ward_id)
        if not principal_can_see_patient(principal, record):
            raise ward_denied()
        return record

    return dependency


def ward_access(scope: Scope) -> Callable[..., Awaitable[str]]:
    """Dependency on the path parameter ``ward_id``: the ward id, if the caller is granted it."""
    guard = scoped(scope)

    async def dependency(
        request: Request,
        ward_id: Annotated[str, Path(pattern=ID_PATTERN, examples=["north-1"])],
        principal: Principal = guard,
    ) -> str:
        if not principal_can_see_ward(principal, ward_id):
            raise ward_denied()
        audit.note_access(request, ward_id=ward_id)
        return ward_id

    return dependency
