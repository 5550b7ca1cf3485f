"""The edge of every request (pure ASGI): request id, body size limit, audit, access log, latency.

- ``X-Request-ID``: taken from the request when it is a sane token, else generated; echoed on the
  response, set in the logging context (api/logs.py) and written to the audit entry.
- Bodies larger than ``max_body_bytes`` get 413: at once when Content-Length says so, or as soon
  as a streamed body passes the limit.
- Every /v1 and /fhir request gets one audit entry (api/security/audit.py), written *before* the response
  starts; if it cannot be written the caller gets 503 instead of data nobody could account for.
- One access-log line and one latency observation per request, by route *template*
  (``/v1/patients/{patient_id}``), never the raw path, which carries patient ids.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.fhir.errors import FHIR_JSON, is_fhir_path, outcome_for
from api.logs import request_id_var
from api.metrics import HttpMetrics
from api.schemas import problem_body
from api.security import audit

log = logging.getLogger("api.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Path prefixes whose every request is audited: the API and the FHIR API (both authenticated).
AUDITED = ("/v1/", "/fhir/")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _problem(status: int, detail: str, path: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of an error answered here: problem details, an OperationOutcome under /fhir."""
    if is_fhir_path(path):
        body: dict[str, Any] = outcome_for(status, detail)
        kind = FHIR_JSON
    else:
        body = problem_body(status, detail, path)
        kind = "application/problem+json"
    return [(b"content-type", kind.encode("ascii"))], json.dumps(body).encode("utf-8")


def route_template(scope: Scope) -> str:
    """The matched route's template, e.g. ``/v1/patients/{patient_id}``, or ``<unrouted>``.

    Rebuilt from the path and the path parameters (each segment equal to a parameter's value
    becomes ``{name}``), which works however routers are nested.
    """
    if scope.get("route") is None:
        return "<unrouted>"
    by_value = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    segments = str(scope["path"]).split("/")
    return "/".join("{" + by_value[seg] + "}" if seg in by_value else seg for seg in segments)


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: HttpMetrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given is not None and _REQUEST_ID.match(given) else uuid.uuid4().hex
        reset = request_id_var.set(request_id)
        try:
            await self._handle(scope, receive, send, request_id)
        finally:
            request_id_var.reset(reset)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        ctx: audit.AuditContext | None = None
        if path.startswith(AUDITED):
            client = scope.get("client")
            ctx = audit.AuditContext(request_id, client=str(client[0]) if client else "")
            scope[audit.SCOPE_KEY] = ctx
        state: dict[str, Any] = {"status": 500, "replaced": False, "started": False}
        limit = self.max_body_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"the request body is larger than {limit} bytes")
            return message

        async def edge_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                status = int(message["status"])
                if ctx is not None and not await self._audit(scope, ctx, status):
                    status, state["replaced"] = 503, True
                    headers, body = _problem(503, "the audit log is unavailable; retry shortly", path)
                    message = {"type": "http.response.start", "status": 503, "headers": headers}
                    await send(self._with_id(message, request_id))
                    await send({"type": "http.response.body", "body": body})
                    state["status"] = status
                    return
                state["status"] = status
                message = self._with_id(message, request_id)
            elif state["replaced"]:
                return
            await send(message)

        try:
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await self._too_large(scope, edge_send, path, limit)
            else:
                await self.app(scope, limited_receive, edge_send)
        except Exception:
            if ctx is not None and not state["started"]:
                await self._audit(scope, ctx, 500)
            raise
        finally:
            self._log(scope, ctx, int(state["status"]), time.perf_counter() - started)

    @staticmethod
    def _with_id(message: Message, request_id: str) -> Message:
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
        headers.append((b"x-request-id", request_id.encode("ascii")))
        return {**message, "headers": headers}

    @staticmethod
    async def _too_large(scope: Scope, send: Send, path: str, limit: int) -> None:
        headers, body = _problem(413, f"the request body is larger than {limit} bytes", path)
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _audit(scope: Scope, ctx: audit.AuditContext, status: int) -> bool:
        params = scope.get("path_params") or {}
        fields = audit.entry(ctx, str(scope["method"]), route_template(scope), status, params)
        try:
            await audit.append(scope["app"].state.redis, fields)
        except (RedisError, OSError) as err:
            log.error("audit entry not written: %s", type(err).__name__)
            return False
        return True

    def _log(self, scope: Scope, ctx: audit.AuditContext | None, status: int, seconds: float) -> None:
        method, route = str(scope["method"]), route_template(scope)
        self.metrics.observe(method, route, status, seconds)
        log.info(
            "%s %s %d %.1fms",
            method,
            route,
            status,
            seconds * 1e3,
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1e3, 2),
                "principal": None if ctx is None else ctx.actor,
            },
        )
