"""Browser sign-in sessions, kept server-side in Redis (the ward pages, api/web/).

A clinician signs in with the username and password an administrator gave them (api/security/).
The browser then holds only an opaque session id in an HttpOnly, SameSite=Strict cookie (Secure
over https); the session hash in Redis holds who it is, a CSRF token, and a short-lived access
token (a JWT from api/security/tokens.py) that api/web_middleware.py presents on the browser's
behalf. Nothing a script in the page can read ever authenticates a request on its own.

- The key is the SHA-256 of the cookie value: a copy of Redis does not yield live cookies.
- Idle sessions expire (``IDLE_S``, refreshed on every request); every session ends after
  ``MAX_AGE_S`` whatever happens, and the user signs in again.
- Each access token is minted from the principal's *current* record: a user disabled, deleted, or
  whose tokens an administrator revoked (``not_before`` after the sign-in) loses the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from api import keys
from api.registry import text
from api.security import principals
from api.security.principal import Kind
from api.security.principals import PrincipalRecord
from api.security.roles import ROLE_SCOPES
from api.security.tokens import TokenConfig, issue

COOKIE = "oxiward_session"
CSRF_HEADER = "x-csrf-token"
#: A ward screen left alone this long signs out. The open page keeps its session alive (its live
#: stream reconnects at least every few minutes), so this only ends abandoned sessions.
IDLE_S = 30 * 60
#: One shift (12 h) at most: then the user proves again who they are.
MAX_AGE_S = 12 * 3600
#: A cached access token is replaced this long before it expires, so none expires mid-request.
RENEW_BEFORE_S = 60


@dataclass(frozen=True, slots=True)
class Session:
    digest: str
    principal_id: str
    username: str
    csrf: str
    created: float
    token: str
    token_id: str
    token_expires: float


def digest_of(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode("utf-8")).hexdigest()


def _session(digest: str, raw: dict[Any, Any]) -> Session | None:
    f = {text(k): text(v) for k, v in raw.items()}
    try:
        return Session(
            digest=digest,
            principal_id=f["principal"],
            username=f["username"],
            csrf=f["csrf"],
            created=float(f["created"]),
            token=f.get("token", ""),
            token_id=f.get("token_id", ""),
            token_expires=float(f.get("token_expires") or 0),
        )
    except (KeyError, ValueError):
        return None


async def create(r: Redis, record: PrincipalRecord, now: float) -> tuple[str, Session]:
    """A new session for a signed-in user: (cookie value, session)."""
    cookie_value = secrets.token_urlsafe(32)  # 256 bits: not guessable
    digest = digest_of(cookie_value)
    fields = {
        "principal": record.principal_id,
        "username": record.name,
        "csrf": secrets.token_urlsafe(32),
        "created": f"{now:.3f}",
    }
    mapping: dict[Any, Any] = dict(fields)
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(keys.web_session(digest), mapping=mapping)
        pipe.expire(keys.web_session(digest), IDLE_S)
        await pipe.execute()
    session = _session(digest, fields)
    assert session is not None
    return cookie_value, session


async def load(r: Redis, cookie_value: str, now: float) -> Session | None:
    """The live session the cookie names (its idle timer restarted), or None."""
    digest = digest_of(cookie_value)
    async with r.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.web_session(digest))
        pipe.expire(keys.web_session(digest), IDLE_S)  # no-op when the key is gone
        raw, _ = await pipe.execute()
    session = _session(digest, raw) if raw else None
    if session is None:
        return None
    if now - session.created > MAX_AGE_S:
        await destroy(r, session, now)
        return None
    return session


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), session.csrf.encode())


async def bearer(r: Redis, session: Session, config: TokenConfig, now: float) -> str | None:
    """An access token for the session's user, minted afresh when the cached one is near expiry.

    None (and the session is ended) when the user may no longer sign in.
    """
    if session.token and session.token_expires - now > RENEW_BEFORE_S:
        return session.token
    record = await principals.get(r, session.principal_id)
    revoked = record is not None and record.not_before is not None and record.not_before > session.created
    if record is None or record.disabled or record.kind is not Kind.USER or revoked:
        await destroy(r, session, now)
        return None
    token, claims = issue(config, record.principal_id, ROLE_SCOPES[record.role], now)
    fields: dict[Any, Any] = {
        "token": token,
        "token_id": claims.token_id,
        "token_expires": f"{claims.expires_at:.3f}",
    }
    # HSET only on a session that still exists: a concurrent sign-out must not be undone.
    await r.eval(_SET_IF_EXISTS, 1, keys.web_session(session.digest), *_flat(fields))
    return token


_SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


def _flat(fields: dict[Any, Any]) -> list[Any]:
    return [item for pair in fields.items() for item in pair]


async def destroy(r: Redis, session: Session, now: float | None = None) -> None:
    """End the session and refuse its access token from now on."""
    await r.delete(keys.web_session(session.digest))
    if session.token_id:
        moment = time.time() if now is None else now
        await principals.deny_token(r, session.token_id, session.token_expires, moment)
