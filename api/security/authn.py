"""Turns a bearer credential into a Principal: a bootstrap token, an API key, or a JWT.

- Bootstrap tokens (OXIWARD_API_API_TOKENS) are administrators: every scope, every ward. They
  exist so a fresh deployment (and the demo) can create its first users and keys.
- API keys (``oxw_<id>_<secret>``) may be sent as the bearer directly, or exchanged for a JWT.
- JWTs are checked for signature, issuer, audience and lifetime, then against Redis: the
  principal must still exist and be enabled, the token id must not be on the deny-list and the
  token must be newer than the principal's "not before". Scopes are those of the token *and*
  of the principal's current role; wards are the principal's current grants.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from redis.asyncio import Redis

from api.security import principals
from api.security.principal import Kind, Principal, effective_wards, unauthenticated
from api.security.principals import PrincipalRecord
from api.security.roles import ROLE_SCOPES, Role, Scope
from api.security.secrets import api_secret_matches, looks_like_api_key, parse_api_key
from api.security.tokens import Claims, InvalidToken, TokenConfig, looks_like_jwt, verify

_REVOKED = "the access token has been revoked; request a new one"


def fingerprint(token: str) -> str:
    """A short, non-reversible name for a bootstrap token (for logs and the audit trail)."""
    return "bootstrap:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:12]


def bootstrap_principal(token: str) -> Principal:
    return Principal(fingerprint(token), Role.ADMINISTRATOR, frozenset(Scope), None, Kind.BOOTSTRAP)


def principal_of(
    record: PrincipalRecord, scopes: Iterable[Scope] | None = None, claims: Claims | None = None
) -> Principal:
    role_scopes = ROLE_SCOPES[record.role]
    granted = role_scopes if scopes is None else role_scopes & frozenset(scopes)
    return Principal(
        subject=record.principal_id,
        role=record.role,
        scopes=granted,
        wards=effective_wards(record.role, record.wards),
        kind=record.kind,
        token_id=None if claims is None else claims.token_id,
        token_expires=None if claims is None else claims.expires_at,
        gateway_id=record.gateway_id,
    )


class Authenticator:
    def __init__(self, bootstrap_tokens: Iterable[str], tokens: TokenConfig) -> None:
        self._bootstrap = [t.encode("utf-8") for t in bootstrap_tokens]
        if not self._bootstrap:
            raise ValueError("at least one bootstrap API token is required")
        self.tokens = tokens

    def bootstrap(self, presented: str) -> Principal | None:
        candidate = presented.encode("utf-8")
        found = False
        # Compare against every token without stopping early, so timing says nothing about
        # which token (or how much of one) matched.
        for token in self._bootstrap:
            found |= hmac.compare_digest(candidate, token)
        return bootstrap_principal(presented) if found else None

    async def api_key(self, r: Redis, presented: str) -> PrincipalRecord:
        """The key's principal record, or a 401 (unknown, wrong secret, disabled)."""
        key = parse_api_key(presented)
        if key is None:
            raise unauthenticated("the API key is malformed")
        record = await principals.get(r, "k-" + key.key_id)
        if (
            record is None
            or record.kind is not Kind.API_KEY
            or not api_secret_matches(key.secret, record.secret_hash)
        ):
            raise unauthenticated("the API key is not valid or has been revoked")
        if record.disabled:
            raise unauthenticated("the API key is disabled")
        return record

    async def jwt(self, r: Redis, presented: str) -> Principal:
        try:
            claims = verify(self.tokens, presented)
        except InvalidToken as err:
            raise unauthenticated(str(err)) from None
        record, denied = await principals.for_request(r, claims.subject, claims.token_id)
        if record is None or record.disabled:
            raise unauthenticated("the token's user or API key no longer exists or is disabled")
        if denied or (record.not_before is not None and claims.issued_at < record.not_before):
            raise unauthenticated(_REVOKED)
        return principal_of(record, claims.scopes, claims)

    async def authenticate(self, r: Redis, presented: str) -> Principal:
        found = self.bootstrap(presented)
        if found is not None:
            return found
        if looks_like_api_key(presented):
            return principal_of(await self.api_key(r, presented))
        if looks_like_jwt(presented):
            return await self.jwt(r, presented)
        raise unauthenticated()
