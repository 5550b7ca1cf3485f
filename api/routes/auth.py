"""Access tokens: ``POST /v1/auth/token`` (OAuth 2 password and client-credentials grants),
who am I, and revoking the token presented."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.auth import AuthError, Principal, scoped
from api.deps import RedisDep, SettingsDep
from api.schemas import problem_responses, status_title
from api.security import audit, principals, ratelimit
from api.security.authn import Authenticator
from api.security.principal import Kind, RateLimited
from api.security.roles import ROLE_SCOPES, Scope, format_scopes, parse_scopes
from api.security.schemas import TokenProblem, TokenRequest, TokenResponse, WhoAmI
from api.security.secrets import dummy_password_hash, parse_api_key, verify_password
from api.security.tokens import issue

#: The token endpoint takes no bearer (it is how one gets one), so it has its own router.
token_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])
Authenticated = Annotated[Principal, scoped(None)]

_FORM = "application/x-www-form-urlencoded"
_GRANTS = ("password", "client_credentials")
#: Inline: no route takes TokenRequest as its body model, so FastAPI would not list it in components.
_SCHEMA = TokenRequest.model_json_schema()
_EXAMPLES = {
    grant: {"summary": f"{grant} grant", "value": value}
    for value in _SCHEMA["examples"]
    for grant in [value["grant_type"]]
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def _oauth_problem(request: Request, err: _OAuthError) -> JSONResponse:
    body = TokenProblem.model_validate(
        {
            "title": status_title(err.status),
            "status": err.status,
            "detail": err.detail,
            "instance": request.url.path,
            "error": err.error,
        }
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        err.status,
        headers=_NO_STORE,
        media_type="application/problem+json",
    )


async def _parse(request: Request) -> TokenRequest:
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type == _FORM:
            data: Any = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw)))
        elif content_type == "application/json":
            data = json.loads(raw)
        else:
            raise _OAuthError(400, "invalid_request", f"send the request as {_FORM} or application/json")
    except (ValueError, UnicodeDecodeError):
        raise _OAuthError(400, "invalid_request", "the request body could not be parsed") from None
    if not isinstance(data, dict) or not data.get("grant_type"):
        raise _OAuthError(400, "invalid_request", "grant_type is required: password or client_credentials")
    if data["grant_type"] not in _GRANTS:
        raise _OAuthError(400, "unsupported_grant_type", "grant_type must be password or client_credentials")
    try:
        return TokenRequest.model_validate(data)
    except ValidationError as err:
        raise RequestValidationError(err.errors(include_url=False, include_input=False)) from None


def _basic_secret(request: Request) -> tuple[str | None, str | None]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise _OAuthError(401, "invalid_client", "the Basic credentials are malformed") from None
    return client_id or None, secret or None


def _scopes(role_scopes: frozenset[Scope], asked: str | None) -> frozenset[Scope]:
    if asked is None or not asked.strip():
        return role_scopes
    try:
        wanted = parse_scopes(asked)
    except ValueError as err:
        raise _OAuthError(400, "invalid_scope", str(err)) from None
    beyond = wanted - role_scopes
    if beyond:
        raise _OAuthError(400, "invalid_scope", f"the role does not hold {format_scopes(frozenset(beyond))}")
    return wanted


async def _principal_for(request: Request, body: TokenRequest, r: RedisDep) -> principals.PrincipalRecord:
    ctx = audit.context_of(request)
    if body.grant_type == "password":
        if not body.username or not body.password:
            raise _OAuthError(400, "invalid_request", "the password grant needs username and password")
        record = await principals.by_username(r, body.username.lower())
        if record is not None and ctx is not None:
            ctx.actor, ctx.role = record.principal_id, record.role.value
        stored = record.secret_hash if record is not None else dummy_password_hash()
        # scrypt takes a third of a second: off the event loop.
        ok = await asyncio.to_thread(verify_password, body.password, stored)
        if record is None or not ok or record.disabled or record.kind is not Kind.USER:
            raise _OAuthError(
                400, "invalid_grant", "the username or password is wrong, or the user is disabled"
            )
        return record
    basic_id, basic_secret = _basic_secret(request)
    secret = body.client_secret or basic_secret
    client_id = body.client_id or basic_id
    if not secret:
        raise _OAuthError(
            401, "invalid_client", "send the API key as client_secret (or as the Basic password)"
        )
    authenticator: Authenticator = request.app.state.authenticator
    try:
        record = await authenticator.api_key(r, secret)
    except AuthError as err:
        raise _OAuthError(401, "invalid_client", "the API key is not valid, disabled or revoked") from err
    if client_id is not None and client_id != record.principal_id:
        raise _OAuthError(401, "invalid_client", "client_id does not match the API key")
    if ctx is not None:
        ctx.actor, ctx.role = record.principal_id, record.role.value
    return record


async def _limit(request: Request, body: TokenRequest, r: RedisDep, settings: SettingsDep) -> None:
    """Per client address *and* account: slows guessing one account's password without letting
    a stranger lock a user out, or one proxy's address throttle everyone behind it."""
    client = request.client.host if request.client else "unknown"
    key = parse_api_key(body.client_secret or "")
    account = (body.username or "").lower() if key is None else key.key_id
    # Hashed: a password typed into the username field must not end up in a Redis key name.
    digest = hashlib.sha256(f"{client}\n{account}".encode()).hexdigest()[:24]
    limit = ratelimit.Limit(settings.auth_rate_limit_per_s, settings.auth_rate_limit_burst)
    wait = await ratelimit.take(r, f"auth:{digest}", limit)
    if wait:
        raise RateLimited(wait)


@token_router.post(
    "/v1/auth/token",
    response_model=TokenResponse,
    responses={
        400: {
            "model": TokenProblem,
            "content": {"application/problem+json": {}},
            "description": "RFC 6749 §5.2 error",
        },
        401: {
            "model": TokenProblem,
            "content": {"application/problem+json": {}},
            "description": "invalid_client",
        },
        **problem_responses(413, 422, 429),
    },
    openapi_extra={
        "security": [],
        "requestBody": {
            "required": True,
            "content": {
                _FORM: {"schema": _SCHEMA, "examples": _EXAMPLES},
                "application/json": {"schema": _SCHEMA, "examples": _EXAMPLES},
            },
        },
    },
)
async def issue_token(request: Request, response: Response, r: RedisDep, settings: SettingsDep) -> Any:
    """Exchange a user's password, or a system's API key, for an access token (no bearer needed).

    The token lives `expires_in` seconds (15 minutes at most); ask for a new one rather than
    refreshing. `scope` narrows the token to part of the role's scopes. Limited per client
    address and account (429 with `Retry-After`).
    """
    try:
        body = await _parse(request)
        await _limit(request, body, r, settings)
        record = await _principal_for(request, body, r)
        scopes = _scopes(ROLE_SCOPES[record.role], body.scope)
    except _OAuthError as err:
        return _oauth_problem(request, err)
    authenticator: Authenticator = request.app.state.authenticator
    token, claims = issue(authenticator.tokens, record.principal_id, scopes, time.time())
    response.headers.update(_NO_STORE)
    return TokenResponse(
        access_token=token, expires_in=int(claims.expires_at - claims.issued_at), scope=format_scopes(scopes)
    )


@router.get("/auth/me", response_model=WhoAmI)
async def who_am_i(principal: Authenticated) -> WhoAmI:
    """The caller as the API sees it: role, scopes and granted wards (any valid credential)."""
    expires = (
        None if principal.token_expires is None else datetime.fromtimestamp(principal.token_expires, UTC)
    )
    return WhoAmI(
        principal_id=principal.subject,
        kind=principal.kind,
        role=principal.role,
        scopes=sorted(principal.scopes),
        wards=None if principal.wards is None else sorted(principal.wards),
        token_expires_at=expires,
    )


@router.post("/auth/revoke", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(400))
async def revoke_token(principal: Authenticated, r: RedisDep) -> Response:
    """Revoke the access token presented (log out). API keys are revoked by an administrator."""
    if principal.token_id is None or principal.token_expires is None:
        raise HTTPException(400, "only access tokens can be revoked here; an administrator revokes API keys")
    await principals.deny_token(r, principal.token_id, principal.token_expires, time.time())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
