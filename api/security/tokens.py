"""Short-lived access tokens: JWTs signed with HS256 (RFC 7519, claims as in RFC 9068).

The only module that imports PyJWT. A token carries who (``sub``), what (``scope``), its id
(``jti``, for the deny-list) and when (``iat`` with millisecond precision, so a per-principal
"not before" set by a revocation separates tokens issued in the same second). Roles and ward
grants are *not* in the token: they are read from Redis on every request, so removing a grant
takes effect at once rather than when the token expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from api.security.roles import Scope, format_scopes, parse_scopes

ALGORITHM = "HS256"
#: Clock difference tolerated between API processes for exp / nbf / iat.
LEEWAY_S = 10
_REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "scope"]


class InvalidToken(ValueError):
    """Not a token this service issued, or expired; the message is safe to show the caller."""


@dataclass(frozen=True, slots=True)
class TokenConfig:
    key: bytes
    issuer: str
    audience: str
    ttl_s: int


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    scopes: frozenset[Scope]
    token_id: str
    issued_at: float
    expires_at: float


def derive_key(bootstrap_tokens: frozenset[str]) -> bytes:
    """A signing key for deployments that set no OXIWARD_API_JWT_SECRET.

    Derived (HMAC-SHA256) from the bootstrap tokens, so every process given the same
    configuration agrees on it; it changes when the tokens change (which ends every JWT: they
    live 15 minutes anyway). Setting OXIWARD_API_JWT_SECRET is better (docs/api.md).
    """
    material = "\n".join(sorted(bootstrap_tokens)).encode("utf-8")
    return hmac.new(material, b"oxiward jwt signing key v1", hashlib.sha256).digest()


def issue(config: TokenConfig, subject: str, scopes: frozenset[Scope], now: float) -> tuple[str, Claims]:
    issued_at = round(now, 3)
    claims = Claims(subject, scopes, secrets.token_hex(16), issued_at, int(now) + config.ttl_s)
    payload: dict[str, Any] = {
        "iss": config.issuer,
        "aud": config.audience,
        "sub": subject,
        "iat": issued_at,
        "nbf": int(now),
        "exp": int(claims.expires_at),
        "jti": claims.token_id,
        "scope": format_scopes(scopes),
    }
    token = jwt.encode(payload, config.key, algorithm=ALGORITHM, headers={"typ": "at+jwt"})
    return token, claims


def looks_like_jwt(presented: str) -> bool:
    return presented.count(".") == 2


def verify(config: TokenConfig, token: str) -> Claims:
    """The token's claims if its signature, issuer, audience and lifetime are valid."""
    try:
        payload = jwt.decode(
            token,
            config.key,
            algorithms=[ALGORITHM],  # never taken from the token: no "none", no key confusion
            audience=config.audience,
            issuer=config.issuer,
            leeway=LEEWAY_S,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired; request a new one") from None
    except jwt.PyJWTError:
        raise InvalidToken("the bearer token is not valid") from None
    try:
        scopes = parse_scopes(str(payload["scope"]))
        return Claims(
            subject=str(payload["sub"]),
            scopes=scopes,
            token_id=str(payload["jti"]),
            issued_at=float(payload["iat"]),
            expires_at=float(payload["exp"]),
        )
    except (ValueError, TypeError):
        raise InvalidToken("the bearer token is not valid") from None
