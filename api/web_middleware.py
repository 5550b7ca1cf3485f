"""Lets the signed-in browser call the /v1 API with its session cookie (pure ASGI).

API clients send ``Authorization: Bearer``; the ward pages cannot hold a token where a script could
read it, so they send the HttpOnly session cookie instead (api/web_session.py). For a /v1 request
with the cookie and no Authorization header this middleware:

- restarts the session's idle timer, or lets the request through unauthenticated (401 follows)
  when the session is gone;
- for a state-changing method, requires the session's CSRF token in ``X-CSRF-Token`` and, when the
  browser says where the request comes from (Origin / Sec-Fetch-Site), the same origin: 403 if not.
  SameSite=Strict already keeps the cookie off cross-site requests; this is the second lock;
- adds ``Authorization: Bearer <the session's access token>`` so the API's own authentication,
  scopes, ward grants, rate limits and audit apply unchanged;
- marks the response ``Cache-Control: no-store``: patient data must not stay in a browser cache.

It sits inside EdgeMiddleware (api/main.py), so even a refused request has an audit entry.
"""

from __future__ import annotations

import json
import logging
import time
from http.cookies import CookieError, SimpleCookie

from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import web_session
from api.schemas import problem_body
from api.security.authn import Authenticator

log = logging.getLogger(__name__)

SESSION_SCOPE_KEY = "oxiward.web_session"
#: Signing in needs no session (it makes one): the route checks the origin itself.
SIGN_IN = ("POST", "/v1/web/session")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PROBLEM = [(b"content-type", b"application/problem+json"), (b"cache-control", b"no-store")]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def cookie_value(scope: Scope) -> str | None:
    raw = header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(web_session.COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


def same_origin(scope: Scope) -> bool:
    """False when the browser says the request comes from another site (Origin / Sec-Fetch-Site)."""
    fetch_site = header(scope, b"sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = header(scope, b"origin")
    if origin is None:
        return True
    host = header(scope, b"host") or ""
    return origin == f"{scope.get('scheme', 'http')}://{host}"


def _csrf_passes(scope: Scope, session: web_session.Session) -> bool:
    if str(scope["method"]) in SAFE_METHODS:
        return True
    presented = header(scope, web_session.CSRF_HEADER.encode())
    return same_origin(scope) and web_session.csrf_ok(session, presented)


async def _refuse(send: Send, status: int, detail: str, path: str) -> None:
    body = problem_body(status, detail, path)
    await send({"type": "http.response.start", "status": status, "headers": list(_PROBLEM)})
    await send({"type": "http.response.body", "body": json.dumps(body).encode("utf-8")})


class WebSessionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] != "http"
            or not path.startswith("/v1/")
            or header(scope, b"authorization")
            or (scope["method"], path) == SIGN_IN
        ):
            await self.app(scope, receive, send)
            return
        presented = cookie_value(scope)
        if presented is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        authenticator: Authenticator = state.authenticator
        now = time.time()
        try:
            session = await web_session.load(state.redis, presented, now)
            if session is not None and not _csrf_passes(scope, session):
                await _refuse(send, 403, "missing or wrong CSRF token, or another site's request", path)
                return
            token = None
            if session is not None:
                token = await web_session.bearer(state.redis, session, authenticator.tokens, now)
        except (RedisError, OSError) as err:
            log.warning("session store unavailable: %s", type(err).__name__)
            await _refuse(send, 503, "the session store is unavailable; retry shortly", path)
            return
        if session is not None and token is not None:
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"authorization"]
            headers.append((b"authorization", b"Bearer " + token.encode("ascii")))
            # In place, not a copy: EdgeMiddleware reads the matched route from this same scope.
            scope["headers"] = headers
            scope[SESSION_SCOPE_KEY] = session

        async def no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, no_store)
