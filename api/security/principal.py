"""Who is calling: the principal a credential resolves to, and the errors of authentication."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from api.security.roles import ALL_WARD_ROLES, Role, Scope

REALM = "oxiward"


class Kind(StrEnum):
    USER = "user"  # a person, password grant
    API_KEY = "api-key"  # a system, long-lived key (client-credentials grant, or sent as the bearer)
    BOOTSTRAP = "bootstrap"  # a token from OXIWARD_API_API_TOKENS: administrator


@dataclass(frozen=True, slots=True)
class Principal:
    #: The principal id (`u-…`, `k-…`, or `bootstrap:<fingerprint>`): never a credential.
    subject: str
    role: Role
    scopes: frozenset[Scope]
    #: Wards granted; None means every ward (administrators).
    wards: frozenset[str] | None
    kind: Kind = Kind.BOOTSTRAP
    #: The JWT id when the request carried a JWT (for revocation of that token).
    token_id: str | None = None
    #: Expiry of that JWT, seconds since the epoch.
    token_expires: float | None = None
    #: A `gateway` API key's own gateway: the only one it may submit readings for (as the gateway's
    #: MQTT username is for the broker's ACL). None: no gateway.
    gateway_id: str | None = None

    def sees_ward(self, ward_id: str) -> bool:
        return self.wards is None or ward_id in self.wards


def effective_wards(role: Role, granted: frozenset[str]) -> frozenset[str] | None:
    return None if role in ALL_WARD_ROLES else granted


class AuthError(Exception):
    """A request without valid credentials (401), or not allowed to do this (403)."""

    def __init__(self, status: int, detail: str, error: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error = error  # RFC 6750 §3.1 error code, for WWW-Authenticate

    @property
    def www_authenticate(self) -> str:
        if not self.error:
            return f'Bearer realm="{REALM}"'
        return f'Bearer realm="{REALM}", error="{self.error}"'


def unauthenticated(detail: str = "the bearer token is not valid") -> AuthError:
    return AuthError(401, detail, "invalid_token")


def missing_scope(scope: Scope) -> AuthError:
    return AuthError(403, f"this token lacks the scope `{scope}`", "insufficient_scope")


def ward_denied() -> AuthError:
    # Never names the ward the patient is on: that would itself leak where they are.
    return AuthError(403, "you are not granted the ward of this resource", "insufficient_scope")


class RateLimited(Exception):
    """The principal spent its request budget (429); retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after
