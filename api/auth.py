"""Bearer-token authentication for the REST API.

Today every caller presents one of the static tokens in ``OXIWARD_API_API_TOKENS`` and gets
every scope. The shape is the one OAuth/JWT will need later: a token is turned into a
:class:`Principal` carrying scopes, and each route states the scope it needs with
:func:`requires`. Tokens are never logged; a principal is named by a short fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

REALM = "oxiward"


class Scope(StrEnum):
    READ = "ward:read"  # patients, readings, queue, alerts
    WRITE = "ward:write"  # enrol patients, assign devices
    ALERTS = "alerts:write"  # acknowledge / resolve alerts


ALL_SCOPES = frozenset(Scope)


@dataclass(frozen=True, slots=True)
class Principal:
    #: A fingerprint of the credential (never the credential itself), for audit trails.
    subject: str
    scopes: frozenset[Scope]


class AuthError(Exception):
    """A request without valid credentials (401) or without the scope it needs (403)."""

    def __init__(self, status: int, detail: str, error: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error = error  # RFC 6750 error code for WWW-Authenticate

    @property
    def www_authenticate(self) -> str:
        return f'Bearer realm="{REALM}", error="{self.error}"'


def fingerprint(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]


class StaticTokenAuthenticator:
    """Accepts any of a fixed set of tokens, compared in constant time."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._tokens = [(t.encode("utf-8"), Principal(fingerprint(t), ALL_SCOPES)) for t in tokens]
        if not self._tokens:
            raise ValueError("at least one API token is required")

    def authenticate(self, presented: str) -> Principal | None:
        candidate = presented.encode("utf-8")
        found: Principal | None = None
        # Compare against every token without stopping early, so timing says nothing about
        # which token (or how much of one) matched.
        for token, principal in self._tokens:
            if hmac.compare_digest(candidate, token):
                found = principal
        return found


# auto_error=False: we raise our own 401 with a problem-details body and WWW-Authenticate.
bearer_scheme = HTTPBearer(auto_error=False, description="One of the tokens in OXIWARD_API_API_TOKENS.")


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """FastAPI dependency: the caller's principal, or a 401."""
    if credentials is None:
        raise AuthError(401, "send `Authorization: Bearer <token>`", "invalid_request")
    authenticator: StaticTokenAuthenticator = request.app.state.authenticator
    principal = authenticator.authenticate(credentials.credentials)
    if principal is None:
        raise AuthError(401, "the bearer token is not valid", "invalid_token")
    return principal


def requires(scope: Scope) -> Callable[[Principal], Principal]:
    """Dependency factory: the authenticated principal, or a 403 when it lacks ``scope``."""

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if scope not in principal.scopes:
            raise AuthError(403, f"this token lacks the scope `{scope}`", "insufficient_scope")
        return principal

    return check
